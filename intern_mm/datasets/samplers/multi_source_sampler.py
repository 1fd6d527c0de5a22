"""Infinite sampler composing every batch from several sources by ratio."""
from typing import Iterator, List, Optional, Sequence, Sized, Tuple, Union

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from intern_mm.registry import DATA_SAMPLERS

__all__ = ['MultiSourceSampler']


@DATA_SAMPLERS.register_module()
class MultiSourceSampler(Sampler):
    """Infinite multi-source sampler: per-batch source ratios, DDP sharding, stateless.

    The dataset is a concatenation of sources (:class:`~intern_mm.datasets.
    MultiSourceDataset`, or any dataset with ``datasets`` and ``cumulative_sizes`` such
    as mmengine's / mmdet's ``ConcatDataset``). Every batch of every rank holds
    ``num_per_source[s]`` samples of source ``s`` (in source order), where the counts
    split ``batch_size`` by ``source_ratio`` with the largest-remainder method; the
    remainder slots rotate over the sources from batch to batch, so the long-run
    composition matches the ratio exactly even when ``batch_size`` does not divide.

    The content of batch ``t`` on rank ``r`` is a pure function of ``(seed, t, r,
    world_size, ratio at t)``: source ``s`` owns the positions
    ``[(t * world_size + r) * batch_size, ... + num_per_source[s])`` of its own infinite
    stream of epoch-wise permutations (permutation ``e`` of source ``s`` is drawn from
    ``numpy.random.default_rng([seed, s, e])``). Hence

    * ranks never share a sample within an epoch of a source (distinct shards),
    * resuming at iteration ``t`` reproduces exactly the batches an uninterrupted run
      would have drawn (mmengine's ``IterBasedTrainLoop`` advances the dataloader ``t``
      batches on resume; :meth:`set_iter` lets a caller jump without iterating), and
    * :meth:`set_source_ratio` can change the composition at any time (a ratio schedule
      hook) without disturbing the stream: a changed ratio does not shift the samples
      any later batch would draw.

    The price of this history independence is that a source reserves ``batch_size``
    positions of its stream per batch and uses only its share of them: each epoch of a
    permutation visits the share ``num_per_source[s] / batch_size`` of the source; the
    other samples are visited in later permutations (sampling stays uniform).

    Compared with mmdet's ``MultiSourceSampler`` (fixed ratio, per-source iterators whose
    state depends on the whole history, remainder always on source 0), this sampler can
    change ratios at run time and resume without replaying history.

    Args:
        dataset (Sized): The concatenated multi-source dataset.
        batch_size (int): Samples per batch on each rank; must equal the dataloader's
            ``batch_size``.
        source_ratio (Sequence[float]): Non-negative weight per source (at least one
            positive); a zero weight leaves the source out.
        shuffle (bool): Permute each source per epoch; otherwise sequential order.
            Defaults to True.
        seed (int, optional): Random seed, the same on every rank. ``None`` draws one
            and synchronises it across ranks. Defaults to None.
        ratio_schedule (Sequence[tuple[int, Sequence[float]]], optional): Milestones
            ``(start_iter, source_ratio)``: from batch ``start_iter`` on, use that
            ratio. A pure function of the batch index, hence exact under prefetching
            and resume. Defaults to None.

    Example:
        >>> train_dataloader = dict(
        ...     batch_size=24,
        ...     sampler=dict(type='MultiSourceSampler', batch_size=24,
        ...                  source_ratio=[1, 1, 2]),
        ...     dataset=dict(type='MultiSourceDataset', datasets=[...],
        ...                  sources=['shape', 'colour', 'coarse'], classes=[...]))
        >>> sampler = runner.train_dataloader.sampler
        >>> sampler.set_source_ratio([0, 1, 1])  # e.g. from a ratio-schedule hook
    """

    def __init__(self,
                 dataset: Sized,
                 batch_size: int,
                 source_ratio: Sequence[Union[int, float]],
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 ratio_schedule: Optional[Sequence[Tuple[int, Sequence[float]]]] = None
                 ) -> None:
        if not (hasattr(dataset, 'cumulative_sizes') and hasattr(dataset, 'datasets')):
            raise TypeError('MultiSourceSampler needs a concatenated dataset '
                            '(MultiSourceDataset / ConcatDataset), got '
                            f'{type(dataset).__name__}')
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f'batch_size must be a positive int, got {batch_size!r}')
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        if hasattr(dataset, 'full_init'):
            dataset.full_init()
        self.cumulative_sizes = [0] + list(dataset.cumulative_sizes)
        self.source_sizes = [
            self.cumulative_sizes[i + 1] - self.cumulative_sizes[i]
            for i in range(len(self.cumulative_sizes) - 1)
        ]
        self.num_sources = len(self.source_sizes)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)
        self._iter = 0
        self._perm_cache: dict = {}
        self._milestones: List[Tuple[int, List[float]]] = []
        self.set_source_ratio(source_ratio, start_iter=0)
        for start_iter, ratio in sorted(ratio_schedule or [], key=lambda m: m[0]):
            self.set_source_ratio(ratio, start_iter=int(start_iter))

    # ------------------------------------------------------------------ ratios
    def set_source_ratio(self,
                         source_ratio: Sequence[Union[int, float]],
                         start_iter: Optional[int] = None) -> None:
        """Change the per-batch source composition from batch ``start_iter`` on.

        Args:
            source_ratio (Sequence[float]): Non-negative weight per source.
            start_iter (int, optional): First batch index the ratio applies to; later
                milestones are dropped. ``None`` means the next batch this sampler
                generates (with ``num_workers > 0`` the dataloader may already have
                prefetched a few batches; pass ``ratio_schedule`` or an explicit
                ``start_iter`` ahead of time for exact, resume-safe switches).
                Defaults to None.

        Raises:
            ValueError: If the length does not match the number of sources, a weight
                is negative, all weights are zero, or a weighted source is empty.
        """
        ratio = [float(r) for r in source_ratio]
        if len(ratio) != self.num_sources:
            raise ValueError(f'source_ratio has {len(ratio)} entries but the dataset '
                             f'has {self.num_sources} sources: {list(source_ratio)}')
        if any(r < 0 or not np.isfinite(r) for r in ratio) or sum(ratio) <= 0:
            raise ValueError('source_ratio must be finite, non-negative and not all '
                             f'zero, got {list(source_ratio)}')
        empty = [i for i, (r, n) in enumerate(zip(ratio, self.source_sizes))
                 if r > 0 and n == 0]
        if empty:
            raise ValueError(f'sources {empty} have a positive ratio but no samples')
        start = self._iter if start_iter is None else int(start_iter)
        if start < 0:
            raise ValueError(f'start_iter must be >= 0, got {start_iter}')
        self._milestones = [m for m in self._milestones if m[0] < start]
        self._milestones.append((start, ratio))

    def ratio_at(self, batch_idx: int) -> List[float]:
        """The source ratio that applies to batch ``batch_idx``."""
        ratio = self._milestones[0][1]
        for start, r in self._milestones:
            if start <= batch_idx:
                ratio = r
        return list(ratio)

    @property
    def source_ratio(self) -> List[float]:
        """The source ratio of the next batch."""
        return self.ratio_at(self._iter)

    def num_per_source(self, batch_idx: int = 0) -> List[int]:
        """Samples of each source in batch ``batch_idx`` (largest remainder, rotated).

        Args:
            batch_idx (int): Batch (iteration) index; only the rotation of the
                remainder slots depends on it. Defaults to 0.

        Returns:
            list[int]: Counts summing to ``batch_size``.

        Example:
            >>> # sampler.source_ratio == [1, 1, 1], batch_size == 4
            >>> [sampler.num_per_source(t) for t in range(3)]
            [[2, 1, 1], [1, 2, 1], [1, 1, 2]]
        """
        ratio = self.ratio_at(batch_idx)
        total = sum(ratio)
        exact = [self.batch_size * r / total for r in ratio]
        counts = [int(np.floor(x)) for x in exact]
        left = self.batch_size - sum(counts)
        if left:
            # Sources with a fractional share take turns for the remainder slots.
            candidates = [i for i, x in enumerate(exact) if x - counts[i] > 1e-9]
            start = (batch_idx * left) % len(candidates)
            for k in range(left):
                counts[candidates[(start + k) % len(candidates)]] += 1
        return counts

    # ------------------------------------------------------------------ state
    def set_iter(self, iteration: int) -> None:
        """Make the next batch the ``iteration``-th one (0-based).

        Args:
            iteration (int): Index of the next batch to yield.
        """
        if iteration < 0:
            raise ValueError(f'iteration must be >= 0, got {iteration}')
        self._iter = int(iteration)

    def set_epoch(self, epoch: int) -> None:
        """No-op: the sampler is infinite and its state is the batch index."""

    def _permutation(self, source: int, epoch: int) -> np.ndarray:
        key = (source, epoch)
        perm = self._perm_cache.get(key)
        if perm is None:
            n = self.source_sizes[source]
            if self.shuffle:
                perm = np.random.default_rng([self.seed, source, epoch]).permutation(n)
            else:
                perm = np.arange(n)
            # keep only the current and next epochs of each source
            self._perm_cache = {k: v for k, v in self._perm_cache.items()
                                if k[0] != source or k[1] >= epoch - 1}
            self._perm_cache[key] = perm
        return perm

    def batch_indices(self, batch_idx: int) -> List[int]:
        """Global dataset indices of batch ``batch_idx`` on this rank.

        Args:
            batch_idx (int): Batch (iteration) index.

        Returns:
            list[int]: ``batch_size`` indices, grouped by source in source order.
        """
        indices: List[int] = []
        start = (batch_idx * self.world_size + self.rank) * self.batch_size
        for source, num in enumerate(self.num_per_source(batch_idx)):
            n = self.source_sizes[source]
            for pos in range(start, start + num):
                epoch, offset = divmod(pos, n)
                indices.append(self.cumulative_sizes[source] +
                               int(self._permutation(source, epoch)[offset]))
        return indices

    def __iter__(self) -> Iterator[int]:
        while True:
            batch_idx = self._iter
            self._iter += 1
            yield from self.batch_indices(batch_idx)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]
