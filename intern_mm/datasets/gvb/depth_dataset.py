"""Depth dataset of GV-B (KITTI and NYUv2 in one prepared layout)."""
import os.path as osp
from typing import List

from mmengine import fileio
from mmseg.datasets import NYUDataset

from intern_mm.registry import DATASETS

__all__ = ['GVBDepthDataset']


@DATASETS.register_module()
class GVBDepthDataset(NYUDataset):
    """mmseg's ``NYUDataset`` that can also read an id list (``ann_file``).

    Layout: ``images/<split>/<id><img_suffix>`` and ``annotations/<split>/<id>.png``
    (uint16 depth; ``LoadDepthAnnotation(depth_rescale_factor=1/scale)`` converts it to
    metres: scale 1000 for NYUv2, 256 for KITTI). With ``ann_file`` (one id per line,
    what ``make_subset.py`` writes) only those images are read; without it the image
    folder is scanned, as in ``NYUDataset``.

    Args:
        ann_file (str): Id list; empty scans ``data_prefix['img_path']``.
        **kwargs: Passed to :class:`mmseg.datasets.NYUDataset`.

    Example:
        >>> ds = GVBDepthDataset(data_root='data/gvb/nyuv2_depth',
        ...                      ann_file='meta/test.txt',
        ...                      data_prefix=dict(img_path='images/test',
        ...                                       depth_map_path='annotations/test'))
    """

    def load_data_list(self) -> List[dict]:
        """Read the id list, or scan the image folder without one."""
        if not self.ann_file:
            return super().load_data_list()
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'depth id list {self.ann_file} does not exist')
        img_dir = self.data_prefix.get('img_path', None)
        ann_dir = self.data_prefix.get('depth_map_path', None)
        data_list = []
        for line in fileio.list_from_file(self.ann_file, backend_args=self.backend_args):
            img_id = line.strip()
            if not img_id:
                continue
            info = dict(img_path=osp.join(img_dir, img_id + self.img_suffix))
            if ann_dir is not None:
                info['depth_map_path'] = osp.join(ann_dir, img_id + self.seg_map_suffix)
            info['seg_fields'] = []
            info['category_id'] = -1
            data_list.append(info)
        return data_list
