"""RNGStateHook: an interrupted and resumed run repeats the uninterrupted one exactly,
even with augmentations in the main process and dropout; without the hook it does not."""
import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

from intern_mm.engine.hooks import RNGStateHook
from intern_mm.engine.hooks.rng_state_hook import get_rng_state, set_rng_state
from intern_mm.registry import HOOKS


class _NoisyDataset(Dataset):
    """Inputs with NumPy noise drawn at load time (an augmentation in the main process)."""

    def __len__(self):
        return 12

    def __getitem__(self, idx):
        x = torch.full((4, ), idx / 12.0) + torch.from_numpy(np.random.randn(4)).float()
        return dict(inputs=x, data_samples=torch.tensor(float(idx % 3) / 3))


class _DropoutModel(BaseModel):

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.net(inputs).squeeze(1)
        if mode == 'loss':
            return dict(loss=((out - data_samples)**2).mean())
        return out


@HOOKS.register_module(force=True)
class _KillAfter(Hook):
    priority = 'LOWEST'  # after the checkpoint of that iteration was written

    def __init__(self, at):
        self.at = at

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == self.at:
            raise KeyboardInterrupt('killed')


def _runner(work_dir, hooks, resume=False, max_iters=8):
    return Runner(
        model=_DropoutModel(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=_NoisyDataset(), batch_size=4, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              collate_fn=dict(type='default_collate')),
        # mmengine's batches without its 2 s pause at each of the 3-batch passes
        # (test_fast_restart_loop.py)
        train_cfg=dict(type='intern_mm.FastRestartIterBasedTrainLoop', max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1,
                                           by_epoch=False),
                           logger=dict(type='LoggerHook', interval=100)),
        custom_hooks=hooks, resume=resume, randomness=dict(seed=0),
        default_scope='intern_mm', log_level='WARNING',
        experiment_name=f'rng_{abs(hash(str(work_dir))) % 10**8}_{int(resume)}')


def _kill_and_resume(tmp_path, name, with_hook):
    hooks = [RNGStateHook()] if with_hook else []
    with pytest.raises(KeyboardInterrupt):
        _runner(tmp_path / name, hooks + [_KillAfter(5)]).train()  # mid-epoch 2 of 3
    resumed = _runner(tmp_path / name, [RNGStateHook()] if with_hook else [], resume=True)
    resumed.train()
    assert resumed.iter == 8
    return {k: v.clone() for k, v in resumed.model.state_dict().items()}


def test_resumed_run_repeats_the_uninterrupted_one(tmp_path):
    full = _runner(tmp_path / 'full', [RNGStateHook()])
    full.train()
    reference = {k: v.clone() for k, v in full.model.state_dict().items()}
    ckpt = torch.load(tmp_path / 'full' / 'iter_8.pth', weights_only=False)
    assert len(ckpt['meta']['rng_states']) == 1  # one process

    resumed = _kill_and_resume(tmp_path, 'hook', with_hook=True)
    for key, value in reference.items():
        torch.testing.assert_close(resumed[key], value, rtol=0, atol=0, msg=key)
    # without restoring the random streams the resumed run diverges (this is what the
    # hook fixes; it also shows the comparison above can fail)
    plain = _kill_and_resume(tmp_path, 'plain', with_hook=False)
    assert any(not torch.equal(plain[k], v) for k, v in reference.items())


def test_get_and_set_rng_state_round_trip():
    state = get_rng_state()
    a = (torch.rand(3), np.random.rand(3), __import__('random').random())
    set_rng_state(state)
    b = (torch.rand(3), np.random.rand(3), __import__('random').random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]
