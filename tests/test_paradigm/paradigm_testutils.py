"""Shared pieces of the paradigm pipeline tests: stage configs and a two-stage list."""
import os.path as osp
from typing import List

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
UP_A = osp.join(REPO, 'configs/paradigm/metanet-tiny_up-a_gv-world_150it.py')
UP_E_CLS = osp.join(REPO, 'configs/paradigm/metanet-tiny_up-e-cls_gv-world_300it.py')
MINI = osp.join(REPO, 'configs/paradigm/intern-paradigm_metanet-tiny_gv-world-mini.py')


def two_stages() -> List[dict]:
    """Up-A, then the classification expert initialised from it (strict hand-off)."""
    return [
        dict(name='up-a', config=UP_A, main_metric='retrieval/i2t_top1'),
        dict(name='up-e-cls', config=UP_E_CLS, main_metric='mean/accuracy/top1',
             handoffs=[dict(stage='up-a', prefix_mapping={'backbone.': 'backbone.'},
                            strict=True)]),
    ]
