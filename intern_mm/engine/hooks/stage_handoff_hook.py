"""Initialise a stage from the previous stage's checkpoint with a key mapping."""
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner.checkpoint import _load_checkpoint
from torch import nn

from intern_mm.registry import HOOKS
from ._schedule_utils import unwrap_model

__all__ = ['StageHandoffHook', 'map_state_dict', 'resolve_checkpoint']


def resolve_checkpoint(path: str) -> str:
    """Resolve a checkpoint file, or a work dir holding mmengine's ``last_checkpoint``.

    Args:
        path (str): A ``.pth`` file or an mmengine work dir.

    Returns:
        str: The checkpoint file.

    Raises:
        FileNotFoundError: If neither a file nor a work dir with a readable
            ``last_checkpoint`` exists at ``path``.
    """
    if osp.isfile(path):
        return path
    if osp.isdir(path):
        marker = osp.join(path, 'last_checkpoint')
        if osp.isfile(marker):
            with open(marker) as f:
                ckpt = f.read().strip()
            if not osp.isabs(ckpt) and not osp.isfile(ckpt):
                ckpt = osp.join(path, osp.basename(ckpt))
            if osp.isfile(ckpt):
                return ckpt
            raise FileNotFoundError(f'{marker} points to {ckpt}, which does not exist')
        raise FileNotFoundError(f'{path} is a directory without a last_checkpoint file')
    raise FileNotFoundError(f'hand-off checkpoint {path} does not exist')


def map_state_dict(
        state_dict: Dict[str, torch.Tensor],
        prefix_mapping: Optional[Dict[str, str]] = None,
        key_mapping: Optional[Sequence[Tuple[str, str]]] = None
) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Rename the keys of a state dict.

    First ``prefix_mapping`` (``{old_prefix: new_prefix}``; the longest matching prefix
    wins; when it is given, keys matching no prefix are dropped), then every
    ``(pattern, replacement)`` of ``key_mapping`` is applied with :func:`re.sub` in
    order; a replacement that yields an empty string drops the key.

    Args:
        state_dict (dict[str, Tensor]): Source weights.
        prefix_mapping (dict[str, str], optional): Prefix renames.
        key_mapping (Sequence[tuple[str, str]], optional): Regex renames.

    Returns:
        tuple[dict[str, Tensor], list[str]]: The renamed state dict and the source keys
        that were dropped.

    Raises:
        ValueError: If two source keys map to the same target key.

    Example:
        >>> sd = {'backbone.conv.weight': 1, 'head.fc.weight': 2}
        >>> map_state_dict(sd, prefix_mapping={'backbone.': 'backbone.gv_global.'})
        ({'backbone.gv_global.conv.weight': 1}, ['head.fc.weight'])
    """
    prefixes = sorted((prefix_mapping or {}).items(), key=lambda kv: -len(kv[0]))
    compiled = [(re.compile(p), r) for p, r in (key_mapping or [])]
    mapped: Dict[str, torch.Tensor] = OrderedDict()
    origin: Dict[str, str] = {}
    dropped: List[str] = []
    for key, value in state_dict.items():
        new_key: Optional[str] = key
        if prefixes:
            new_key = None
            for old, new in prefixes:
                if key.startswith(old):
                    new_key = new + key[len(old):]
                    break
        if new_key is not None:
            for pattern, repl in compiled:
                new_key = pattern.sub(repl, new_key)
        if not new_key:
            dropped.append(key)
            continue
        if new_key in mapped:
            raise ValueError(f'key mapping sends both {origin[new_key]!r} and {key!r} '
                             f'to {new_key!r}')
        mapped[new_key] = value
        origin[new_key] = key
    return mapped, dropped


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
        ckpt = _load_checkpoint(ckpt_file, map_location='cpu')
        state_dict = ckpt.get(self.state_dict_key, ckpt) if isinstance(ckpt, dict) else ckpt
        state_dict = OrderedDict(
            (k[7:] if k.startswith('module.') else k, v) for k, v in state_dict.items())
        mapped, dropped = map_state_dict(state_dict, self.prefix_mapping, self.key_mapping)
        own = model.state_dict()
        loadable, mismatched = OrderedDict(), []
        for key, value in mapped.items():
            if key in own and tuple(own[key].shape) != tuple(value.shape):
                mismatched.append(f'{key}: checkpoint {tuple(value.shape)} vs model '
                                  f'{tuple(own[key].shape)}')
            else:
                loadable[key] = value
        mismatched_keys = {m.split(':')[0] for m in mismatched}
        backup = {k: v.detach().clone() for k, v in own.items()} if self.strict else None
        # The modules' own loading hooks decide what matches (e.g. TaskBatchNorm2d reads
        # plain single-BN keys into every task's BN).
        result = model.load_state_dict(loadable, strict=False)
        unexpected = list(result.unexpected_keys)
        missing = [k for k in result.missing_keys if k not in mismatched_keys]
        if self.target_prefixes:
            missing = [k for k in missing if any(k.startswith(p) for p in self.target_prefixes)]
        unexpected_set = set(unexpected)
        report = dict(
            checkpoint=ckpt_file,
            loaded=[k for k in loadable if k not in unexpected_set],
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
