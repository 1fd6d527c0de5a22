"""GVBDepthHead: multi-scale maps to a bounded depth map, SiLog loss on the ground truth,
built by its registered name."""
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from intern_mm.models.heads import GVBDepthHead
from intern_mm.registry import MODELS

CHANNELS = [8, 16, 32, 64]


def _feats(n=2, size=32):
    torch.manual_seed(0)
    return [torch.rand(n, c, size // 2**i, size // 2**i) for i, c in enumerate(CHANNELS)]


def test_forward_is_bounded_depth_at_the_first_maps_stride():
    head = GVBDepthHead(in_channels=CHANNELS, channels=16, max_depth=10.0)
    with torch.no_grad():
        depth = head(_feats())
    assert depth.shape == (2, 1, 32, 32)
    assert float(depth.min()) >= 0.0 and float(depth.max()) <= 10.0
    assert head.loss_decode.loss_name == 'loss_silog'


def test_loss_upsamples_to_the_ground_truth_and_trains():
    head = MODELS.build(dict(type='GVBDepthHead', in_channels=CHANNELS, channels=16,
                             max_depth=5.0))
    assert isinstance(head, GVBDepthHead)
    samples = []
    for _ in range(2):
        sample = SegDataSample()
        sample.gt_depth_map = PixelData(data=torch.rand(1, 64, 64) * 4 + 0.5)
        samples.append(sample)
    losses = head.loss_by_feat(head(_feats()), samples)
    assert set(losses) == {'loss_silog'} and torch.isfinite(losses['loss_silog'])
    losses['loss_silog'].backward()
    assert head.conv_seg.weight.grad is not None
