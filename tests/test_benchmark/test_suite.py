"""GV-B suite: resume of an interrupted suite, missing datasets, search, report."""
import json
import os

import pytest
from mmengine.hooks import Hook

from intern_mm.benchmark import SuiteConfig, run_suite
from intern_mm.benchmark.report import write_report
from intern_mm.registry import HOOKS

CLS_RECIPE = dict(max_iters=6, milestones=[4], img_size=32, batch_size=16,
                  test_batch_size=40)


@HOOKS.register_module(force=True)
class _GVBTestInterruptHook(Hook):
    """Raises after the checkpoint of iteration ``at`` (simulates a killed job)."""
    priority = 'LOWEST'

    def __init__(self, at: int, only: str):
        self.at, self.only = at, only

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.only in runner.work_dir and runner.iter + 1 == self.at:
            raise RuntimeError('simulated interruption')


@HOOKS.register_module(force=True)
class _GVBTestRecordStartHook(Hook):
    """Records the iteration a training run starts from."""
    starts = []

    def before_train(self, runner):
        type(self).starts.append((runner.work_dir, runner.iter))


def _cfg(tmp_path, tiny_cifar, tiny_backbone, **kwargs):
    base = dict(backbone=tiny_backbone, tasks='cifar10,cifar100',
                data_roots={'cifar10': str(tiny_cifar), 'cifar100': str(tiny_cifar)},
                work_dir=str(tmp_path / 'wd'), run_name='run',
                subset_base=str(tmp_path / 'subsets'), ratio=0.5, num_workers=0,
                impl='runner', recipe={'cls': CLS_RECIPE})
    base.update(kwargs)
    return SuiteConfig(**base)


def test_resume_interrupted_suite(tmp_path, tiny_cifar, tiny_backbone):
    hooks = [dict(type='intern_mm._GVBTestInterruptHook', at=3, only='cifar100')]
    cfg = _cfg(tmp_path, tiny_cifar, tiny_backbone,
               cfg_options=dict(custom_hooks=hooks))
    with pytest.raises(RuntimeError, match='simulated interruption'):
        run_suite(cfg)
    run_dir = tmp_path / 'wd' / 'run'
    first = run_dir / 'cifar10' / 'result.json'
    assert first.is_file() and not (run_dir / 'cifar100' / 'result.json').exists()
    mtime = os.path.getmtime(first)
    _GVBTestRecordStartHook.starts.clear()
    cfg = _cfg(tmp_path, tiny_cifar, tiny_backbone, cfg_options=dict(
        custom_hooks=[dict(type='intern_mm._GVBTestRecordStartHook')]))
    results = run_suite(cfg)
    assert [r['status'] for r in results] == ['skipped', 'done']
    assert os.path.getmtime(first) == mtime  # the finished task did not run again
    # the interrupted task resumed after its last checkpoint (iteration 3)
    assert [it for wd, it in _GVBTestRecordStartHook.starts if 'cifar100' in wd] == [3]
    res = json.loads((run_dir / 'cifar100' / 'result.json').read_text())
    prov = res['provenance']
    assert prov['versions']['mmengine'] and prov['versions']['torch']
    assert res['subset']['manifest_sha256'] and res['wall_time_s'] > 0
    assert res['seed'] == 0 and res['backbone']['cfg']['type'] == 'mmpretrain.ResNet'
    assert res['metric'] == 'top1' and res['score'] == res['metrics']['top1']


