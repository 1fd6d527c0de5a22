"""DeCLIP under mmengine DDP with 2 gloo processes: state-dict broadcast (what
``Runner`` does at start), a train step, and synchronised NN banks."""
import os

import torch
import torch.distributed as dist
from dist_testutils import run_processes

WORLD = 2


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=WORLD)
    try:
        from mmengine.dist import broadcast
        from mmengine.model import MMDistributedDataParallel
        from mmengine.optim import OptimWrapper

        from test_declip import _batch, _model
        torch.manual_seed(rank)  # different initial weights on purpose
        model = _model()
        # what mmengine's Runner does after init_weights under DDP: it must not fail
        # on the vocabulary extra state and it syncs the replicas
        for _, value in model.state_dict().items():
            broadcast(value)
        ddp = MMDistributedDataParallel(module=model, broadcast_buffers=False)
        optim = OptimWrapper(torch.optim.SGD(ddp.parameters(), lr=0.1))
        batch = _batch(model, n=4, seed=rank)
        data = dict(inputs=batch, data_samples=None)
        # the preprocessor is bypassed: the batch is already model input
        model.data_preprocessor.forward = lambda d, training=False: d
        logs = [ddp.train_step(data, optim) for _ in range(2)]
        torch.save(dict(logs=logs, weight=model.img_projection.weight.detach().clone(),
                        bank=model.loss_nn.bank.queue.clone(),
                        bank_len=len(model.loss_nn.bank)),
                   os.path.join(out_dir, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


def test_declip_ddp_two_gloo_processes(tmp_path):
    run_processes(_worker, (str(tmp_path / 'init'), str(tmp_path)), nprocs=WORLD)
    res = [torch.load(tmp_path / f'rank{r}.pt', weights_only=False) for r in range(WORLD)]
    for r in range(WORLD):
        for log in res[r]['logs']:
            assert torch.isfinite(log['loss'])
    assert res[0]['logs'][1]['loss_nn'] > 0  # second step uses the bank
    # broadcast + DDP keep the replicas identical
    torch.testing.assert_close(res[0]['weight'], res[1]['weight'])
    # banks hold both processes' captions (2 steps x 2 processes x 4) and agree
    assert res[0]['bank_len'] == res[1]['bank_len'] == 16
    torch.testing.assert_close(res[0]['bank'], res[1]['bank'])
