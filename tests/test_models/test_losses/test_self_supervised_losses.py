"""SimSiam and masked language modelling losses on known inputs."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from intern_mm.models.losses import MaskedLMLoss, SimSiamLoss, mask_tokens


def test_simsiam_identical_views_identity_predictor_is_minus_one():
    z = torch.randn(6, 16)
    predictor = nn.Identity()
    loss = SimSiamLoss(loss_weight=1.)(predictor(z), predictor(z), z, z)
    assert loss.item() == pytest.approx(-1., abs=1e-6)
    assert SimSiamLoss()(z, z, z, z).item() == pytest.approx(-0.2, abs=1e-6)


def test_simsiam_opposite_views_is_plus_one():
    z = torch.randn(4, 8)
    assert SimSiamLoss(loss_weight=1.)(z, z, -z, -z).item() == pytest.approx(1., abs=1e-6)


def test_simsiam_stops_gradient_of_targets():
    p1, p2 = torch.randn(4, 8, requires_grad=True), torch.randn(4, 8, requires_grad=True)
    z1, z2 = torch.randn(4, 8, requires_grad=True), torch.randn(4, 8, requires_grad=True)
    SimSiamLoss(loss_weight=1.)(p1, p2, z1, z2).backward()
    assert p1.grad.abs().sum() > 0 and p2.grad.abs().sum() > 0
    assert z1.grad is None and z2.grad is None


def test_simsiam_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match='equally shaped'):
        SimSiamLoss()(torch.randn(2, 4), torch.randn(2, 4), torch.randn(2, 4), torch.randn(3, 4))


def test_mlm_only_masked_positions_count():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 10, requires_grad=True)
    target = torch.randint(0, 10, (2, 5))
    mask = torch.zeros(2, 5, dtype=torch.bool)
    mask[0, 1] = mask[1, 3] = True
    loss = MaskedLMLoss(loss_weight=1.)(logits, target, mask)
    expected = (F.cross_entropy(logits[0, 1][None], target[0, 1][None]) +
                F.cross_entropy(logits[1, 3][None], target[1, 3][None])) / 2
    torch.testing.assert_close(loss, expected)
    loss.backward()
    grad_rows = logits.grad.abs().sum(-1) > 0
    assert torch.equal(grad_rows, mask)
    # changing unmasked logits does not change the loss
    logits2 = logits.detach().clone()
    logits2[~mask] = 100.
    torch.testing.assert_close(MaskedLMLoss(loss_weight=1.)(logits2, target, mask), expected)


def test_mlm_nothing_masked_is_zero_and_connected():
    logits = torch.randn(1, 3, 4, requires_grad=True)
    loss = MaskedLMLoss()(logits, torch.zeros(1, 3, dtype=torch.long),
                          torch.zeros(1, 3, dtype=torch.bool))
    assert loss.item() == 0.
    loss.backward()
    assert logits.grad is not None


def test_mlm_rejects_bad_shapes():
    with pytest.raises(ValueError, match='disagree'):
        MaskedLMLoss()(torch.randn(2, 5, 4), torch.zeros(2, 4, dtype=torch.long),
                       torch.zeros(2, 4, dtype=torch.bool))


def test_mask_tokens_respects_maskable_and_masks_each_sequence():
    ids = torch.tensor([[2, 7, 8, 9, 3, 0, 0], [2, 10, 3, 0, 0, 0, 0], [2, 3, 0, 0, 0, 0, 0]])
    maskable = ids > 4
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        new_ids, chosen = mask_tokens(ids, 4, 20, maskable, mask_prob=0.15, generator=g)
        assert not (chosen & ~maskable).any()
        assert chosen[0].any() and chosen[1].any() and not chosen[2].any()
        assert torch.equal(new_ids[~chosen], ids[~chosen])
    # with probability 1 everything maskable is chosen; ~80% become <mask>
    big = torch.randint(5, 20, (50, 30))
    new_ids, chosen = mask_tokens(big, 4, 20, torch.ones_like(big, dtype=torch.bool), 1.0,
                                  torch.Generator().manual_seed(1))
    assert chosen.all()
    frac = (new_ids == 4).float().mean().item()
    assert 0.75 < frac < 0.85
