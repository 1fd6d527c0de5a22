"""Nearest-neighbour supervision and its FIFO text-feature memory bank."""
import pytest
import torch
import torch.nn.functional as F

from intern_mm.models.losses import (FeatureMemoryBank, NearestNeighbourLoss,
                                     symmetric_infonce)


def test_bank_returns_true_nearest_neighbour():
    torch.manual_seed(0)
    bank = FeatureMemoryBank(size=64, dim=16)
    stored = F.normalize(torch.randn(40, 16), dim=-1)
    bank.enqueue(stored)
    query = torch.randn(10, 16)
    nn_feats, idx = bank.nearest(query)
    brute = (F.normalize(query, dim=-1) @ stored.t()).argmax(dim=1)
    assert torch.equal(idx, brute)
    torch.testing.assert_close(nn_feats, stored[brute])
    # a stored feature is its own nearest neighbour
    _, idx = bank.nearest(stored[[3, 17]] * 5.)
    assert idx.tolist() == [3, 17]


def test_bank_fifo_overwrites_oldest_and_ignores_empty_slots():
    bank = FeatureMemoryBank(size=4, dim=2)
    with pytest.raises(RuntimeError, match='empty'):
        bank.nearest(torch.randn(1, 2))
    bank.enqueue(torch.tensor([[1., 0.], [0., 1.]]))
    assert len(bank) == 2
    # only filled slots are searched (zeros elsewhere would never win anyway, but the
    # returned index must be a filled one)
    _, idx = bank.nearest(torch.tensor([[-1., -1.]]))
    assert int(idx) in (0, 1)
    bank.enqueue(torch.tensor([[-1., 0.], [0., -1.], [0.6, 0.8]]))  # 5 > 4: wraps
    assert len(bank) == 4 and int(bank.ptr) == 1
    torch.testing.assert_close(bank.queue[0], torch.tensor([0.6, 0.8]))  # oldest replaced
    torch.testing.assert_close(bank.queue[1], torch.tensor([0., 1.]))
    with pytest.raises(ValueError, match='shape'):
        bank.enqueue(torch.randn(2, 3))


def test_bank_state_is_in_state_dict():
    bank = FeatureMemoryBank(size=4, dim=2)
    bank.enqueue(torch.tensor([[1., 0.]]))
    other = FeatureMemoryBank(size=4, dim=2)
    other.load_state_dict(bank.state_dict())
    assert len(other) == 1 and int(other.ptr) == 1


def test_nn_loss_uses_neighbour_as_positive_and_updates_bank():
    torch.manual_seed(0)
    loss_fn = NearestNeighbourLoss(embed_dim=8, bank_size=32, loss_weight=1.)
    img = F.normalize(torch.randn(4, 8), dim=-1).requires_grad_()
    txt = F.normalize(torch.randn(4, 8), dim=-1)
    first = loss_fn(img, txt, 10.)
    assert first.item() == 0. and len(loss_fn.bank) == 4
    # the bank now holds txt; a slightly perturbed query finds the matching caption
    query = F.normalize(txt + 0.01 * torch.randn(4, 8), dim=-1)
    loss = loss_fn(img, query, 10.)
    torch.testing.assert_close(loss, symmetric_infonce(img, txt, 10.))
    loss.backward()
    assert img.grad.abs().sum() > 0
    assert len(loss_fn.bank) == 8


def test_nn_loss_does_not_enqueue_in_eval():
    loss_fn = NearestNeighbourLoss(embed_dim=4, bank_size=8).eval()
    loss_fn(torch.randn(2, 4), torch.randn(2, 4), 1.)
    assert len(loss_fn.bank) == 0
