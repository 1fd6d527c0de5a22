"""A toy model / dataset / runner factory for the hook tests (CPU, < 1 s per run)."""
import copy

import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset


class RefreezingBackbone(nn.Module):
    """A backbone that, like ResNet / MetaNet, re-applies ``frozen_stages`` in train()."""

    def __init__(self, frozen_stages: int = -1) -> None:
        super().__init__()
        self.frozen_stages = frozen_stages
        self.stages = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)])
        self.bn = nn.BatchNorm1d(4)

    def _freeze(self) -> None:
        for i in range(self.frozen_stages + 1):
            self.stages[i].eval()
            for p in self.stages[i].parameters():
                p.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze()
        return self

    def forward(self, x):
        for stage in self.stages:
            x = torch.relu(stage(x))
        return self.bn(x)


class ToyModel(BaseModel):
    """Regression toy with a ``backbone`` and a ``head`` and a loss-weight dict."""

    def __init__(self, frozen_stages: int = -1) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.backbone = RefreezingBackbone(frozen_stages)
        self.head = nn.Linear(4, 1)
        self.task_loss_weights = {'a': 1.0, 'b': 1.0}

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs) if isinstance(inputs, (list, tuple)) else inputs
        out = self.head(self.backbone(x)).squeeze(1)
        if mode == 'loss':
            y = torch.stack(data_samples) if isinstance(data_samples, (list, tuple)) \
                else data_samples
            err = (out - y)**2
            return dict(loss_a=self.task_loss_weights['a'] * err.mean(),
                        loss_b=self.task_loss_weights['b'] * err.abs().mean())
        return out


class ToyDataset(Dataset):

    def __init__(self, n: int = 16) -> None:
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(n, 4, generator=g)
        self.y = self.x.sum(1)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return dict(inputs=self.x[i], data_samples=self.y[i])


def build_runner(work_dir, max_iters, custom_hooks=(), resume=False, frozen_stages=-1,
                 ckpt_interval=2, model=None):
    """An iteration-based mmengine Runner on the toy problem (SGD, constant lr).

    Its loop is ``FastRestartIterBasedTrainLoop``: mmengine's batches without the 2 s
    pause at each pass over the 2-batch toy set (``test_fast_restart_loop.py``).
    """
    return Runner(
        model=model or ToyModel(frozen_stages),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=8,
            num_workers=0,
            collate_fn=dict(type='default_collate')),
        train_cfg=dict(type='intern_mm.FastRestartIterBasedTrainLoop', max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=ckpt_interval, by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[copy.deepcopy(h) for h in custom_hooks],
        resume=resume,
        randomness=dict(seed=0),
        default_scope='intern_mm',
        log_level='WARNING',
        experiment_name=f'toy_{abs(hash(str(work_dir))) % 10**8}_{max_iters}_{int(resume)}')


def clone_state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
