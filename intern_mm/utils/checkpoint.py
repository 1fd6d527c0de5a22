"""Checkpoints in one place: read, unwrap, rename keys, compare with a model's keys, locate
a work dir's last one and the one an interrupted run resumes from.

Every intern_mm component that turns a checkpoint into a state dict, or checks one against
a model (:func:`compare_state_dicts`, :func:`load_state_dict_diff`), goes through this
module (:class:`~intern_mm.engine.hooks.StageHandoffHook`,
:meth:`~intern_mm.models.backbones.CentralModel.load_experts`, the GV-B backbone loader,
the Up-G export, the GV-B checkpoint converter, the backbones' ``_load_from_state_dict``
and the paradigm's stage runner). The task-specific BN layout
(``<bn>.bns.<task>.<entry>``) is owned by :mod:`intern_mm.models.backbones.task_norm`
(:func:`~intern_mm.models.backbones.task_norm.select_bn_task` /
:func:`~intern_mm.models.backbones.task_norm.merge_task_bn`).

Trust: :func:`read_checkpoint` unpickles local files with ``weights_only=False``
(mmengine's own checkpoints hold ``HistoryBuffer`` / numpy objects in ``message_hub`` and
``meta``). mmengine's own local loader gets the same treatment only where the installed
torch / mmengine pair needs it (``checkpoint_loader`` in :mod:`intern_mm.utils.compat`).
Only read checkpoints you trust, as with any pickle.

Example:
    >>> from intern_mm.utils.checkpoint import read_state_dict, select_prefix
    >>> state = read_state_dict('work_dirs/up-e-cls')  # doctest: +SKIP
    >>> backbone = select_prefix(state, 'backbone.')  # doctest: +SKIP
"""
import glob
import os.path as osp
import re
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log

__all__ = [
    'find_resumable_checkpoint',
    'read_checkpoint', 'unwrap_state_dict', 'read_state_dict', 'select_prefix',
    'backbone_state_dict', 'has_prefix', 'map_state_dict', 'strip_backbone_prefix',
    'last_checkpoint', 'resolve_checkpoint', 'WRAPPER_KEYS', 'StateDictDiff',
    'compare_state_dicts', 'load_state_dict_diff'
]

StateDict = Dict[str, torch.Tensor]

#: Entries that wrap the weights in a checkpoint file, tried in this order
#: (mmengine: ``state_dict``; other trainers: ``model`` / ``module`` / ``net``).
WRAPPER_KEYS = ('state_dict', 'model', 'module', 'net')


def read_checkpoint(source: Union[str, dict],
                    map_location: Optional[Union[str, Callable]] = 'cpu') -> dict:
    """Read a trusted checkpoint file (``weights_only=False``) or pass a loaded one through.

    Local files are read with :func:`torch.load`; other URIs (``http://``, ``s3://``,
    ...) go through mmengine's ``CheckpointLoader``.

    Args:
        source (str | dict): Path / URI, or an already loaded checkpoint (returned as is).
        map_location (str | Callable, optional): Passed to :func:`torch.load`.
            Defaults to ``'cpu'``.

    Returns:
        dict: The checkpoint object.

    Raises:
        FileNotFoundError: If a local ``source`` does not exist (the message names it).

    Example:
        >>> read_checkpoint({'state_dict': {}})
        {'state_dict': {}}
    """
    if not isinstance(source, str):
        return source
    if '://' in source:
        from mmengine.runner.checkpoint import CheckpointLoader
        return CheckpointLoader.load_checkpoint(source, map_location=map_location)
    filename = osp.expanduser(source)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file {filename} does not exist')
    return torch.load(filename, map_location=map_location, weights_only=False)


def unwrap_state_dict(checkpoint: dict,
                      wrapper_keys: Sequence[str] = WRAPPER_KEYS) -> 'OrderedDict':
    """The weights inside a checkpoint: descend into wrapper entries, strip ``module.``.

    Args:
        checkpoint (dict): A loaded checkpoint or a bare state dict.
        wrapper_keys (Sequence[str]): Wrapper entries tried in order at every level.
            Defaults to :data:`WRAPPER_KEYS`.

    Returns:
        OrderedDict: The state dict; a leading ``module.`` (DDP / DataParallel) is
        removed from every key, as mmengine's ``revise_keys`` default does.

    Raises:
        TypeError: If no dict is found.

    Example:
        >>> unwrap_state_dict({'meta': {}, 'state_dict': {'module.conv.weight': 1}})
        OrderedDict([('conv.weight', 1)])
    """
    obj = checkpoint
    while isinstance(obj, dict):
        inner = next((obj[k] for k in wrapper_keys if isinstance(obj.get(k), dict)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, dict):
        raise TypeError(f'expected a (wrapped) state dict, got {type(obj).__name__}')
    return OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v) for k, v in obj.items())