def test_missing_datasets_and_report(tmp_path, tiny_cifar, tiny_backbone):
    cfg = _cfg(tmp_path, tiny_cifar, tiny_backbone, tasks='cifar10,pets,voc2012_seg',
               impl='cache', data_base=str(tmp_path / 'nodata'),
               data_roots={'cifar10': str(tiny_cifar)})
    results = run_suite(cfg)
    status = {r['task']: r['status'] for r in results}
    assert status == dict(cifar10='done', pets='missing', voc2012_seg='missing')
    pets = next(r for r in results if r['task'] == 'pets')
    assert 'gvb_prepare.py pets' in pets['prepare']
    paths = write_report(str(tmp_path / 'wd'), compare=['Up-G/MN-B4'])
    md = open(paths['md']).read()
    assert '| run |' in md and 'Up-G/MN-B4 (published)' in md
    assert 'gvb_prepare.py pets' in md and 'missing' in md
    rows = open(paths['csv']).read().splitlines()
    assert rows[0].startswith('run,source,cifar10') and len(rows) == 3
    run_row = rows[1].split(',')
    assert run_row[0] == 'run' and run_row[2] == f"{results[0]['score']:.1f}"
    assert '(1/20)' in rows[1]  # the cls mean states how many columns it covers
    assert '78.6' in rows[2]  # published Up-G MN-B4 20-dataset mean
    data = json.load(open(paths['json']))
    assert data['columns'][0] == 'cifar10'
    with open(paths['png'], 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_search_selects_on_val_and_reports_on_test(tmp_path, tiny_cifar, tiny_backbone):
    grid = [dict(lr=1e-4, weight_decay=1e-6, momentum=0.9),
            dict(lr=0.1, weight_decay=1e-4, momentum=0.99)]
    cfg = _cfg(tmp_path, tiny_cifar, tiny_backbone, tasks='cifar10', impl='cache',
               search=True, grid=grid, recipe={'cls': dict(CLS_RECIPE, max_iters=20)})
    (res, ) = run_suite(cfg)
    trials = res['search']['trials']
    assert [t['params'] for t in trials] == grid
    best = max(trials, key=lambda t: t['score'])
    assert res['recipe']['lr'] == best['params']['lr']
    assert res['search']['best']['momentum'] == best['params']['momentum']
    run_dir = tmp_path / 'wd' / 'run' / 'cifar10'
    assert (run_dir / 'search' / 'lr0.0001_wd1e-06_m0.9' / 'trial.json').is_file()
    assert {'features_train.pt', 'features_val.pt', 'features_subset.pt',
            'features_test.pt'} <= set(os.listdir(run_dir))


def test_probe_keeps_backbone_and_finetune_changes_it(tmp_path, tiny_cifar, tiny_backbone):
    """Through the real Runner protocol: params AND BN statistics frozen in probe mode."""
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner
    from intern_mm.benchmark import build_backbone, parse_backbone_spec
    from intern_mm.benchmark.protocols import ProtocolContext, build_runner_cfg
    from intern_mm.benchmark.suite import ensure_subset
    from intern_mm.benchmark.tasks import get_task, resolve_layout
    task = get_task('cifar10')
    layout, _ = resolve_layout(task, str(tiny_cifar))
    manifest = ensure_subset(_cfg(tmp_path, tiny_cifar, tiny_backbone), task,
                             str(tiny_cifar), layout)
    ckpt = tmp_path / 'bb.pth'
    reference = build_backbone(parse_backbone_spec(tiny_backbone)).state_dict()
    torch.save({'state_dict': reference}, ckpt)
    spec = parse_backbone_spec(tiny_backbone, checkpoint=str(ckpt))
    for mode in ('probe', 'finetune'):
        ctx = ProtocolContext(
            task=task, data_root=str(tiny_cifar), layout=layout,
            subset_dir=manifest['dir'], backbone=spec, out_channels=[(64, 32)],
            mode=mode, recipe=dict(CLS_RECIPE, optimizer='SGD', lr=0.1, momentum=0.9,
                                   weight_decay=1e-3, gamma=0.1, resize_size=None,
                                   max_iters=3),
            work_dir=str(tmp_path / mode), num_workers=0)
        runner = Runner.from_cfg(Config(build_runner_cfg(ctx)))
        runner.train()
        net = runner.model.backbone
        state = (net.module if mode == 'probe' else net).state_dict()
        changed = [k for k in reference if not torch.equal(reference[k], state[k])]
        if mode == 'probe':
            assert changed == []
        else:
            assert any('running_mean' in k for k in changed)
            assert any(k.endswith('conv1.weight') for k in changed)


def test_depth_probe_on_tiny_kitti_layout(tmp_path, tiny_backbone):
    import cv2
    import numpy as np
    root = tmp_path / 'kitti'
    rng = np.random.default_rng(0)
    for split, n in (('train', 10), ('test', 2)):
        ids = []
        for i in range(n):
            (root / 'images' / split).mkdir(parents=True, exist_ok=True)
            (root / 'annotations' / split).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / 'images' / split / f'{i}.png'),
                        rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
            depth = np.tile(np.linspace(1, 60, 64), (48, 1)) * 256
            cv2.imwrite(str(root / 'annotations' / split / f'{i}.png'),
                        depth.astype(np.uint16))
            ids.append(str(i))
        (root / 'meta').mkdir(exist_ok=True)
        (root / 'meta' / f'{split}.txt').write_text('\n'.join(ids) + '\n')
    cfg = SuiteConfig(backbone=tiny_backbone, tasks='kitti_depth',
                      data_roots={'kitti_depth': str(root)}, work_dir=str(tmp_path / 'wd'),
                      run_name='d', subset_base=str(tmp_path / 's'), ratio=0.5,
                      num_workers=0, recipe={'depth': dict(
                          max_iters=2, crop_size=(32, 32), head_channels=8, batch_size=2)})
    (res, ) = run_suite(cfg)
    assert res['status'] == 'done' and res['metric'] == 'rmse' and res['lower_is_better']
    assert 0 < res['score'] < 80 and {'abs_rel', 'd1', 'log10'} <= set(res['metrics'])


@pytest.mark.slow
def test_distributed_runner_probe_gloo(tmp_path, tiny_cifar, tiny_backbone):
    """tools/gvb.py under torchrun with 2 CPU processes (gloo)."""
    import subprocess
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
           '--master_port', str(29500 + os.getpid() % 1000), str(repo / 'tools/gvb.py'),
           'run', '--launcher', 'pytorch', '--backbone', tiny_backbone, '--tasks',
           'cifar10', '--data-root', f'cifar10={tiny_cifar}', '--ratio', '0.5', '--impl',
           'runner', '--recipe', 'cls.max_iters=3', 'cls.img_size=32', 'cls.batch_size=8',
           '--work-dir', str(tmp_path / 'wd'), '--run-name', 'ddp', '--subset-base',
           str(tmp_path / 's'), '--num-workers', '0']
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads((tmp_path / 'wd' / 'ddp' / 'cifar10' / 'result.json').read_text())
    assert res['status'] == 'done' and res['impl'] == 'runner'
