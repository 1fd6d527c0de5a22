"""MultiSourceSampler: ratios, DDP sharding, deterministic resume, runtime ratios."""
import itertools
from collections import Counter

import pytest
import torch
from torch.utils.data import ConcatDataset, TensorDataset

from intern_mm.datasets.samplers import MultiSourceSampler
from intern_mm.datasets.samplers import multi_source_sampler as mss_module
from intern_mm.registry import DATA_SAMPLERS

SIZES = (30, 50, 20)


def _dataset(sizes=SIZES):
    return ConcatDataset([TensorDataset(torch.arange(n)) for n in sizes])


def _sampler(rank=0, world_size=1, monkeypatch=None, **kwargs):
    if monkeypatch is not None:
        monkeypatch.setattr(mss_module, 'get_dist_info', lambda: (rank, world_size))
    kwargs.setdefault('batch_size', 8)
    kwargs.setdefault('source_ratio', [1, 2, 1])
    kwargs.setdefault('seed', 0)
    return MultiSourceSampler(_dataset(kwargs.pop('sizes', SIZES)), **kwargs)


def _batches(sampler, n):
    it = iter(sampler)
    return [[next(it) for _ in range(sampler.batch_size)] for _ in range(n)]


def _source(idx, sizes=SIZES):
    bounds = list(itertools.accumulate(sizes))
    return next(i for i, b in enumerate(bounds) if idx < b)


def test_build_from_registry():
    sampler = DATA_SAMPLERS.build(
        dict(type='MultiSourceSampler', batch_size=4, source_ratio=[1, 1, 1], seed=1),
        default_args=dict(dataset=_dataset()))
    assert isinstance(sampler, MultiSourceSampler)
    assert len(sampler) == sum(SIZES)


def test_batch_composition_follows_ratio():
    sampler = _sampler(batch_size=8, source_ratio=[1, 2, 1])
    for batch in _batches(sampler, 20):
        assert [_source(i) for i in batch] == [0, 0, 1, 1, 1, 1, 2, 2]
    # a zero weight leaves a source out
    sampler = _sampler(batch_size=6, source_ratio=[0, 1, 1])
    assert Counter(_source(i) for b in _batches(sampler, 10) for i in b) == {1: 30, 2: 30}


def test_remainder_rotates():
    sampler = _sampler(batch_size=4, source_ratio=[1, 1, 1])
    assert [sampler.num_per_source(t) for t in range(3)] == [[2, 1, 1], [1, 2, 1],
                                                             [1, 1, 2]]
    counts = Counter(_source(i) for b in _batches(sampler, 30) for i in b)
    assert counts == {0: 40, 1: 40, 2: 40}


def test_uniform_over_samples_and_no_repeats_within_epoch():
    sampler = _sampler(batch_size=8, source_ratio=[1, 1, 1], sizes=(16, 16, 16))
    seen = Counter(i for b in _batches(sampler, 240) for i in b)
    # every sample drawn, roughly uniformly (each drawn 40 times on average)
    assert set(seen) == set(range(48))
    assert max(seen.values()) < 2 * min(seen.values())
    # positions inside one epoch of a source are a permutation: no repeat in a batch
    for b in _batches(_sampler(batch_size=8, source_ratio=[1, 1, 1]), 10):
        assert len(set(b)) == len(b)


def test_ddp_shards_are_distinct(monkeypatch):
    world = 2
    per_rank = [_batches(_sampler(r, world, monkeypatch, batch_size=8,
                                  source_ratio=[1, 1, 2], sizes=(64, 64, 64)), 4)
                for r in range(world)]
    for t in range(4):
        a, b = set(per_rank[0][t]), set(per_rank[1][t])
        assert not a & b, f'batch {t} shared by both ranks: {a & b}'
    # ranks see the same composition
    for t in range(4):
        assert sorted(_source(i, (64, 64, 64)) for i in per_rank[0][t]) == \
            sorted(_source(i, (64, 64, 64)) for i in per_rank[1][t])
    # different seeds give different streams, equal seeds equal ones
    assert _batches(_sampler(seed=1), 3) != _batches(_sampler(seed=2), 3)
    assert _batches(_sampler(seed=1), 3) == _batches(_sampler(seed=1), 3)


def test_resume_reproduces_stream():
    full = _sampler()
    reference = _batches(full, 12)
    # mmengine's IterBasedTrainLoop resume: a fresh sampler, the loader advanced 7 steps
    resumed = _sampler()
    _batches(resumed, 7)
    assert _batches(resumed, 5) == reference[7:]
    # or jump directly
    jumped = _sampler()
    jumped.set_iter(7)
    assert _batches(jumped, 5) == reference[7:]


def test_runtime_ratio_change_is_resume_safe():
    run = _sampler(batch_size=6, source_ratio=[1, 1, 1])
    it = iter(run)
    first = [[next(it) for _ in range(6)] for _ in range(5)]
    run.set_source_ratio([0, 0, 1])  # from the next batch on
    assert run.source_ratio == [0.0, 0.0, 1.0]
    later = [[next(it) for _ in range(6)] for _ in range(5)]
    assert all(_source(i) == 2 for b in later for i in b)
    assert any(_source(i) != 2 for b in first for i in b)
    # resumed at iteration 5, the hook re-applies the current ratio before the skip
    resumed = _sampler(batch_size=6, source_ratio=[1, 1, 1])
    resumed.set_source_ratio([0, 0, 1])
    resumed.set_iter(5)
    assert _batches(resumed, 5) == later
    # an equivalent schedule is a pure function of the iteration
    scheduled = _sampler(batch_size=6, source_ratio=[1, 1, 1],
                         ratio_schedule=[(5, [0, 0, 1])])
    assert _batches(scheduled, 10) == first + later


def test_bad_arguments():
    with pytest.raises(ValueError, match='3 sources'):
        _sampler(source_ratio=[1, 1])
    with pytest.raises(ValueError, match='non-negative'):
        _sampler(source_ratio=[1, -1, 1])
    with pytest.raises(ValueError, match='not all'):
        _sampler(source_ratio=[0, 0, 0])
    with pytest.raises(ValueError, match='batch_size'):
        _sampler(batch_size=0)
    with pytest.raises(TypeError, match='concatenated dataset'):
        MultiSourceSampler(TensorDataset(torch.arange(4)), 2, [1])
