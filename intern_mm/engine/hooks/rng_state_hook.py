"""Save the random-number generator states in checkpoints and restore them on resume."""
import random
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log

from intern_mm.registry import HOOKS

__all__ = ['RNGStateHook', 'get_rng_state', 'set_rng_state', 'ensure_rng_state_hook']

#: key of the states in ``checkpoint['meta']``
META_KEY = 'rng_states'


def get_rng_state() -> Dict[str, Any]:
    """States of Python's ``random``, NumPy's global and torch's CPU (and CUDA) RNGs.

    Returns:
        dict: ``python``, ``numpy``, ``torch`` and, with CUDA, ``cuda``.

    Example:
        >>> state = get_rng_state()
        >>> a = torch.rand(1); set_rng_state(state); torch.equal(a, torch.rand(1))
        True
    """
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    """Restore states returned by :func:`get_rng_state`.

    Args:
        state (dict): The states.
    """
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        cuda = state['cuda']
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


class _RestoreAfterSkip:
    """Iterator proxy: after ``skip`` batches, restore ``state`` (then pass through).

    The train loops advance their data iterators past the already-trained batches after
    ``before_train_epoch``; fetching those batches (augmentations in the main process)
    consumes random numbers. Restoring the saved states right after the last skipped
    batch makes the next batch (and the model's randomness) those of the uninterrupted
    run.
    """

    def __init__(self, iterator, skip: int, state: Dict[str, Any]) -> None:
        self.iterator = iterator
        self.skip = skip
        self.state = state

    def __iter__(self):
        return self

    def __next__(self):
        batch = next(self.iterator)
        if self.skip > 0:
            self.skip -= 1
            if self.skip == 0:
                set_rng_state(self.state)
        return batch

    def skip_iter(self, num: int) -> None:
        """Skip ``num`` batches (as ``_InfiniteDataloaderIterator.skip_iter``)."""
        for _ in range(num):
            next(self)

    def __getattr__(self, name: str):
        return getattr(self.iterator, name)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Make resumed training continue the random streams of the interrupted run.

    mmengine checkpoints hold the model, optimizer, schedulers and message hub, and on
    resume the loops skip the already-trained batches, but the random-number generators
    restart from the seed: augmentations run in the main process (``num_workers=0``),
    dropout / drop-path and random masking then draw different numbers than the
    uninterrupted run, so a killed and resumed run ends with different weights.

    This hook stores every rank's ``random`` / NumPy / torch (/ CUDA) states in
    ``checkpoint['meta']['rng_states']`` and restores them on resume at the point the
    interrupted run was at when it saved: for iteration-based loops right after the loop
    has skipped the trained batches (``dataloader_iterator`` /
    ``dataloader_iterators`` of :class:`~intern_mm.engine.runner.MultiTaskIterBasedTrainLoop`),
    for epoch-based loops at the start of the next epoch. With a different number of
    processes than the checkpoint was written with, nothing is restored (with a warning).

    Exactness assumes nothing draws random numbers between the checkpoint and the next
    batch (e.g. no validation in between: a validation loader draws its worker seed).

    Example:
        >>> custom_hooks = [dict(type='intern_mm.RNGStateHook')]
    """

    # before CheckpointHook (VERY_LOW) in after_train_iter / after_train_epoch
    priority = 'LOW'

    def __init__(self) -> None:
        self._gathered: Optional[List[Dict[str, Any]]] = None
        self._loaded: Optional[List[Dict[str, Any]]] = None

    # ------------------------------------------------------------------ saving
    def _gather(self) -> None:
        # Runner.save_checkpoint runs on rank 0 only: collect every rank's state while
        # all ranks are in the same hook call
        if get_world_size() > 1:
            self._gathered = all_gather_object(get_rng_state())

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._gather()

    def after_train_epoch(self, runner) -> None:
        self._gather()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        states = self._gathered if get_world_size() > 1 and self._gathered else \
            [get_rng_state()]
        checkpoint.setdefault('meta', {})[META_KEY] = states

    # ---------------------------------------------------------------- resuming
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = (checkpoint.get('meta') or {}).get(META_KEY)
        if states is None:
            return
        if len(states) != get_world_size():
            print_log(f'RNGStateHook: the checkpoint holds random states of '
                      f'{len(states)} processes, this run has {get_world_size()}; '
                      'the random streams restart from the seed', logger='current',
                      level=30)
            return
        self._loaded = states

    def before_train_epoch(self, runner) -> None:
        if self._loaded is None:
            return
        state, self._loaded = self._loaded[get_rank()], None
        if runner.iter == 0:
            return  # weights loaded with ``load_from`` (fine-tuning), not a resume
        loop = runner.train_loop
        skip = int(loop.iter) if hasattr(loop, 'dataloader_iterator') else 0
        if skip and hasattr(loop, 'dataloader_iterators'):
            # multi-task loop: every task's iterator skips ``skip`` batches in turn;
            # restore after the last task's last skipped batch
            last = list(loop.dataloader_iterators)[-1]
            loop.dataloader_iterators[last] = _RestoreAfterSkip(
                loop.dataloader_iterators[last], skip, state)
        elif skip:
            loop.dataloader_iterator = _RestoreAfterSkip(loop.dataloader_iterator, skip,
                                                         state)
        else:
            set_rng_state(state)


def ensure_rng_state_hook(runner) -> None:
    """Register an :class:`RNGStateHook` on ``runner`` unless it has one (call before
    ``runner.train()``: the hook must see the checkpoint a resumed run loads).

    Args:
        runner (Runner): The runner.
    """
    if not any(isinstance(h, RNGStateHook) for h in runner.hooks):
        runner.register_hook(RNGStateHook())
