"""InfoNCE (CLIP) and multi-view InfoNCE on known inputs."""
import math

import pytest
import torch
import torch.nn.functional as F

from intern_mm.models.losses import (InfoNCELoss, MultiViewInfoNCELoss,
                                     symmetric_infonce)
from intern_mm.registry import MODELS


def _reference_clip(img, txt, scale):
    """Plain full-batch CLIP loss written out element by element."""
    n = img.shape[0]
    sim = (img @ txt.t()) * scale
    li = -torch.stack([sim[i, i] - torch.logsumexp(sim[i], 0) for i in range(n)]).mean()
    lt = -torch.stack([sim[i, i] - torch.logsumexp(sim[:, i], 0) for i in range(n)]).mean()
    return (li + lt) / 2


def test_infonce_identical_embeddings_high_scale_is_zero():
    x = F.normalize(torch.randn(8, 16), dim=-1)
    # orthogonal-ish rows: with scale 100 the diagonal dominates
    x = F.normalize(torch.eye(8, 16) + 0.01 * x, dim=-1)
    loss = InfoNCELoss(loss_weight=1.)(x, x, logit_scale=100.)
    assert loss.item() < 1e-6


def test_infonce_matches_reference_and_is_symmetric():
    torch.manual_seed(0)
    img = F.normalize(torch.randn(6, 8), dim=-1)
    txt = F.normalize(torch.randn(6, 8), dim=-1)
    loss = InfoNCELoss(loss_weight=1.)(img, txt, logit_scale=3.)
    torch.testing.assert_close(loss, _reference_clip(img, txt, 3.))
    swapped = InfoNCELoss(loss_weight=1.)(txt, img, logit_scale=3.)
    torch.testing.assert_close(loss, swapped)


def test_infonce_uniform_similarity_is_log_n():
    n = 5
    x = torch.ones(n, 4) / 2.
    loss = symmetric_infonce(x, x, 10.)
    assert loss.item() == pytest.approx(math.log(n), rel=1e-5)


def test_infonce_weight_and_registry():
    img = F.normalize(torch.randn(4, 8), dim=-1)
    txt = F.normalize(torch.randn(4, 8), dim=-1)
    full = InfoNCELoss(loss_weight=1.)(img, txt, 5.)
    weighted = MODELS.build(dict(type='InfoNCELoss'))(img, txt, 5.)  # default 0.4
    torch.testing.assert_close(weighted, 0.4 * full)


def test_infonce_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match='same shape'):
        symmetric_infonce(torch.randn(4, 8), torch.randn(3, 8), 1.)


def test_multi_view_averages_all_four_pairs():
    torch.manual_seed(1)
    imgs = [F.normalize(torch.randn(5, 8), dim=-1) for _ in range(2)]
    txts = [F.normalize(torch.randn(5, 8), dim=-1) for _ in range(2)]
    loss = MultiViewInfoNCELoss(loss_weight=1.)(imgs, txts, 4.)
    expected = sum(_reference_clip(i, t, 4.) for i in imgs for t in txts) / 4
    torch.testing.assert_close(loss, expected)
    assert MultiViewInfoNCELoss().loss_weight == 0.2


def test_multi_view_gradients_reach_every_view():
    imgs = [F.normalize(torch.randn(4, 8), dim=-1).requires_grad_() for _ in range(2)]
    txts = [F.normalize(torch.randn(4, 8), dim=-1).requires_grad_() for _ in range(2)]
    MultiViewInfoNCELoss()(imgs, txts, 4.).backward()
    for t in imgs + txts:
        assert t.grad is not None and t.grad.abs().sum() > 0


def test_multi_view_needs_views():
    with pytest.raises(ValueError, match='at least one'):
        MultiViewInfoNCELoss()([], [torch.randn(2, 4)], 1.)
