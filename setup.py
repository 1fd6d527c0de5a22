"""Build script for intern_mm (metadata lives in setup.cfg)."""
import os
import os.path as osp
import re
import shutil
import sys
from pathlib import Path

from setuptools import find_packages, setup


def get_version() -> str:
    text = Path(__file__).with_name('intern_mm').joinpath('version.py').read_text()
    return re.search(r"__version__ = '([^']+)'", text).group(1)


def parse_requirements(fname: str) -> list:
    reqs = []
    for line in Path(__file__).parent.joinpath(fname).read_text().splitlines():
        line = line.split('#')[0].strip()
        if line and not line.startswith('-'):
            reqs.append(line)
    return reqs


def add_mim_extension() -> None:
    """Expose configs, tools and model-index.yml as ``intern_mm/.mim`` (OpenMMLab's mim).

    Editable installs (``pip install -e .``) get symlinks, regular installs copies, as in
    mmpretrain / mmdet, so ``mim train intern_mm CONFIG`` and ``mmdet::``-style config
    lookups (``intern_mm::metanet/...``) find them.
    """
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'symlink'
    elif any(cmd in sys.argv for cmd in ('sdist', 'bdist_wheel', 'install')):
        mode = 'copy'
    else:
        return
    repo = osp.dirname(osp.abspath(__file__))
    mim_path = osp.join(repo, 'intern_mm', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in ('configs', 'tools', 'model-index.yml'):
        src = osp.join(repo, name)
        dst = osp.join(mim_path, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if not osp.exists(src):
            continue
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_path), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        version=get_version(),
        packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
        include_package_data=True,
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require=dict(
            mim=parse_requirements('requirements/mminstall.txt'),
            tests=parse_requirements('requirements/tests.txt'),
            optional=parse_requirements('requirements/optional.txt'),
        ),
    )
