"""Tiny models and an in-memory image set for the distiller tests."""
import torch
from mmengine.structures import BaseDataElement
from torch.utils.data import Dataset

from intern_mm.registry import DATASETS

#: A frozen teacher: MetaNet-tiny (strides 4/8/16/32 + pooled 1280-d).
TEACHER = dict(type='MetaNet', arch='tiny', out_indices=(0, 1, 2, 3, 4))
#: A smaller student of the same family.
STUDENT = dict(
    type='MetaNet',
    arch=dict(repeats=[1] * 6, expansion=[1, 4, 6, 3, 2, 5],
              channels=[8, 8, 16, 16, 16, 16], mtb_type=4, head_dim=8, stem_dim=8),
    out_indices=(0, 1, 2, 3, 4))


def images(n: int, seed: int, size: int = 32) -> torch.Tensor:
    """Smooth random uint8 images ``(n, 3, size, size)`` (upsampled noise: structure)."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, 4, 4, generator=g)
    img = torch.nn.functional.interpolate(low, size=(size, size), mode='bilinear',
                                          align_corners=False)
    return (img * 255).round().to(torch.uint8)


@DATASETS.register_module(name='_DistillTestImageSet', force=True)
class ImageSet(Dataset):
    """``n`` seeded images as mmengine samples (``inputs`` + an empty data sample)."""

    def __init__(self, n: int = 32, seed: int = 0, size: int = 32) -> None:
        self.imgs = images(n, seed, size)

    def __len__(self) -> int:
        return len(self.imgs)

    def __getitem__(self, idx: int) -> dict:
        return dict(inputs=self.imgs[idx], data_samples=BaseDataElement())


def runner_cfg(work_dir: str, teacher_checkpoint=None, max_iters: int = 30,
               launcher: str = 'none', dataset=None) -> dict:
    """A Runner config training a FeatureDistiller on :class:`ImageSet`."""
    return dict(
        default_scope='intern_mm',
        work_dir=work_dir,
        model=dict(type='FeatureDistiller', student=STUDENT, teacher=TEACHER,
                   teacher_checkpoint=teacher_checkpoint),
        train_dataloader=dict(
            batch_size=8, num_workers=0,
            dataset=dataset or dict(type='_DistillTestImageSet', n=32, seed=0),
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate')),
        # mmengine's batches without its 2 s pause at each 4-batch pass
        # (test_fast_restart_loop.py)
        train_cfg=dict(type='intern_mm.FastRestartIterBasedTrainLoop', max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=3e-3, weight_decay=0.0)),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=10),
            checkpoint=dict(type='CheckpointHook', interval=max_iters, by_epoch=False)),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=0),
        launcher=launcher)
