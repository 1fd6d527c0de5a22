"""FastRestartIterBasedTrainLoop: mmengine's batches, without the 2 s pause per restart."""
import time

import torch
from mmengine.dataset import DefaultSampler
from mmengine.runner.loops import _InfiniteDataloaderIterator
from torch.utils.data import DataLoader

from intern_mm.engine.runner import FastRestartDataloaderIterator


def _loader(num_workers=0):
    data = list(range(10))
    return DataLoader(data, batch_size=3, drop_last=True, num_workers=num_workers,
                      sampler=DefaultSampler(data, shuffle=True, seed=0))


def _draw(iterator_cls, num):
    it = iterator_cls(_loader())
    return [next(it).tolist() for _ in range(num)]


def test_same_batches_as_mmengine_without_the_pause(monkeypatch):
    slept = []
    monkeypatch.setattr(time, 'sleep', lambda s: slept.append(s))
    ours = _draw(FastRestartDataloaderIterator, 10)  # 3 batches per pass: 3 restarts
    assert slept == []
    theirs = _draw(_InfiniteDataloaderIterator, 10)
    assert slept == [2, 2, 2]  # what the fast restart saves: 2 s per pass
    assert ours == theirs
    # set_epoch reshuffles every pass (not the same three batches again)
    assert ours[:3] != ours[3:6]


def test_loaders_with_workers_keep_mmengine_behaviour(monkeypatch):
    slept = []
    monkeypatch.setattr(time, 'sleep', lambda s: slept.append(s))
    it = FastRestartDataloaderIterator(_loader(num_workers=1))
    [next(it) for _ in range(4)]
    assert slept == [2]


def test_gvb_and_ota_runs_train_with_the_loop(tmp_path):
    """The loop type of the configs the GV-B protocols and OTA distillation build."""
    from mmengine.registry import LOOPS

    from intern_mm.benchmark.ota import _distill_schedule
    from intern_mm.benchmark.protocols import PROTOCOL_MODES, load_template
    from intern_mm.engine.runner import FastRestartIterBasedTrainLoop
    assert LOOPS.get('intern_mm.FastRestartIterBasedTrainLoop') is \
        FastRestartIterBasedTrainLoop
    loop = 'intern_mm.FastRestartIterBasedTrainLoop'
    assert _distill_schedule(dict(lr=1e-3, weight_decay=0.05), 10, 2)['train_cfg']['type'] \
        == loop
    # the iteration-based families' protocol templates (configs/gvb/_base_); the
    # resolved configs keep the template's loop (test_protocols.py builds them)
    for family in ('cls', 'seg', 'depth'):
        for mode in PROTOCOL_MODES:
            assert load_template(family, mode)['train_cfg']['type'] == loop, family

def test_runner_with_the_loop_trains_like_mmengines(tmp_path, monkeypatch):
    """Same seed, same data, same random numbers: the same weights after 7 iterations
    over 3-batch passes."""
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Toy(BaseModel):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(1, 1)

        def forward(self, inputs, mode='loss'):
            x = torch.tensor([[float(v)] for v in inputs])
            # draws from the global RNG: a loop that consumed one more random number
            # (a second iter() of the dataloader does) would train other weights
            noise = 0.1 * torch.randn_like(x)
            return dict(loss=(self.fc(x) - x + noise).pow(2).mean())

    def train(loop_type, work_dir):
        torch.manual_seed(0)
        runner = Runner(
            model=Toy(), work_dir=str(work_dir),
            train_dataloader=dict(dataset=[dict(inputs=v) for v in range(10)],
                                  batch_size=3, drop_last=True,
                                  sampler=dict(type='DefaultSampler', shuffle=True),
                                  collate_fn=dict(type='pseudo_collate'), num_workers=0),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
            train_cfg=dict(type=loop_type, max_iters=7),
            default_hooks=dict(checkpoint=None, logger=None), randomness=dict(seed=0),
            log_level='WARNING')
        runner.train()
        return runner.model.fc.weight.item()

    from intern_mm.benchmark.suite import preserve_default_scope
    monkeypatch.setattr(time, 'sleep', lambda s: None)
    with preserve_default_scope():  # a Runner makes its scope the process default
        ours = train('intern_mm.FastRestartIterBasedTrainLoop', tmp_path / 'a')
        theirs = train('IterBasedTrainLoop', tmp_path / 'b')
    assert ours == theirs
