"""The ``config_text_format`` patch: mmengine's config text is laid out by black, once per
distinct text, and reads back as the same config."""
import mmengine.config.config as mm_config
from mmengine.config import Config

from intern_mm.utils.compat import ConfigTextFormatter, applied_patches

LONG = '/a/very/long/path/' * 6


def test_config_text_is_black_once_per_text_and_reads_back(monkeypatch, tmp_path):
    assert 'config_text_format' in applied_patches()
    patched = mm_config.FormatCode
    assert isinstance(patched, ConfigTextFormatter)
    calls = []

    def counting_yapf(source, style_config=None, **kwargs):
        calls.append(source)
        return patched.fallback(source, style_config=style_config, **kwargs)

    # a fresh formatter (memo of 2), as the patch installs it, over a counting yapf
    fmt = ConfigTextFormatter(counting_yapf, maxsize=2)
    monkeypatch.setattr(mm_config, 'FormatCode', fmt)
    cfg = Config(dict(model=dict(type='MetaNet', arch='tiny', out_indices=(0, 1, 2, 3)),
                      data_root=LONG, lr=0.01))
    text = cfg.pretty_text
    # black's layout: short entries on one line, mmengine's quotes, no yapf call
    assert "model = dict(arch='tiny', out_indices=(0, 1, 2, 3), type='MetaNet')" in text
    assert calls == [] and len(fmt._cache) == 1
    assert cfg.pretty_text == text and len(fmt._cache) == 1  # a checkpoint save: memo
    # the text is the same config
    (tmp_path / 'cfg.py').write_text(text)
    assert Config.fromfile(str(tmp_path / 'cfg.py')).to_dict() == cfg.to_dict()
    # the oldest of more than `maxsize` texts is dropped
    assert 'lr = 0.02' in Config(dict(lr=0.02)).pretty_text
    Config(dict(lr=0.03)).pretty_text
    assert len(fmt._cache) == 2 and not any(LONG in key for key in fmt._cache)


def test_text_black_cannot_parse_goes_to_yapf():
    calls = []

    def yapf(source, style_config=None, **kwargs):
        calls.append(style_config)
        return 'yapf', True

    fmt = ConfigTextFormatter(yapf)
    assert fmt('a = (\n', style_config={'based_on_style': 'pep8'}) == ('yapf', True)
    assert calls == [{'based_on_style': 'pep8'}]
    assert fmt('a=1\n') == ('a = 1\n', True)
