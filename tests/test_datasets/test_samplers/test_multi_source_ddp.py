"""A 2-process gloo DDP run of the multi-source classification expert (Up-E cls)."""
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from intern_mm.datasets.gv_world import generate_gv_world

REPO_ROOT = Path(__file__).resolve().parents[3]
CONFIG = REPO_ROOT / 'configs/paradigm/metanet-tiny_up-e-cls_gv-world_300it.py'
ITERS = 4

WORKER = textwrap.dedent('''
    import json, os, sys
    import torch
    torch.set_num_threads(1)
    import intern_mm  # noqa: F401
    from mmengine.config import Config
    from mmengine.runner import Runner

    config, world, work_dir, iters = sys.argv[1:5]
    iters = int(iters)
    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    cfg.launcher = 'pytorch'
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = world
    cfg.train_dataloader.batch_size = 6
    cfg.train_dataloader.sampler.batch_size = 6
    cfg.val_dataloader.batch_size = 8
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.logger.interval = 1
    runner = Runner.from_cfg(cfg)
    runner.train()
    sampler = runner.train_dataloader.sampler
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    out = dict(
        rank=sampler.rank,
        world_size=sampler.world_size,
        wrapped=type(runner.model).__name__,
        batches=[sampler.batch_indices(t) for t in range(iters)],
        sources=[[runner.train_dataloader.dataset.source_of(i)
                  for i in sampler.batch_indices(t)] for t in range(iters)],
        checksum=float(sum(p.double().sum() for p in model.parameters())))
    with open(os.path.join(work_dir, f'rank{sampler.rank}.json'), 'w') as f:
        json.dump(out, f)
''')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_cls_expert_two_process_gloo(tmp_path):
    world = tmp_path / 'world'
    generate_gv_world(str(world), num=60, seed=2)
    script = tmp_path / 'worker.py'
    script.write_text(WORKER)
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    port = str(_free_port())
    procs = []
    for rank in range(2):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE='2',
                   MASTER_ADDR='127.0.0.1', MASTER_PORT=port, OMP_NUM_THREADS='1',
                   CUDA_VISIBLE_DEVICES='')
        procs.append(subprocess.Popen(
            [sys.executable, str(script), str(CONFIG), str(world), str(work_dir),
             str(ITERS)], env=env, cwd=str(REPO_ROOT), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True))
    outputs = []
    for proc in procs:
        try:
            out, _ = proc.communicate(timeout=540)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
        outputs.append(out)
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 0, out[-4000:]

    ranks = [json.loads((work_dir / f'rank{r}.json').read_text()) for r in range(2)]
    assert [r['rank'] for r in ranks] == [0, 1]
    assert all(r['world_size'] == 2 for r in ranks)
    assert ranks[0]['wrapped'] == 'MMDistributedDataParallel'
    # each rank drew distinct samples in every batch, with the same 1:1:1 composition
    for t in range(ITERS):
        assert not set(ranks[0]['batches'][t]) & set(ranks[1]['batches'][t])
        assert sorted(ranks[0]['sources'][t]) == sorted(ranks[1]['sources'][t])
        assert sorted(set(ranks[0]['sources'][t])) == ['coarse', 'colour', 'shape']
    # DDP kept the replicas identical
    assert ranks[0]['checksum'] == pytest.approx(ranks[1]['checksum'], rel=1e-6)
    # rank 0 evaluated every source
    log = outputs[0]
    for source in ('shape', 'colour', 'coarse'):
        assert f'{source}/accuracy/top1' in log
    assert (work_dir / f'iter_{ITERS}.pth').is_file()
