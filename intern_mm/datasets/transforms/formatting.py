"""Packing of image views and text views into model inputs."""
from typing import Sequence

from mmcv.transforms import BaseTransform

from intern_mm.registry import TRANSFORMS

__all__ = ['PackImageTextInputs']


@TRANSFORMS.register_module()
class PackImageTextInputs(BaseTransform):
    """Pack image views and text token ids for :class:`ImageTextDataPreprocessor`.

    Images (one array or the list that mmpretrain's ``MultiView`` produces) are
    converted with ``mmpretrain.datasets.PackInputs.format_input`` (HWC -> CHW tensor).

    Required keys: ``img`` and/or ``text_ids``. Output:
    ``dict(inputs=dict(imgs=[CHW tensor per view], texts=[1-D ids per view]),
    data_samples=mmpretrain DataSample)`` whose metainfo holds ``meta_keys`` (and
    ``text``, the caption before augmentation, when present).

    Args:
        meta_keys (Sequence[str]): Keys copied into the data sample's metainfo when
            present. Defaults to ``('sample_idx', 'img_path', 'ori_shape', 'img_shape',
            'text', 'caption_id')``.

    Example:
        >>> import numpy as np, torch
        >>> out = PackImageTextInputs()(dict(img=[np.zeros((4, 4, 3), np.uint8)] * 2,
        ...                                  text_ids=[torch.tensor([2, 3])]))
        >>> len(out['inputs']['imgs']), out['inputs']['imgs'][0].shape
        (2, torch.Size([3, 4, 4]))
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('sample_idx', 'img_path', 'ori_shape',
                                             'img_shape', 'text', 'caption_id')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack the results."""
        from mmpretrain.datasets.transforms import PackInputs
        from mmpretrain.structures import DataSample

        inputs = {}
        if 'img' in results:
            imgs = results['img']
            imgs = list(imgs) if isinstance(imgs, (list, tuple)) else [imgs]
            inputs['imgs'] = [PackInputs.format_input(img) for img in imgs]
        if 'text_ids' in results:
            inputs['texts'] = list(results['text_ids'])
        if not inputs:
            raise KeyError('PackImageTextInputs needs "img" and/or "text_ids" in results')
        sample = DataSample()
        sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
