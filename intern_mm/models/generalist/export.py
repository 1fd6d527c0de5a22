"""Export an Up-G checkpoint as ``cls-bn`` / ``det-bn`` task models and a plain backbone."""
import os
import os.path as osp
from typing import Dict, Optional, Sequence

import torch

from intern_mm.models.backbones.task_norm import select_bn_task
from intern_mm.utils.checkpoint import has_prefix, read_state_dict, select_prefix

__all__ = ['export_generalist']

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
    state = read_state_dict(checkpoint)
    if not has_prefix(state, 'backbone.'):
        raise KeyError(f'{checkpoint} holds no backbone.* weights (not an Up-G checkpoint?)')
    os.makedirs(out_dir, exist_ok=True)
    tasks_in_ckpt = {k.split('.')[1] for k in state if k.startswith('tasks.')}
    meta = dict(source=osp.abspath(checkpoint), backbone_cfg=backbone_cfg)
    backbone, written = select_prefix(state, 'backbone.', 'backbone.'), {}
    for bn in list(bn_tasks):
        plain = select_bn_task(backbone, bn)
        task = (task_models or {}).get(bn, bn if bn in tasks_in_ckpt else None)
        if task is not None:
            if task not in tasks_in_ckpt:
                raise KeyError(f'task {task!r} has no weights in {checkpoint} (tasks: '
                               f'{sorted(tasks_in_ckpt)})')
            plain.update(select_prefix(state, f'tasks.{task}.'))
        path = osp.join(out_dir, f'{bn}-bn.pth')
        torch.save(dict(state_dict=plain, meta=dict(meta, bn_task=bn, task=task)), path)
        written[f'{bn}-bn'] = path
    path = osp.join(out_dir, 'backbone.pth')
    torch.save(dict(state_dict=select_bn_task(backbone, backbone_bn),
                    meta=dict(meta, bn_task=backbone_bn)), path)
    written['backbone'] = path
    return written
