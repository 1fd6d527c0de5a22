"""Export an Up-G checkpoint as ``cls-bn`` / ``det-bn`` task models and a plain backbone."""
import os
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, Optional, Sequence

import torch
from mmengine.runner.checkpoint import _load_checkpoint

__all__ = ['select_bn_task', 'export_generalist']

_BNS = re.compile(r'\.bns\.([^.]+)\.')


def select_bn_task(state_dict: Dict[str, torch.Tensor],
                   task: str) -> 'OrderedDict[str, torch.Tensor]':
    """Turn task-specific BN keys (``x.bns.<task>.weight``) into plain ones (``x.weight``).

    The BN set ``task`` is kept, the other sets are dropped; keys without task BN pass
    unchanged.

    Args:
        state_dict (dict[str, Tensor]): Weights with ``TaskBatchNorm2d`` layers.
        task (str): The BN set to keep.

    Returns:
        OrderedDict[str, Tensor]: Plain-BN weights.

    Raises:
        KeyError: If the state dict has task BN but none for ``task``.

    Example:
        >>> sd = {'bn.bns.cls.weight': 1, 'bn.bns.det.weight': 2, 'conv.weight': 3}
        >>> dict(select_bn_task(sd, 'det'))
        {'bn.weight': 2, 'conv.weight': 3}
    """
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    seen = set()
    for key, value in state_dict.items():
        m = _BNS.search(key)
        if m is None:
            out[key] = value
            continue
        seen.add(m.group(1))
        if m.group(1) == task:
            out[key[:m.start()] + '.' + key[m.end():]] = value
    if seen and task not in seen:
        raise KeyError(f'no task-specific BN set {task!r} in the checkpoint (has '
                       f'{sorted(seen)})')
    return out


def _sub(state: Dict[str, torch.Tensor], prefix: str, new_prefix: str = '') -> Dict:
    return OrderedDict((new_prefix + k[len(prefix):], v) for k, v in state.items()
                       if k.startswith(prefix))


def export_generalist(checkpoint: str,
                      out_dir: str,
                      bn_tasks: Sequence[str] = ('cls', 'det'),
                      backbone_bn: str = 'cls',
                      task_models: Optional[Dict[str, str]] = None,
                      backbone_cfg: Optional[dict] = None) -> Dict[str, str]:
    """Write the release-style Up-G checkpoints from a trained generalist.

    * ``<bn>-bn.pth`` for each ``bn`` of ``bn_tasks``: the shared backbone with that BN
      set in plain layout (``backbone.*``) plus the heads of the task model named by
      ``task_models[bn]`` with the generalist's ``tasks.<task>.`` prefix removed
      (``head.*`` / ``neck.*``, ``rpn_head.*``, ``roi_head.*``), i.e. loadable by the
      stock classifier / detector with the same (plain-BN) CentralModel backbone.
    * ``backbone.pth``: only ``backbone.*`` with the ``backbone_bn`` set, for downstream
      use (``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``).

    A generalist without task-specific BN exports the same backbone weights in every file.

    Args:
        checkpoint (str): The Up-G (``GeneralistModel``) checkpoint.
        out_dir (str): Output directory.
        bn_tasks (Sequence[str]): BN sets to export. Defaults to ``('cls', 'det')``.
        backbone_bn (str): BN set of ``backbone.pth``. Defaults to ``'cls'`` (the main
            stream is the classification expert).
        task_models (dict[str, str], optional): ``{bn set: task}`` whose heads go into
            ``<bn>-bn.pth``. Defaults to the task of the same name when present.
        backbone_cfg (dict, optional): Backbone config stored in each file's ``meta``.

    Returns:
        dict[str, str]: ``{'cls-bn': path, 'det-bn': path, 'backbone': path}``.

    Raises:
        FileNotFoundError: If ``checkpoint`` does not exist.
        KeyError: If it holds no ``backbone.*`` weights.
    """
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'Up-G checkpoint {checkpoint} does not exist')
    ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    state = OrderedDict((k[7:] if k.startswith('module.') else k, v) for k, v in state.items())
    if not any(k.startswith('backbone.') for k in state):
        raise KeyError(f'{checkpoint} holds no backbone.* weights (not an Up-G checkpoint?)')
    os.makedirs(out_dir, exist_ok=True)
    tasks_in_ckpt = {k.split('.')[1] for k in state if k.startswith('tasks.')}
    task_models = dict(task_models or {})
    meta = dict(source=osp.abspath(checkpoint), backbone_cfg=backbone_cfg)
    written = {}
    for bn in list(bn_tasks):
        plain = select_bn_task(_sub(state, 'backbone.', 'backbone.'), bn)
        task = task_models.get(bn, bn if bn in tasks_in_ckpt else None)
        if task is not None:
            if task not in tasks_in_ckpt:
                raise KeyError(f'task {task!r} has no weights in {checkpoint} (tasks: '
                               f'{sorted(tasks_in_ckpt)})')
            plain.update(_sub(state, f'tasks.{task}.'))
        path = osp.join(out_dir, f'{bn}-bn.pth')
        torch.save(dict(state_dict=plain, meta=dict(meta, bn_task=bn, task=task)), path)
        written[f'{bn}-bn'] = path
    backbone = select_bn_task(_sub(state, 'backbone.', 'backbone.'), backbone_bn)
    path = osp.join(out_dir, 'backbone.pth')
    torch.save(dict(state_dict=backbone, meta=dict(meta, bn_task=backbone_bn)), path)
    written['backbone'] = path
    return written
