"""The paradigm pipeline end to end on a tiny world: hand-off, probes, scratch baselines,
summary, skipping finished stages and resuming an interrupted one (in-process stages)."""
import json
import os
import os.path as osp

from mmengine.config import Config

from intern_mm.paradigm import ParadigmPipeline
from paradigm_testutils import SCRATCH, two_stages

FAST = {
    'train_cfg.max_iters': 2,
    'train_cfg.val_interval': 2,
    'default_hooks.checkpoint.interval': 1,
    'default_hooks.logger.interval': 1,
    'default_hooks.checkpoint.max_keep_ckpts': -1,
}


def _cfg(world):
    return Config(dict(
        launcher='inprocess',
        world=dict(root=world),
        stages=two_stages(),
        stage_cfg_options=FAST,
        downstream=dict(
            fraction=0.25,
            probe_stages=['up-a', 'up-e-cls'],
            probe=dict(lrs=(0.03, ), max_iters=5, batch_size=8),
            scratch=dict(config=SCRATCH, fractions=(0.25, 1.0)))))


def test_pipeline_skip_and_resume(tiny_world, tmp_path, monkeypatch):
    wd = str(tmp_path / 'wd')
    summary = ParadigmPipeline(_cfg(tiny_world), work_dir=wd).run()

    # every stage finished, with its metrics, and the hand-off loaded Up-A's image tower
    assert set(summary['stages']) == {'up-a', 'up-e-cls'}
    assert summary['stages']['up-e-cls']['iters'] == 2
    assert 'mean/accuracy/top1' in summary['stages']['up-e-cls']['metrics']
    stage_cfg = Config.fromfile(osp.join(wd, 'stages/up-e-cls/stage_config.py'))
    hooks = [h for h in stage_cfg.custom_hooks if 'StageHandoffHook' in h['type']]
    assert hooks[0]['checkpoint'] == summary['stages']['up-a']['checkpoint']
    assert stage_cfg.train_dataloader.dataset.datasets[0].data_root.startswith(tiny_world)
    # the comparison table: probes (best Up-E chosen on val) and the two scratch runs
    rows = {r['source']: r for r in summary['comparison']}
    assert set(rows) == {'up-a', 'up-e-cls', 'scratch-25pct', 'scratch-100pct'}
    assert rows['up-e-cls']['backbone'].startswith('best Up-E')
    # every row reports what its run measured: the probes' cached results and the
    # scratch stages' final validation
    for source, row in rows.items():
        if source.startswith('scratch'):
            with open(osp.join(wd, 'stages', source, 'done.json')) as f:
                measured = json.load(f)['metrics']['accuracy/top1']
            assert row['top1'] == measured, source
        else:
            with open(osp.join(wd, 'downstream', f'probe_{source}.json')) as f:
                probe = json.load(f)
            assert (row['top1'], row['val_top1']) == (probe['top1'], probe['val_top1'])
    ds = summary['downstream']
    assert ds['num_train_subset'] < ds['num_train_full']
    for name in ('summary.md', 'summary.json'):
        assert osp.isfile(osp.join(wd, name))
    with open(osp.join(wd, 'summary.json')) as f:
        assert json.load(f)['comparison']

    # re-running skips every finished stage (no training at all)
    import intern_mm.paradigm.stage_runner as stage_runner

    def _no_training(*args, **kwargs):
        raise AssertionError('a finished stage was run again')

    monkeypatch.setattr(stage_runner, 'run_stage', _no_training)
    again = ParadigmPipeline(_cfg(tiny_world), work_dir=wd).run()
    assert again['comparison'] == summary['comparison']
    monkeypatch.undo()

    # an interrupted stage (checkpoint of iteration 1, no done-marker) resumes from it
    sd = osp.join(wd, 'stages/up-e-cls')
    os.remove(osp.join(sd, 'done.json'))
    os.remove(osp.join(sd, 'iter_2.pth'))
    with open(osp.join(sd, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(sd, 'iter_1.pth'))
    assert osp.isfile(osp.join(sd, 'iter_1.pth'))
    resumed = ParadigmPipeline(_cfg(tiny_world), work_dir=wd).run()
    with open(osp.join(sd, 'done.json')) as f:
        done = json.load(f)
    assert done['resumed_from_iter'] == 1 and done['iters'] == 2
    assert resumed['stages']['up-e-cls']['checkpoint'].endswith('iter_2.pth')
    # the probe of the re-trained expert was recomputed from the new checkpoint
    with open(osp.join(wd, 'downstream/probe_up-e-cls.json')) as f:
        probe = json.load(f)
    assert probe['ckpt_mtime'] == osp.getmtime(done['checkpoint'])
