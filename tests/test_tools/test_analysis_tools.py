"""get_flops.py and print_config.py (benchmark_backbone.py: test_deploy_tools.py)."""
import re

import pytest
import torch

from intern_mm.analysis import count_complexity
from tools_testutils import PYTHON, REPO_ROOT, run_tool

CLS_CFG = REPO_ROOT / 'configs/metanet/metanet-b4_1xb64-10k_cifar10.py'


def test_count_complexity_of_a_conv_is_exact():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
    info = count_complexity(conv, (3, 16, 16))
    assert info['params'] == 8 * 3 * 9
    assert info['flops'] == 8 * 3 * 9 * 16 * 16  # one multiply-accumulate per weight and pixel


def test_get_flops_tool_on_a_config():
    out = run_tool([PYTHON, 'tools/analysis_tools/get_flops.py', str(CLS_CFG), '--shape', '64',
                    '--cfg-options', 'model.backbone.arch=tiny'])
    assert 'Input shape: (3, 64, 64)' in out
    assert re.search(r'Flops: [\d.]+[KMG]', out) and re.search(r'Params: [\d.]+[KM]', out)


def test_get_flops_rejects_bad_shape():
    with pytest.raises(AssertionError, match='--shape takes one or two integers'):
        run_tool([PYTHON, 'tools/analysis_tools/get_flops.py', str(CLS_CFG), '--shape', '1',
                  '2', '3'])


def test_print_config_resolves_mmdet_base():
    out = run_tool([PYTHON, 'tools/misc/print_config.py',
                    str(REPO_ROOT / 'configs/metanet/metanet-b4_faster-rcnn_fpn_1x_voc0712.py')])
    assert "type='MetaNet'" in out and "type='FasterRCNN'" in out
    assert 'VOC2007' in out  # inherited from mmdet's own pascal_voc config
