"""Up-G under 2-process gloo DDP: one summed backward per step, no unused parameters."""
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, out_dir: str, tasks: tuple) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        from generalist_toys import batches, generalist_cfg
        from mmengine.model import MMDistributedDataParallel
        from mmengine.optim import OptimWrapper

        import intern_mm  # noqa: F401
        from intern_mm.registry import MODELS
        torch.manual_seed(0)  # same initial weights on both ranks
        model = MODELS.build(generalist_cfg(tasks=tasks))
        init = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        ddp = MMDistributedDataParallel(module=model, find_unused_parameters=False)
        optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.05))
        for step in range(2):
            # different data on each rank
            log_vars = ddp.train_step(batches(tasks, seed=10 * rank + step), optim)
        params = torch.cat([p.detach().flatten() for p in model.parameters()])
        torch.save(dict(params=params, init=init, loss=float(log_vars['loss'])),
                   os.path.join(out_dir, f'rank{rank}.pth'))
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason='torch.distributed is unavailable')
# ('cls', 'itc'): Up-A's image-text task encoding its own views (feed='images'), whose
# contrastive losses gather negatives from both processes
@pytest.mark.parametrize('tasks', [('cls', 'seg'), ('cls', 'itc')])
def test_generalist_ddp_two_processes(tmp_path, tasks):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path), tasks), nprocs=2, join=True)
    r0 = torch.load(tmp_path / 'rank0.pth')
    r1 = torch.load(tmp_path / 'rank1.pth')
    # gradients were all-reduced: both replicas took identical steps
    torch.testing.assert_close(r0['params'], r1['params'])
    assert not torch.equal(r0['params'], r0['init'])
    assert r0['loss'] > 0
