"""Negatives gathered across 2 gloo processes: values, gradients and the NN bank."""
import os

import torch
import torch.distributed as dist
import torch.nn.functional as F

from dist_testutils import run_processes

from intern_mm.models.losses import (InfoNCELoss, NearestNeighbourLoss, gather_features,
                                     symmetric_infonce)

WORLD = 2
N = 4  # samples per process (rank 1 gets N - 1 to test unequal sizes in gather)


def _data():
    g = torch.Generator().manual_seed(0)
    img = F.normalize(torch.randn(2 * N, 8, generator=g), dim=-1)
    txt = F.normalize(torch.randn(2 * N, 8, generator=g), dim=-1)
    return img, txt


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=WORLD)
    try:
        img, txt = _data()
        sl = slice(rank * N, (rank + 1) * N)
        local_img = img[sl].clone().requires_grad_()
        local_txt = txt[sl].clone().requires_grad_()
        loss = InfoNCELoss(loss_weight=1.)(local_img, local_txt, 5.)
        loss.backward()
        # unequal sizes
        x = torch.arange(N - rank, dtype=torch.float32)[:, None] + 10 * rank
        gathered, offset = gather_features(x)
        # NN loss keeps identical banks
        nn_loss = NearestNeighbourLoss(embed_dim=8, bank_size=16, loss_weight=1.)
        nn_loss(local_img.detach(), local_txt.detach(), 5.)
        torch.save(
            dict(loss=loss.detach(), img_grad=local_img.grad, txt_grad=local_txt.grad,
                 gathered=gathered, offset=offset, bank=nn_loss.bank.queue.clone(),
                 bank_len=len(nn_loss.bank)), os.path.join(out_dir, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


def test_gather_with_two_gloo_processes(tmp_path):
    run_processes(_worker, (str(tmp_path / 'init'), str(tmp_path)), nprocs=WORLD)
    res = [torch.load(tmp_path / f'rank{r}.pt') for r in range(WORLD)]

    img, txt = _data()
    # every process sees every process's rows, in rank order
    expected = torch.cat([torch.arange(N, dtype=torch.float32)[:, None],
                          torch.arange(N - 1, dtype=torch.float32)[:, None] + 10])
    for r in range(WORLD):
        torch.testing.assert_close(res[r]['gathered'], expected)
    assert [res[r]['offset'] for r in range(WORLD)] == [0, N]

    # the mean of the local losses is the full-batch CLIP loss ...
    full_img = img.clone().requires_grad_()
    full_txt = txt.clone().requires_grad_()
    full = symmetric_infonce(full_img, full_txt, 5.)
    mean_local = (res[0]['loss'] + res[1]['loss']) / 2
    torch.testing.assert_close(mean_local, full.detach())
    # ... and gradients flow through the gather: DDP's average of the per-process
    # gradients equals the full-batch gradient.
    full.backward()
    for r in range(WORLD):
        sl = slice(r * N, (r + 1) * N)
        torch.testing.assert_close(res[r]['img_grad'] / WORLD, full_img.grad[sl])
        torch.testing.assert_close(res[r]['txt_grad'] / WORLD, full_txt.grad[sl])

    # the NN banks received both processes' texts and are identical
    assert res[0]['bank_len'] == res[1]['bank_len'] == 2 * N
    torch.testing.assert_close(res[0]['bank'], res[1]['bank'])
    torch.testing.assert_close(res[0]['bank'][:2 * N], txt)
