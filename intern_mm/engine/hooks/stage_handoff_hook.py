"""Initialise a stage from the previous stage's checkpoint with a key mapping."""
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.hooks import Hook
from mmengine.logging import print_log
from torch import nn

from intern_mm.registry import HOOKS
from intern_mm.utils.checkpoint import (WRAPPER_KEYS, load_state_dict_diff, map_state_dict,
                                        read_checkpoint, resolve_checkpoint,
                                        unwrap_state_dict)
from ._schedule_utils import unwrap_model

__all__ = ['StageHandoffHook']


@HOOKS.register_module()
class StageHandoffHook(Hook):
    """Load the previous stage's checkpoint into this stage's model, with renamed keys.

    Runs in ``before_train`` (after ``init_weights`` and after a resume; a resumed run,
    i.e. ``runner.iter > 0`` or ``runner.epoch > 0``, already holds trained weights and is
    left alone). Missing keys (model keys under the target prefixes that the mapped
    checkpoint does not provide), unexpected keys (mapped keys the model lacks) and shape
    mismatches are reported in the log; ``strict=True`` turns any of them into an error.

    Args:
        checkpoint (str): Checkpoint file or a stage work dir (its ``last_checkpoint`` is
            used).
        prefix_mapping (dict[str, str], optional): ``{source_prefix: target_prefix}``;
            source keys outside these prefixes are ignored. E.g.
            ``{'backbone.': 'backbone.gv_global.'}``.
        key_mapping (Sequence[tuple[str, str]], optional): ``(regex, replacement)`` pairs
            applied after the prefix mapping.
        target_prefixes (Sequence[str], optional): Model key prefixes expected to be
            filled (for the missing-key report). Defaults to the target prefixes of
            ``prefix_mapping``, or every model key when there is none.
        strict (bool): Raise on missing / unexpected / mismatched keys. Defaults to False.
        state_dict_key (str): Key of the weights inside the checkpoint file when present.
            Defaults to ``'state_dict'``.
        name (str, optional): Label used in the log. Defaults to the checkpoint path.

    Example:
        >>> custom_hooks = [dict(
        ...     type='StageHandoffHook',
        ...     checkpoint='work_dirs/up-e-det',
        ...     prefix_mapping={'backbone.': 'backbone.gv_patch.',
        ...                     'neck.': 'tasks.det.neck.'})]
    """

    priority = 'HIGH'

    def __init__(self,
                 checkpoint: str,
                 prefix_mapping: Optional[Dict[str, str]] = None,
                 key_mapping: Optional[Sequence[Union[Tuple[str, str], List[str]]]] = None,
                 target_prefixes: Optional[Sequence[str]] = None,
                 strict: bool = False,
                 state_dict_key: str = 'state_dict',
                 name: Optional[str] = None) -> None:
        if not isinstance(checkpoint, str) or not checkpoint:
            raise TypeError(f'StageHandoffHook: checkpoint must be a path, got {checkpoint!r}')
        for pair in key_mapping or []:
            if len(pair) != 2:
                raise ValueError(f'StageHandoffHook: key_mapping entries are (regex, '
                                 f'replacement) pairs, got {pair!r}')
            re.compile(pair[0])
        self.checkpoint = checkpoint
        self.prefix_mapping = dict(prefix_mapping or {})
        self.key_mapping = [tuple(p) for p in (key_mapping or [])]
        if target_prefixes is None and self.prefix_mapping:
            target_prefixes = list(self.prefix_mapping.values())
        self.target_prefixes = list(target_prefixes) if target_prefixes else None
        self.strict = strict
        self.state_dict_key = state_dict_key
        self.name = name or checkpoint
        self.report: Optional[dict] = None

    def load(self, model: nn.Module) -> dict:
        """Load the mapped checkpoint into ``model`` and return the report.

        Args:
            model (nn.Module): The (unwrapped) model.

        Returns:
            dict: ``loaded``, ``missing``, ``unexpected``, ``mismatched`` (lists of keys)
            and ``dropped`` (source keys outside the mapping) plus ``checkpoint``.

        Raises:
            FileNotFoundError: If the checkpoint does not exist.
            RuntimeError: With ``strict=True``, if any key is missing, unexpected or has a
                mismatched shape.
        """
        ckpt_file = resolve_checkpoint(self.checkpoint)
        state_dict = unwrap_state_dict(read_checkpoint(ckpt_file),
                                       (self.state_dict_key, ) + WRAPPER_KEYS)
        mapped, dropped = map_state_dict(state_dict, self.prefix_mapping, self.key_mapping)
        backup = {k: v.detach().clone()
                  for k, v in model.state_dict().items()} if self.strict else None
        # Shape-mismatched entries are left out; the modules' own loading hooks decide
        # what matches (e.g. TaskBatchNorm2d reads plain single-BN keys into every
        # task's BN).
        diff = load_state_dict_diff(model, mapped)
        unexpected, mismatched = diff.unexpected, diff.mismatch_lines()
        missing = diff.missing
        if self.target_prefixes:
            missing = [k for k in missing if any(k.startswith(p) for p in self.target_prefixes)]
        not_loaded = set(unexpected) | set(diff.mismatched)
        report = dict(
            checkpoint=ckpt_file,
            loaded=[k for k in mapped if k not in not_loaded],
            missing=missing,
            unexpected=unexpected,
            mismatched=mismatched,
            dropped=dropped)
        if self.strict and (missing or unexpected or mismatched):
            model.load_state_dict(backup, strict=False)
            raise RuntimeError(
                f'StageHandoffHook({self.name}): strict hand-off from {ckpt_file} failed: '
                f'missing keys {missing[:20]}, unexpected keys {unexpected[:20]}, '
                f'shape mismatches {mismatched[:20]}')
        return report

    def before_train(self, runner) -> None:
        """Load the hand-off checkpoint unless the run was resumed."""
        if runner.iter > 0 or runner.epoch > 0:
            print_log(f'StageHandoffHook({self.name}): resumed run at iter {runner.iter}; '
                      'hand-off skipped (the resumed checkpoint already holds it)',
                      logger='current')
            return
        self.report = self.load(unwrap_model(runner.model))
        rep = self.report
        print_log(
            f'StageHandoffHook({self.name}): loaded {len(rep["loaded"])} tensors from '
            f'{rep["checkpoint"]}; {len(rep["missing"])} missing, {len(rep["unexpected"])} '
            f'unexpected, {len(rep["mismatched"])} shape-mismatched, '
            f'{len(rep["dropped"])} source keys outside the mapping',
            logger='current')
        for kind in ('missing', 'unexpected', 'mismatched'):
            if rep[kind]:
                print_log(f'StageHandoffHook({self.name}): {kind} keys: '
                          + ', '.join(rep[kind]), logger='current', level=30)
