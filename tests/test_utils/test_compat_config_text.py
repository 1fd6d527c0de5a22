"""The ``config_text_cache`` patch: mmengine's config text is formatted by yapf once per
distinct text, and the result is the one yapf gives."""
import mmengine.config.config as mm_config
from mmengine.config import Config

from intern_mm.utils.compat import _MemoisedFormatCode, applied_patches


def test_config_text_formatted_once_per_text_with_yapf_result(monkeypatch):
    assert 'config_text_cache' in applied_patches()
    patched = mm_config.FormatCode
    assert isinstance(patched, _MemoisedFormatCode)
    calls = []

    def counting(source, style_config=None, **kwargs):
        calls.append(source)
        return patched.wrapped(source, style_config=style_config, **kwargs)

    # a fresh memo over a counting yapf, as the patch installs it
    monkeypatch.setattr(mm_config, 'FormatCode', _MemoisedFormatCode(counting, maxsize=2))
    cfg = Config(dict(model=dict(type='MetaNet', arch='tiny', out_indices=(0, 1, 2, 3)),
                      data_root='/a/very/long/path/' * 4, lr=0.01))
    text = cfg.pretty_text
    assert cfg.pretty_text == text and len(calls) == 1  # a checkpoint save: no new call
    # the memoised text is yapf's own
    style = dict(based_on_style='pep8', blank_line_before_nested_class_or_def=True,
                 split_before_expression_after_opening_paren=True)
    assert text == patched.wrapped(calls[0], style_config=style)[0]
    # another text is formatted; the oldest of more than `maxsize` is dropped
    other = Config(dict(lr=0.02)).pretty_text
    assert 'lr = 0.02' in other and len(calls) == 2
    Config(dict(lr=0.03)).pretty_text
    cfg.pretty_text
    assert len(calls) == 4
