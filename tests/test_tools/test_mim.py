"""OpenMMLab's ``mim`` on intern_mm: model-index search, ``mim train`` and ``mim test``.

These tests install intern_mm the regular way (``pip install .``, which copies configs /
tools / model-index.yml into ``intern_mm/.mim``) into a temporary site directory, from a
copy of the sources (the in-tree build would otherwise rewrite the repository's ``.mim``
links). ``test_mim_editable.py`` covers the editable install of ``make env``.
"""
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from tools_testutils import (PYTHON, REPO_ROOT, make_image_folder, run_tool,
                             tiny_classifier_options)

MIM = Path(sys.executable).with_name('mim')
SOURCES = ('setup.py', 'setup.cfg', 'MANIFEST.in', 'README.md', 'requirements.txt',
           'model-index.yml', 'intern_mm', 'configs', 'tools', 'requirements')


@pytest.fixture(scope='module')
def mim_env(tmp_path_factory):
    """Environment whose ``PYTHONPATH`` starts with a regular install of intern_mm."""
    assert MIM.is_file(), f'{MIM} missing: tools/setup_env.sh installs openmim'
    root = tmp_path_factory.mktemp('mim')
    src, site = root / 'src', root / 'site'
    ignore = shutil.ignore_patterns('__pycache__', '.mim', '*.pyc')
    for name in SOURCES:
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(path, src / name)
    run_tool([PYTHON, '-m', 'pip', 'install', '-q', '--no-deps', '--no-build-isolation',
              '--target', str(site), str(src)])
    assert (site / 'intern_mm' / '.mim' / 'configs' / 'metanet').is_dir()
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(site)] + [
        p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    return env


def test_mim_search_reads_the_model_index(mim_env):
    out = run_tool([str(MIM), 'search', 'intern_mm'], env=mim_env)
    for config_id in ('metanet-b4_1xb64-10k_cifar10', 'central-mn-b4_faster-rcnn_fpn_1x_voc0712',
                      'metanet-b4_deeplabv3_4xb4-20k_voc12aug-512x512'):
        assert f'config id: {config_id}' in out, config_id


@pytest.mark.slow
def test_mim_train_then_test(mim_env, tmp_path):
    data = make_image_folder(tmp_path / 'data')
    work = tmp_path / 'work'
    config = 'metanet/metanet-b4_1xb64-10k_cifar10.py'  # found in intern_mm/.mim/configs
    opts = tiny_classifier_options(data, work, max_iters=4, ckpt_interval=4)
    out = run_tool([str(MIM), 'train', 'intern_mm', config, '--work-dir', str(work),
                    '--cfg-options', *opts], env=mim_env)
    assert 'Training finished successfully' in out
    # the validation at iteration 4 evaluates the same checkpoint on the same test folder
    val_acc = re.findall(r'accuracy/top1: ([\d.]+)', out)
    assert val_acc, out[-2000:]
    ckpt = work / 'iter_4.pth'
    assert ckpt.is_file()
    out = run_tool([str(MIM), 'test', 'intern_mm', config, '--checkpoint', str(ckpt),
                    '--work-dir', str(tmp_path / 'test'), '--cfg-options', *opts],
                   env=mim_env)
    assert 'Testing finished successfully' in out
    acc = re.findall(r'accuracy/top1: ([\d.]+)', out)
    # mim test of the saved checkpoint reproduces the accuracy the training run measured
    assert acc and float(acc[-1]) == pytest.approx(float(val_acc[-1]), abs=1e-4)