def read_state_dict(source: Union[str, dict],
                    map_location: Optional[Union[str, Callable]] = 'cpu',
                    wrapper_keys: Sequence[str] = WRAPPER_KEYS) -> 'OrderedDict':
    """:func:`resolve_checkpoint` (for paths), :func:`read_checkpoint` and
    :func:`unwrap_state_dict` in one call.

    Args:
        source (str | dict): Checkpoint file, stage work dir, URI or loaded checkpoint.
        map_location (str | Callable, optional): Defaults to ``'cpu'``.
        wrapper_keys (Sequence[str]): See :func:`unwrap_state_dict`.

    Returns:
        OrderedDict: The unwrapped state dict.

    Example:
        >>> read_state_dict({'model': {'w': 1}})
        OrderedDict([('w', 1)])
    """
    if isinstance(source, str) and '://' not in source:
        source = resolve_checkpoint(source)
    return unwrap_state_dict(read_checkpoint(source, map_location), wrapper_keys)


def has_prefix(state_dict: StateDict, prefix: str) -> bool:
    """Whether any key of ``state_dict`` starts with ``prefix``."""
    return any(k.startswith(prefix) for k in state_dict)


def select_prefix(state_dict: StateDict, prefix: str, new_prefix: str = '') -> 'OrderedDict':
    """The entries under ``prefix``, renamed to ``new_prefix``; others are left out.

    Args:
        state_dict (dict[str, Tensor]): Weights.
        prefix (str): Key prefix to keep (``''`` keeps every key).
        new_prefix (str): Replacement of ``prefix``. Defaults to ``''``.

    Returns:
        OrderedDict: The selected, renamed entries.

    Example:
        >>> select_prefix({'backbone.a': 1, 'head.b': 2}, 'backbone.')
        OrderedDict([('a', 1)])
    """
    return OrderedDict((new_prefix + k[len(prefix):], v) for k, v in state_dict.items()
                       if k.startswith(prefix))


def backbone_state_dict(state_dict: StateDict, prefix: str = 'backbone.') -> 'OrderedDict':
    """A backbone's weights from a whole-model or a backbone-only state dict.

    Args:
        state_dict (dict[str, Tensor]): Unwrapped weights.
        prefix (str): Prefix of the backbone in a whole model. Defaults to
            ``'backbone.'``.

    Returns:
        OrderedDict: The ``prefix`` entries without it when there are any, else
        ``state_dict`` unchanged (a backbone-only checkpoint).

    Example:
        >>> backbone_state_dict({'backbone.a': 1, 'head.b': 2})
        OrderedDict([('a', 1)])
        >>> backbone_state_dict({'a': 1})
        OrderedDict([('a', 1)])
    """
    if has_prefix(state_dict, prefix):
        return select_prefix(state_dict, prefix)
    return OrderedDict(state_dict)


