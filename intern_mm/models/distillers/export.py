"""Export the student of a :class:`FeatureDistiller` checkpoint as a plain backbone."""
import os
import os.path as osp
from collections import OrderedDict
from typing import Optional

import torch

__all__ = ['export_student']


def export_student(checkpoint: str, out_file: str, prefix: str = 'student.',
                   backbone_cfg: Optional[dict] = None) -> str:
    """Write the student weights of a distiller checkpoint as ``backbone.*`` keys.

    The result loads like every other stage export, e.g. into the student architecture
    with ``init_cfg=dict(type='Pretrained', checkpoint=out_file, prefix='backbone.')``
    or with :func:`intern_mm.models.utils.load_backbone_weights`. Keys are read with
    mmengine's own prefix loader (the one ``Pretrained(prefix=...)`` uses).

    Args:
        checkpoint (str): A ``FeatureDistiller`` checkpoint (``student.*`` keys).
        out_file (str): Output ``.pth`` path (folders are created).
        prefix (str): Key prefix of the student. Defaults to ``'student.'``.
        backbone_cfg (dict, optional): Student backbone config stored in ``meta``.

    Returns:
        str: ``out_file``.

    Raises:
        FileNotFoundError: If ``checkpoint`` does not exist.
        KeyError: If it holds no ``<prefix>*`` weights.

    Example:
        >>> # export_student('work_dirs/distill/iter_300.pth', 'student.pth')
        >>> # MODELS.build(dict(type='MetaNet', arch=..., init_cfg=dict(
        >>> #     type='Pretrained', checkpoint='student.pth', prefix='backbone.')))
    """
    from mmengine.runner.checkpoint import _load_checkpoint_with_prefix
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'distiller checkpoint {checkpoint} does not exist')
    try:
        student = _load_checkpoint_with_prefix(prefix, checkpoint, map_location='cpu')
    except AssertionError:
        raise KeyError(f'{checkpoint} holds no {prefix}* weights (not a FeatureDistiller '
                       'checkpoint?)') from None
    state = OrderedDict(('backbone.' + k, v) for k, v in student.items())
    if osp.dirname(out_file):
        os.makedirs(osp.dirname(out_file), exist_ok=True)
    meta = dict(source=osp.abspath(checkpoint), backbone_cfg=backbone_cfg)
    torch.save(dict(state_dict=state, meta=meta), out_file)
    return out_file
