"""``mim search`` in the environment ``make env`` builds (editable install, no second one).

A throw-away venv reproduces that layout: it sees the project's packages through a
``.pth`` line (no reinstall of the stack), and a copy of the sources is installed into it
with the exact script ``tools/setup_env.sh`` runs (``tools/misc/install_editable.sh``).
"""
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from tools_testutils import REPO_ROOT

MIM = Path(sys.executable).with_name('mim')
SOURCES = ('setup.py', 'setup.cfg', 'MANIFEST.in', 'README.md', 'requirements.txt',
           'model-index.yml', 'intern_mm', 'configs', 'tools', 'requirements')


def _run(args, **kw):
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)
    assert proc.returncode == 0, f'{args}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    return proc.stdout + proc.stderr


def test_mim_search_in_an_editable_install(tmp_path):
    assert MIM.is_file(), f'{MIM} missing: tools/setup_env.sh installs openmim'
    src = tmp_path / 'src'
    ignore = shutil.ignore_patterns('__pycache__', '.mim', '*.pyc', '*.egg-info')
    for name in SOURCES:
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(path, src / name)
    venv = tmp_path / 'venv'
    _run([sys.executable, '-m', 'venv', '--without-pip', str(venv)])
    py = venv / 'bin' / 'python'
    site = Path(_run([str(py), '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'])
                .strip())
    (site / '_project_stack.pth').write_text(sysconfig.get_path('purelib') + '\n')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    _run(['bash', str(src / 'tools/misc/install_editable.sh'), str(py)], env=env, cwd=tmp_path)
    # editable: the package is the copied checkout, not a copy in site-packages
    where = _run([str(py), '-c', 'import intern_mm; print(intern_mm.__file__)'], env=env,
                 cwd=tmp_path)
    assert where.strip() == str(src / 'intern_mm' / '__init__.py')
    assert not (site / 'intern_mm' / '__init__.py').exists()
    out = _run([str(py), str(MIM), 'search', 'intern_mm'], env=env, cwd=tmp_path)
    for config_id in ('metanet-b4_1xb64-10k_cifar10', 'central-mn-b4_faster-rcnn_fpn_1x_voc0712',
                      'metanet-b4_deeplabv3_4xb4-20k_voc12aug-512x512'):
        assert f'config id: {config_id}' in out, config_id
    # what mim reads is the checkout's own model index (edits need no reinstall)
    index = site / 'intern_mm' / '.mim' / 'model-index.yml'
    assert index.resolve() == (src / 'model-index.yml').resolve()
