"""One clear message for errors in the command-line tools; the traceback behind --debug."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from intern_mm.apis.cli import format_error, run_cli
from intern_mm.apis.runs import sync_bn_to_bn_without_cuda

REPO = Path(__file__).resolve().parents[2]


def _boom(argv):
    raise FileNotFoundError(f'config file {argv[0]} does not exist')


def test_run_cli_prints_one_line_and_saves_the_traceback(capsys):
    assert run_cli(_boom, ['x.py'], prog='tool.py') == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith('tool.py: error: FileNotFoundError: config file x.py does not '
                          'exist [traceback: ')
    saved = err.split('[traceback: ')[1].split(';')[0]
    assert 'Traceback' in Path(saved).read_text() and '_boom' in Path(saved).read_text()
    Path(saved).unlink()
    with pytest.raises(FileNotFoundError):
        run_cli(_boom, ['x.py', '--debug'], prog='tool.py')
    assert run_cli(lambda argv: None, []) == 0
    assert run_cli(lambda argv: 3, []) == 3


def test_run_cli_destroys_the_process_group_main_started(tmp_path):
    import torch.distributed as dist

    def main(argv):
        dist.init_process_group('gloo', init_method=f'file://{tmp_path / "init"}', rank=0,
                                world_size=1)
        if argv:
            raise RuntimeError('failed after init')

    # left to interpreter shutdown, gloo's threads may abort a finished run (SIGABRT)
    assert run_cli(main, [], prog='train.py') == 0
    assert not dist.is_initialized()
    assert run_cli(main, ['x'], prog='train.py') == 1
    assert not dist.is_initialized()
    # a group that existed before run_cli is the caller's to destroy
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "outer"}', rank=0,
                            world_size=1)
    try:
        assert run_cli(lambda argv: None, [], prog='train.py') == 0
        assert dist.is_initialized()
    finally:
        dist.destroy_process_group()


def test_format_error_unquotes_key_errors():
    assert format_error(KeyError('a.b is missing')) == 'KeyError: a.b is missing'
    assert format_error(ValueError()) == 'ValueError'


def _tool(rel: str):
    spec = importlib.util.spec_from_file_location(Path(rel).stem + '_tool', REPO / rel)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CIFAR = str(REPO / 'configs/metanet/metanet-b4_1xb64-10k_cifar10.py')


@pytest.mark.parametrize('tool, args, error, expected', [
    ('tools/train.py', ['missing.py'], FileNotFoundError,
     'train.py: error: FileNotFoundError: config file missing.py does not exist'),
    ('tools/train.py', [CIFAR, '--cfg-options', 'train_cfg.max_iterz=1'], KeyError,
     'train.py: error: UnknownConfigKeyError: --cfg-options key "train_cfg.max_iterz" does '
     'not exist'),
    ('tools/test.py', [CIFAR, 'nope.pth'], FileNotFoundError,
     'test.py: error: FileNotFoundError: checkpoint file nope.pth does not exist'),
])
def test_tools_print_one_line(tool, args, error, expected, capsys):
    main = _tool(tool).main
    assert run_cli(main, args, prog=Path(tool).name) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith(expected), err
    with pytest.raises(error):
        run_cli(main, args + ['--debug'], prog=Path(tool).name)


ENTRY_POINTS = [
    (['tools/train.py', 'missing.py'],
     'train.py: error: FileNotFoundError: config file missing.py does not exist'),
    (['tools/gvb.py', 'run', '--backbone', 'missing.py', '--tasks', 'cifar10'],
     'gvb.py: error: FileNotFoundError: backbone config missing.py does not exist'),
    (['tools/train_paradigm.py', 'missing.py'],
     'train_paradigm.py: error: FileNotFoundError: pipeline config missing.py does not '
     'exist'),
]

# Runs each tool's ``__main__`` block (``runpy``, as ``python tools/<tool>.py`` does) in one
# interpreter: the exit status, the stderr text, and whether an exception escaped.
_DRIVER = r"""
import contextlib, io, json, runpy, sys
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    sys.argv = list(argv)
    with contextlib.redirect_stderr(err):
        try:
            runpy.run_path(argv[0], run_name='__main__')
            code = 0
        except SystemExit as exc:
            code = exc.code
        except BaseException as exc:
            code = 'raised ' + type(exc).__name__
    results.append(dict(code=code, stderr=err.getvalue()))
print(json.dumps(results))
"""


def test_tool_entry_points_print_one_line(tmp_path):
    """The same through the tools' ``__main__`` wiring: one line and status 1; with
    ``--debug`` the exception escapes (Python prints its traceback). One fresh process
    (``python tools/train_paradigm.py``) shows that nothing else reaches stderr; the
    other calls share one interpreter."""
    import json
    env = {**os.environ, 'TMPDIR': str(tmp_path)}
    args, expected = ENTRY_POINTS[2]
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                          env=env)
    assert proc.returncode == 1
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith(expected + ' [traceback: '), proc.stderr

    calls = [a for a, _ in ENTRY_POINTS] + [a + ['--debug'] for a, _ in ENTRY_POINTS]
    proc = subprocess.run([sys.executable, '-c', _DRIVER, json.dumps(calls)], cwd=REPO,
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.splitlines()[-1])
    for (_, expected), res in zip(ENTRY_POINTS, results[:3]):
        assert res['code'] == 1, res
        assert len(res['stderr'].splitlines()) == 1, res['stderr']
        assert res['stderr'].startswith(expected + ' [traceback: '), res['stderr']
    for res in results[3:]:
        assert res['code'] == 'raised FileNotFoundError', res


def test_sync_bn_becomes_bn_only_for_a_cpu_process_group(monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)

    def cfg(launcher):
        return Config(dict(launcher=launcher, sync_bn='torch', model=dict(
            type='EncoderDecoder', backbone=dict(norm_cfg=dict(type='BN')),
            decode_head=dict(norm_cfg=dict(type='SyncBN', requires_grad=True)),
            auxiliary_head=[dict(norm_cfg=dict(type='MMSyncBN'))])))

    local = cfg('none')
    assert sync_bn_to_bn_without_cuda(local) == []
    assert local.model.decode_head.norm_cfg.type == 'SyncBN'
    dist = cfg('pytorch')
    changed = sync_bn_to_bn_without_cuda(dist)
    assert changed == ['decode_head.norm_cfg (SyncBN)', 'auxiliary_head.0.norm_cfg (MMSyncBN)',
                       'sync_bn (torch)']
    assert dist.model.decode_head.norm_cfg == dict(type='BN', requires_grad=True)
    assert dist.model.auxiliary_head[0].norm_cfg.type == 'BN'
    assert dist.model.backbone.norm_cfg.type == 'BN' and dist.sync_bn is None
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    gpu = cfg('pytorch')
    assert sync_bn_to_bn_without_cuda(gpu) == []