def map_state_dict(
        state_dict: StateDict,
        prefix_mapping: Optional[Dict[str, str]] = None,
        key_mapping: Optional[Sequence[Tuple[str, str]]] = None) -> Tuple[StateDict, List[str]]:
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
        (OrderedDict([('backbone.gv_global.conv.weight', 1)]), ['head.fc.weight'])
    """
    prefixes = sorted((prefix_mapping or {}).items(), key=lambda kv: -len(kv[0]))
    compiled = [(re.compile(p), r) for p, r in (key_mapping or [])]
    mapped: StateDict = OrderedDict()
    origin: Dict[str, str] = {}
    dropped: List[str] = []
    for key, value in state_dict.items():
        new_key: Optional[str] = key
        if prefixes:
            new_key = next((new + key[len(old):] for old, new in prefixes
                            if key.startswith(old)), None)
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


def strip_backbone_prefix(state_dict: dict, prefix: str) -> None:
    """Rename ``<prefix>backbone.<key>`` to ``<prefix><key>`` in place.

    Called from a backbone's ``_load_from_state_dict`` so that converted checkpoints
    (keys ``backbone.*``) load both through ``init_cfg=dict(type='Pretrained',
    checkpoint=..., prefix='backbone.')`` and without the prefix argument. Only for
    modules without a ``backbone`` child.

    Args:
        state_dict (dict): The state dict being loaded (modified in place).
        prefix (str): The module's prefix inside it.

    Example:
        >>> sd = {'backbone.stem.0.weight': 1}
        >>> strip_backbone_prefix(sd, '')
        >>> sd
        {'stem.0.weight': 1}
    """
    old = prefix + 'backbone.'
    for key in [k for k in state_dict if k.startswith(old)]:
        new = prefix + key[len(old):]
        if new not in state_dict:  # never shadow an unprefixed entry
            state_dict[new] = state_dict.pop(key)


Shape = Tuple[int, ...]


@dataclass
class StateDictDiff:
    """How a state dict differs from the one a model expects.

    Its ``len`` is the number of differing keys, so it is true when it differs.

    Args:
        missing (list[str]): Expected keys the state dict lacks.
        unexpected (list[str]): Keys of the state dict the model does not have.
        mismatched (dict[str, tuple]): ``key -> (shape in the state dict, shape in the
            model)`` for the keys of both whose shapes differ.
    """
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: Dict[str, Tuple[Shape, Shape]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.missing) + len(self.unexpected) + len(self.mismatched)

    def mismatch_lines(self) -> List[str]:
        """``'<key>: checkpoint <shape> vs model <shape>'`` per shape mismatch."""
        return [f'{k}: checkpoint {got} vs model {want}'
                for k, (got, want) in self.mismatched.items()]

    def summary(self) -> str:
        """One line: the count and first key of each kind of difference.

        Example:
            >>> StateDictDiff(missing=['a', 'b'], unexpected=['c']).summary()
            '2 keys missing from it (first: a); 1 unexpected keys (first: c)'
        """
        parts = [f'{len(keys)} {what} (first: {keys[0]})' for what, keys in (
            ('keys missing from it', self.missing), ('unexpected keys', self.unexpected),
            ('keys of another shape', list(self.mismatched))) if keys]
        return '; '.join(parts) or 'keys and shapes match'


def _shape(value) -> Optional[Shape]:
    shape = getattr(value, 'shape', None)
    return None if shape is None else tuple(shape)


def compare_state_dicts(expected: StateDict, actual: StateDict) -> StateDictDiff:
    """Compare the keys and shapes of ``actual`` (a checkpoint) with ``expected``.

    A pure comparison of names: modules' loading hooks (e.g. ``TaskBatchNorm2d`` reading
    plain BN keys) are not consulted; :func:`load_state_dict_diff` loads through them.

    Args:
        expected (dict[str, Tensor]): The model's state dict (may live on the meta device).
        actual (dict[str, Tensor]): The state dict to check.

    Returns:
        StateDictDiff: Missing keys in ``expected``'s order, unexpected keys in
        ``actual``'s, shape mismatches in ``expected``'s.

    Example:
        >>> diff = compare_state_dicts({'w': torch.zeros(2), 'b': torch.zeros(1)},
        ...                            {'w': torch.zeros(3), 'x': torch.zeros(1)})
        >>> diff.missing, diff.unexpected, diff.mismatched
        (['b'], ['x'], {'w': ((3,), (2,))})
    """
    return StateDictDiff(
        missing=[k for k in expected if k not in actual],
        unexpected=[k for k in actual if k not in expected],
        mismatched={k: (_shape(actual[k]), _shape(v)) for k, v in expected.items()
                    if k in actual and _shape(actual[k]) != _shape(v)})


def load_state_dict_diff(module: nn.Module, state_dict: StateDict) -> StateDictDiff:
    """Load what fits of ``state_dict`` into ``module`` and return what did not.

    Entries whose shape differs from the module's (:func:`compare_state_dicts`) are not
    loaded; the rest load with ``strict=False`` through the modules' own loading hooks,
    which decide the missing and unexpected keys (e.g. ``TaskBatchNorm2d`` reads a plain
    BN's keys into every task's BN).

    Args:
        module (nn.Module): The model (changed in place).
        state_dict (dict[str, Tensor]): The weights.

    Returns:
        StateDictDiff: The keys that did not load.

    Example:
        >>> net = nn.Linear(2, 1)
        >>> load_state_dict_diff(net, {'weight': torch.ones(1, 2)}).missing
        ['bias']
    """
    mismatched = compare_state_dicts(module.state_dict(), state_dict).mismatched
    result = module.load_state_dict(
        OrderedDict((k, v) for k, v in state_dict.items() if k not in mismatched),
        strict=False)
    return StateDictDiff(missing=[k for k in result.missing_keys if k not in mismatched],
                         unexpected=list(result.unexpected_keys), mismatched=mismatched)


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint named by a work dir's ``last_checkpoint`` marker, if it exists.

    The marker is read with mmengine's ``find_latest_checkpoint``; a relative or stale
    path (a moved work dir) falls back to the file of the same name inside ``work_dir``.

    Args:
        work_dir (str): An mmengine work dir.

    Returns:
        str | None: Absolute path of the checkpoint, or None without a marker or when
        the file it names is gone.

    Example:
        >>> last_checkpoint('/nonexistent') is None
        True
    """
    if not osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        return None
    from mmengine.runner.checkpoint import find_latest_checkpoint
    ckpt = find_latest_checkpoint(work_dir)
    if not ckpt:
        return None
    for candidate in (ckpt, osp.join(work_dir, osp.basename(ckpt))):
        if osp.isfile(candidate):
            return osp.abspath(candidate)
    return None


