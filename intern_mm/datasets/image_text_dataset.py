"""Image-caption dataset in the mmengine ``BaseDataset`` annotation format (GV world)."""
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.dataset import BaseDataset

from intern_mm.registry import DATASETS

__all__ = ['ImageTextDataset']


@DATASETS.register_module()
class ImageTextDataset(BaseDataset):
    """Images with one or more captions each, e.g. the GV world's ``captions/{split}.json``.

    The annotation file is a standard mmengine ``BaseDataset`` file::

        {"metainfo": {...},
         "data_list": [{"img_path": "images/train/000000.png",
                        "captions": ["a red striped circle and a blue star", ...]}]}

    ``img_path`` is joined with ``data_prefix['img_path']`` (relative to ``data_root``).
    Each data info gets ``captions`` (list of str) and ``caption_id`` / ``caption``
    absent: the pipeline chooses a caption (:class:`RandomCaption`).

    Args:
        ann_file (str): Annotation file, e.g. ``'captions/train.json'``.
        data_root (str): Root of the world. Defaults to ``''``.
        data_prefix (dict): Prefix of ``img_path``. Defaults to ``dict(img_path='')``.
        pipeline (Sequence[dict]): Transforms. Defaults to ``()``.
        max_captions (int, optional): Keep at most this many captions per image.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments
            (``test_mode``, ``indices``, ``lazy_init``, ...).

    Example:
        >>> ds = ImageTextDataset(data_root='data/gv_world',
        ...                       ann_file='captions/train.json')  # doctest: +SKIP
        >>> ds[0]['captions'][0]  # doctest: +SKIP
        'a cyan circle, a red striped star and a green dotted triangle'
    """

    METAINFO = dict(dataset_type='image_text')

    def __init__(self,
                 ann_file: str,
                 data_root: str = '',
                 data_prefix: dict = dict(img_path=''),
                 pipeline: Sequence = (),
                 max_captions: Optional[int] = None,
                 **kwargs) -> None:
        if max_captions is not None and max_captions < 1:
            raise ValueError(f'max_captions must be >= 1, got {max_captions}')
        self.max_captions = max_captions
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            pipeline=list(pipeline),
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Load the annotation file, raising clear errors on a bad file."""
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'caption annotation file {self.ann_file} does not '
                                    'exist (generate the world with '
                                    'tools/dataset_converters/make_gv_world.py)')
        return super().load_data_list()

    def parse_data_info(self, raw_data_info: dict) -> dict:
        """Validate one record and join its image path with the prefix.

        Args:
            raw_data_info (dict): One entry of ``data_list``.

        Returns:
            dict: ``img_path`` (full path) and ``captions`` (list of str).
        """
        if 'img_path' not in raw_data_info:
            raise KeyError(f'{self.ann_file}: a record has no "img_path": {raw_data_info}')
        captions = raw_data_info.get('captions')
        if isinstance(captions, str):
            captions = [captions]
        if (not isinstance(captions, list) or not captions
                or not all(isinstance(c, str) and c.strip() for c in captions)):
            raise ValueError(f'{self.ann_file}: record {raw_data_info["img_path"]} needs a '
                             f'non-empty list of non-empty "captions", got {captions!r}')
        info = super().parse_data_info(dict(raw_data_info))
        info['captions'] = captions[:self.max_captions] if self.max_captions else captions
        return info
