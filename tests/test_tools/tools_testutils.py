"""Helpers for the tool tests: tiny generated image-folder datasets and config overrides."""
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
CIFAR_CFG = REPO_ROOT / 'configs/metanet/metanet-b4_1xb64-10k_cifar10.py'


def make_image_folder(root: Path, per_class: int = 8, size: int = 32, seed: int = 0) -> Path:
    """Write ``train``/``test`` folders of two visually separable classes (bright vs dark)."""
    rng = np.random.default_rng(seed)
    for split in ('train', 'test'):
        for label, name in enumerate(('dark', 'bright')):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                base = 60 + 140 * label
                img = np.clip(rng.normal(base, 25, (size, size, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(img).save(folder / f'{i:03d}.png')
    return root


def tiny_classifier_options(data_root: Path, work_dir: Path, max_iters: int = 6,
                            ckpt_interval: int = 2) -> List[str]:
    """``--cfg-options`` turning the CIFAR-10 MetaNet config into a seconds-long CPU run."""
    return [
        'model.backbone.arch=tiny', 'model.head.num_classes=2',
        'data_preprocessor.num_classes=2',
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        'train_dataloader.dataset.pipeline.1.scale=32',
        'train_dataloader.dataset.pipeline.2.crop_size=32',
        'val_dataloader.dataset.pipeline.1.scale=32',
        'val_dataloader.dataset.pipeline.2.crop_size=32',
        'test_dataloader.dataset.pipeline.1.scale=32',
        'test_dataloader.dataset.pipeline.2.crop_size=32',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0',
        'val_dataloader.batch_size=8', 'test_dataloader.batch_size=8',
        f'train_cfg.max_iters={max_iters}', f'train_cfg.val_interval={max_iters}',
        f'default_hooks.checkpoint.interval={ckpt_interval}',
        'default_hooks.checkpoint.max_keep_ckpts=10', 'default_hooks.logger.interval=1',
        'param_scheduler.milestones=[1000]', 'optim_wrapper.optimizer.lr=0.01',
        # mmpretrain's default runtime leaves the seed unset: seed it, so that the
        # accuracy the tests expect after a few steps is repeatable
        'randomness.seed=0',
    ]


def options_dict(options: List[str]) -> dict:
    """Parse ``--cfg-options`` strings as mmengine's ``DictAction`` does."""
    import argparse

    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def tiny_cfg(data: Path, work: Path, max_iters: int, extra_hooks=()):
    """The CIFAR-10 MetaNet config as an in-process ``max_iters``-step CPU run on ``data``
    (seed 0, deterministic, no validation, a checkpoint every 2 iterations)."""
    from mmengine.config import Config

    from intern_mm.apis import merge_cfg_options
    cfg = Config.fromfile(str(CIFAR_CFG))
    merge_cfg_options(cfg, options_dict(tiny_classifier_options(data, work, max_iters, 2)))
    cfg.work_dir = str(work)
    cfg.launcher = 'none'
    cfg.custom_hooks = list(extra_hooks)
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.train_cfg.val_interval = 10_000
    return cfg


def run_tool(args: List[str], timeout: int = 600, env: Dict[str, str] = None) -> str:
    """Run a command from the repository root; fail the test with its output on error."""
    proc = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)
    if proc.returncode != 0:
        raise AssertionError(f'command failed ({proc.returncode}): {" ".join(args)}\n'
                             f'--- stdout ---\n{proc.stdout[-4000:]}\n'
                             f'--- stderr ---\n{proc.stderr[-6000:]}')
    return proc.stdout + proc.stderr


PYTHON = sys.executable