def resolve_checkpoint(path: str) -> str:
    """Resolve a checkpoint file, or a work dir holding mmengine's ``last_checkpoint``.

    Args:
        path (str): A ``.pth`` file or an mmengine work dir.

    Returns:
        str: The checkpoint file (``path`` itself when it is a file).

    Raises:
        FileNotFoundError: If neither a file nor a work dir with a readable
            ``last_checkpoint`` exists at ``path`` (the message names it).

    Example:
        >>> resolve_checkpoint('work_dirs/up-e-cls')  # doctest: +SKIP
        '/abs/work_dirs/up-e-cls/iter_400.pth'
    """
    if osp.isfile(path):
        return path
    if not osp.isdir(path):
        raise FileNotFoundError(f'checkpoint {path} does not exist')
    marker = osp.join(path, 'last_checkpoint')
    if not osp.isfile(marker):
        raise FileNotFoundError(f'{path} is a directory without a last_checkpoint file')
    ckpt = last_checkpoint(path)
    if ckpt is None:
        with open(marker) as f:
            named = f.read().strip()
        raise FileNotFoundError(f'{marker} points to {named}, which does not exist')
    return ckpt


_CKPT_STEP = re.compile(r'(?:iter|epoch)_(\d+)\.pth$')


def _complete_zip(path: str) -> bool:
    """Whether ``path`` is a fully written torch (zip) checkpoint."""
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.testzip() is None
    except (OSError, zipfile.BadZipFile):
        return False


def find_resumable_checkpoint(path: str) -> Optional[str]:
    """The checkpoint of ``path`` to resume from (mmengine's ``find_latest_checkpoint``).

    mmengine writes ``last_checkpoint`` after the checkpoint itself, and deletes old
    checkpoints (``max_keep_ckpts``) before writing the new one. A process killed in
    between leaves ``last_checkpoint`` empty or naming a deleted file, and auto-resume
    then fails. Here a ``last_checkpoint`` naming an existing file is used as mmengine
    does; otherwise the newest complete ``iter_*.pth`` / ``epoch_*.pth`` of ``path`` (a
    file cut off by the kill is skipped), with a warning.

    Args:
        path (str): The work dir.

    Returns:
        str | None: The checkpoint, or None when there is none.

    Example:
        >>> find_resumable_checkpoint('work_dirs/demo')  # doctest: +SKIP
        'work_dirs/demo/iter_300.pth'
    """
    marker = osp.join(path, 'last_checkpoint')
    named = None
    if osp.isfile(marker):
        with open(marker) as f:
            named = f.read().strip() or None
        if named and osp.isfile(named):
            return named
    candidates = []
    for ckpt in glob.glob(osp.join(path, '*.pth')):
        match = _CKPT_STEP.search(osp.basename(ckpt))
        if match:
            candidates.append((int(match.group(1)), ckpt))
    for _, ckpt in sorted(candidates, reverse=True):
        if _complete_zip(ckpt):
            if osp.isfile(marker):
                print_log(f'{marker} names {named!r}, which does not exist (interrupted '
                          f'while saving); resuming from {ckpt}', logger='current',
                          level=30)
            return ckpt
    if osp.isfile(marker):
        print_log(f'{marker} names {named!r}, which does not exist, and {path} holds no '
                  'complete checkpoint: starting from scratch', logger='current', level=30)
    else:
        print_log('Did not find last_checkpoint to be resumed.', logger='current')
    return None
