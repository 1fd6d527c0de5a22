"""FeatureDistiller under mmengine's Runner with launcher='pytorch': 2 gloo processes."""
import os

import torch
from dist_testutils import run_processes

WORLD = 2


def _worker(rank: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD))
    from mmengine.config import Config
    from mmengine.runner import Runner

    import intern_mm  # noqa: F401  (compat: gloo on CPU)
    from distill_testutils import ImageSet, runner_cfg
    cfg = runner_cfg(os.path.join(out_dir, 'wd'), max_iters=4, launcher='pytorch',
                     dataset=ImageSet(n=32, seed=0))
    runner = Runner.from_cfg(Config(cfg))
    init = {k: v.clone() for k, v in runner.model.module.student.state_dict().items()}
    runner.train()
    model = runner.model.module
    torch.save(dict(init=init, student=model.student.state_dict(),
                    connectors=model.connectors.state_dict(),
                    teacher=model.teacher.state_dict(),
                    loss=runner.message_hub.get_scalar('train/loss').current()),
               os.path.join(out_dir, f'rank{rank}.pt'))
    import torch.distributed as dist
    dist.destroy_process_group()


def test_distiller_trains_data_parallel(tmp_path):
    port = 29600 + os.getpid() % 1000
    run_processes(_worker, (port, str(tmp_path)), nprocs=WORLD, timeout=300)
    res = [torch.load(tmp_path / f'rank{r}.pt', weights_only=False) for r in range(WORLD)]
    assert all(torch.isfinite(torch.tensor(r['loss'])) for r in res)
    for part in ('student', 'connectors', 'teacher'):
        for key, value in res[0][part].items():
            torch.testing.assert_close(res[1][part][key], value, msg=f'{part}.{key}')
    # the student trained (identical on both ranks, different from its start)
    assert any(not torch.equal(res[0]['init'][k], v) for k, v in res[0]['student'].items())
    assert (tmp_path / 'wd' / 'iter_4.pth').is_file()  # rank 0 wrote the checkpoint
