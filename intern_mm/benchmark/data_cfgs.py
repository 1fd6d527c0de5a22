"""Dataset and pipeline configs of the GV-B protocols.

Every GV-B classification set is read by mmpretrain's ``CustomDataset``, either from an
ImageFolder tree (``<root>/<split>/<class>/*.jpg``) or from an annotation list
(``relative/path.jpg <label>`` lines, what the converters and ``make_subset.py`` write).
Detection uses mmdet's ``XMLDataset``/``VOCDataset`` (Pascal-VOC XML) or ``CocoDataset``,
segmentation mmseg's ``BaseSegDataset`` family and depth mmseg's ``NYUDataset`` layout.

Example:
    >>> cfg = cls_dataset_cfg('/data/cifar10', data_prefix='train', img_size=32)
    >>> cfg['type']
    'mmpretrain.CustomDataset'
"""
import copy
from typing import List, Optional, Sequence, Union

from .protocol_data import set_cls_sizes
from .protocols import load_template

__all__ = [
    'cls_pipeline', 'cls_train_pipeline', 'cls_dataset_cfg', 'IMAGENET_MEAN',
    'IMAGENET_STD'
]

IMAGENET_MEAN = [123.675, 116.28, 103.53]
IMAGENET_STD = [58.395, 57.12, 57.375]


def _scoped(pipeline: List[dict]) -> List[dict]:
    return [dict(t, type=f"mmpretrain.{t['type']}") for t in pipeline]


def cls_pipeline(img_size: int = 224, resize_size: Optional[int] = None) -> List[dict]:
    """The GV-B probe pipeline: resize the short side, centre crop, no augmentation (the
    test pipeline of ``configs/gvb/_base_/cls.py``).

    Args:
        img_size (int): Crop size. Defaults to 224 (the published recipe).
        resize_size (int, optional): Short-side size before cropping. Defaults to
            ``img_size`` (resize 224 + centre crop 224).

    Returns:
        list[dict]: mmpretrain transform configs (scope-prefixed types).
    """
    pipeline = load_template('cls', 'probe')['test_dataloader']['dataset']['pipeline']
    return _scoped(set_cls_sizes(pipeline, img_size, resize_size))


def cls_train_pipeline(img_size: int = 224) -> List[dict]:
    """Augmented pipeline of the full fine-tuning mode (random resized crop + flip; the
    training pipeline of ``configs/gvb/_base_/cls_finetune.py``).

    Args:
        img_size (int): Crop size. Defaults to 224.

    Returns:
        list[dict]: mmpretrain transform configs (scope-prefixed types).
    """
    pipeline = load_template('cls', 'finetune')['train_dataloader']['dataset']['pipeline']
    return _scoped(set_cls_sizes(pipeline, img_size))


def cls_dataset_cfg(data_root: str,
                    ann_file: str = '',
                    data_prefix: str = '',
                    classes: Optional[Union[str, Sequence[str]]] = None,
                    img_size: int = 224,
                    pipeline: Optional[List[dict]] = None,
                    resize_size: Optional[int] = None) -> dict:
    """Config of an mmpretrain ``CustomDataset`` with the GV-B probe pipeline.

    Args:
        data_root (str): Dataset root.
        ann_file (str): Annotation list (``path label`` lines) relative to ``data_root``
            or absolute; empty for an ImageFolder scan of ``data_prefix``.
        data_prefix (str): Image folder prefix. Defaults to ``''``.
        classes (str | Sequence[str], optional): Class names or a ``classes.txt`` file.
        img_size (int): Crop size. Defaults to 224.
        pipeline (list[dict], optional): Overrides the probe pipeline.
        resize_size (int, optional): Short-side resize before the crop.

    Returns:
        dict: The dataset config.
    """
    cfg = dict(
        type='mmpretrain.CustomDataset',
        data_root=data_root,
        ann_file=ann_file,
        data_prefix=data_prefix,
        pipeline=copy.deepcopy(pipeline) if pipeline is not None else cls_pipeline(
            img_size, resize_size))
    if classes is not None:
        cfg['classes'] = classes if isinstance(classes, str) else list(classes)
    return cfg
