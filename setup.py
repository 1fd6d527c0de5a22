"""Build script for intern_mm (metadata lives in setup.cfg)."""
import re
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


if __name__ == '__main__':
    setup(
        version=get_version(),
        packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
        include_package_data=True,
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require=dict(
            mim=parse_requirements('requirements/mminstall.txt'),
            tests=parse_requirements('requirements/tests.txt'),
        ),
    )
