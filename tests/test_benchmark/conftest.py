"""Fixtures of the GV-B tests: tiny real-image sets built from ../shared by symlinks."""
import os
from pathlib import Path

import pytest

TINY_BACKBONE = ("dict(type='mmpretrain.ResNet', depth=18, stem_channels=8, "
                 "base_channels=8)")


@pytest.fixture(autouse=True)
def _restore_default_scope():
    """Runners built in these tests must not leave their default scope behind."""
    from intern_mm.benchmark.suite import preserve_default_scope
    with preserve_default_scope():
        yield


def _link_subset(src: Path, dst: Path, per_class: dict) -> Path:
    for split, count in per_class.items():
        for cls in sorted(os.listdir(src / split)):
            (dst / split / cls).mkdir(parents=True, exist_ok=True)
            for name in sorted(os.listdir(src / split / cls))[:count]:
                link = dst / split / cls / name
                if not link.exists():
                    link.symlink_to(src / split / cls / name)
    return dst


@pytest.fixture
def tiny_cifar(datasets_dir, tmp_path) -> Path:
    """CIFAR-10 ImageFolder with 20 train / 4 test images per class (symlinks)."""
    return _link_subset(datasets_dir / 'cifar10', tmp_path / 'cifar10',
                        dict(train=20, test=4))


@pytest.fixture
def link_subset():
    """``link_subset(src, dst, {'train': n, 'test': m})``: an ImageFolder slice by links."""
    return _link_subset


@pytest.fixture
def tiny_backbone() -> str:
    """A ResNet-18 with 8 base channels (fast on CPU)."""
    return TINY_BACKBONE
