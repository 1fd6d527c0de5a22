"""The paradigm pipeline end to end on a tiny world: hand-off, Downstream-Adaptation
(probes, fine-tuning, scratch baselines), the claim table, skipping finished stages and
runs, resuming an interrupted stage (in-process stages), and the shipped mini pipeline
with every stage kind and protocol."""
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config

from intern_mm.paradigm import ParadigmPipeline
from paradigm_testutils import MINI, REPO, two_stages

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
            families=('cls', ),
            backbones={'up-a': 'up-a', 'best-up-e': ['up-e-cls']},
            scratch=dict(stage='up-e-cls', fractions=(0.25, 1.0)),
            recipes=dict(cls=dict(max_iters=3, milestones=[2], batch_size=4)),
            probe_grid=[dict(lr=0.01, weight_decay=1e-4, momentum=0.9),
                        dict(lr=0.1, weight_decay=1e-4, momentum=0.9)])))


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
    # the adaptation table: both backbones x (probe, finetune), scratch 25% / 100%
    table = summary['adaptation']['cls']
    assert set(table) == {'up-a', 'best-up-e', 'scratch'}
    assert set(table['up-a']) == set(table['best-up-e']) == {'probe', 'finetune'}
    assert set(table['scratch']) == {'25pct', '100pct'}
    assert table['best-up-e']['probe']['stage'] == 'up-e-cls'
    runs = summary['downstream']['results']['cls']
    for role in ('up-a', 'best-up-e'):
        for protocol, entry in table[role].items():
            run = runs[role]['runs'][protocol]
            assert entry['score'] == run['test_score'] == run['test']['top1']
            assert entry['fraction'] == 0.25 and entry['metric'] == 'top1'
    assert table['scratch']['100pct']['fraction'] == 1.0
    assert runs['scratch']['runs']['100pct']['num_train'] > \
        runs['scratch']['runs']['25pct']['num_train']
    assert summary['claim']['families'] == {}  # no 'up-g' role in this pipeline
    # progress came from the stage's hook (JSON lines), not from its log
    with open(osp.join(wd, 'stages/up-e-cls/progress.jsonl')) as f:
        events = [json.loads(ln)['event'] for ln in f]
    assert events[0] == 'start' and events[-1] == 'done' and 'train' in events
    for name in ('summary.md', 'summary.json'):
        assert osp.isfile(osp.join(wd, name))
    with open(osp.join(wd, 'summary.json')) as f:
        assert json.load(f)['adaptation'] == summary['adaptation']

    # re-running skips every finished stage and adaptation run (no training at all)
    import intern_mm.paradigm.stage_runner as stage_runner
    from intern_mm.paradigm.downstream import DownstreamAdapter

    def _no_training(*args, **kwargs):
        raise AssertionError('a finished stage or run was run again')

    monkeypatch.setattr(stage_runner, 'train_stage', _no_training)
    monkeypatch.setattr(DownstreamAdapter, '_runner', _no_training)
    monkeypatch.setattr(DownstreamAdapter, '_cached_probe', _no_training)
    again = ParadigmPipeline(_cfg(tiny_world), work_dir=wd).run()
    assert again['adaptation'] == summary['adaptation']
    monkeypatch.undo()

    # a finished stage is compared with the config the pipeline builds for it now: the
    # same config does not differ (also from a copy of the work dir); another hand-off
    # does, and the skip says so
    import shutil
    pipe = ParadigmPipeline(_cfg(tiny_world), work_dir=wd)
    assert [pipe.config_drift(s) for s in pipe.stages] == [[], []]
    shutil.copytree(wd, str(tmp_path / 'copy'))
    copied = ParadigmPipeline(_cfg(tiny_world), work_dir=str(tmp_path / 'copy'))
    assert [copied.config_drift(s) for s in copied.stages] == [[], []]
    changed = _cfg(tiny_world)
    changed.stages[1]['handoffs'][0]['prefix_mapping'] = {'backbone.': 'backbone.x.'}
    pipe = ParadigmPipeline(changed, work_dir=wd)
    assert pipe.config_drift(pipe.stages[1]) == ['custom_hooks']
    messages = []
    monkeypatch.setattr('intern_mm.paradigm.pipeline.log', messages.append)
    pipe.run_stage(pipe.stages[0])
    pipe.run_stage(pipe.stages[1])
    monkeypatch.undo()
    assert any('WARNING: stage up-e-cls was trained with another config (differs in '
               'custom_hooks)' in m for m in messages), messages

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
    # the runs of the re-trained expert were redone from the new checkpoint; Up-A's kept
    with open(osp.join(wd, 'downstream/cls/up-e-cls/finetune_25pct/backbone.json')) as f:
        assert json.load(f)['ckpt_mtime'] == osp.getmtime(done['checkpoint'])
    assert resumed['adaptation']['cls']['up-a'] == summary['adaptation']['cls']['up-a']


@pytest.mark.slow
def test_mini_pipeline_runs_every_stage_kind_and_protocol(tmp_path, monkeypatch):
    """The shipped mini config: 6 stages (generalist export, distillation), four families,
    every role and protocol, and the claim lines."""
    cfg = Config.fromfile(MINI)
    cfg.world.root = str(tmp_path / 'world')
    summary = ParadigmPipeline(cfg, work_dir=str(tmp_path / 'wd')).run()
    assert summary['stages']['distill']['kind'] == 'distill'
    assert osp.isfile(tmp_path / 'wd/stages/distill/export/backbone.pth')
    adaptation = summary['adaptation']
    assert set(adaptation) == {'cls', 'det', 'seg', 'depth'}
    for family, roles in adaptation.items():
        assert set(roles) == {'up-a', 'best-up-e', 'up-g', 'distilled', 'scratch'}
        assert set(roles['scratch']) == {'25pct', '100pct'}
        assert {'probe', 'finetune'} <= set(roles['up-g'])
        assert roles['best-up-e']['probe']['stage'] in ('up-e-cls', 'up-e-det', 'up-e-seg')
        assert roles['distilled']['probe']['stage'] == 'distill'
    assert adaptation['depth']['up-g']['probe']['lower_is_better'] is True
    claim = summary['claim']
    assert set(claim['families']) == {'cls', 'det', 'seg', 'depth'}
    md = (tmp_path / 'wd/summary.md').read_text()
    for family in ('cls', 'det', 'seg', 'depth'):
        assert claim['families'][family]['line'] in md
    # recipe selection on val (tools/analysis_tools/select_downstream_recipe.py): a
    # variant with the pipeline's own seg recipe reproduces its runs' val scores exactly
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'select_recipe', osp.join(REPO, 'tools/analysis_tools/select_downstream_recipe.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    same = dict(cfg.downstream.recipes.seg)
    table = tool.select(cfg, str(tmp_path / 'wd'), 'seg',
                        dict(same=same, lr1=dict(same, lr=1.0)), ['up-g'],
                        log=lambda msg: None)
    assert table['same']['up-g'] == round(adaptation['seg']['up-g']['probe']['val_score'], 2)
    assert table['same']['scratch'] == round(
        adaptation['seg']['scratch']['25pct']['val_score'], 2)
    for scores in table.values():
        assert scores['mean'] == pytest.approx((scores['up-g'] + scores['scratch']) / 2,
                                               abs=0.01)
    # a fine-tuned panel: the pipeline's own recipe reproduces its fine-tuning run; a
    # variant's Runner overrides (cfg_options) reach the run
    table = tool.select(cfg, str(tmp_path / 'wd'), 'seg',
                        dict(same=same, no_lr=dict(same, cfg_options={
                            'optim_wrapper.optimizer.lr': 0.0})), ['up-g'],
                        scratch=False, protocol='finetune', log=lambda msg: None)
    assert table['same']['up-g'] == round(
        adaptation['seg']['up-g']['finetune']['val_score'], 2)
    assert table['no_lr']['up-g'] != table['same']['up-g']
    # the pipeline as jobs (workers=2, one thread each): the distillation stage,
    # removed, trains again in a process of its own while the parts that do not need it
    # run beside it; the parts that need it (distilled; up-g, whose OTA student it is)
    # wait for it and its export. Every part is a process; the run removed is redone
    # there and reaches the in-process score (1 vs 2 threads: float sums in another order)
    import shutil
    shutil.rmtree(tmp_path / 'wd/stages/distill')
    shutil.rmtree(tmp_path / 'wd/downstream/seg/up-a/probe_25pct')
    cfg.workers, cfg.launcher, cfg.downstream.families = 2, 'subprocess', ('seg', )
    messages = []
    for module in ('jobs', 'pipeline'):
        monkeypatch.setattr(f'intern_mm.paradigm.{module}.log', messages.append)
    again = ParadigmPipeline(cfg, work_dir=str(tmp_path / 'wd')).run()
    monkeypatch.undo()
    first = [m.split(':')[0] for m in messages if 'worker process' in m]
    assert first[:2] == ['stage distill', 'downstream seg/up-a'], messages
    finished = messages.index(next(m for m in messages if m.startswith(
        'stage distill: exported')))
    for part in ('distilled', 'up-g'):
        assert messages.index(next(m for m in messages if m.startswith(
            f'downstream seg/{part}: worker process'))) > finished
    assert (tmp_path / 'wd/stages/distill/export/backbone.pth').is_file()
    assert again['stages']['distill']['iters'] == 2
    assert set(again['adaptation']) == {'seg'}
    for part in ('up-a', 'best-up-e', 'up-g', 'distilled', 'scratch'):
        assert (tmp_path / f'wd/downstream/workers/seg.{part}.log').is_file()
    redone, before = (a['seg']['up-a']['probe'] for a in (again['adaptation'], adaptation))
    assert redone['score'] == pytest.approx(before['score'], rel=0.02)
    assert again['adaptation']['seg']['scratch'] == adaptation['seg']['scratch']


def test_pipeline_counterparts_over_a_schedule_grid(tiny_world, tmp_path):
    """Scratch and conventional pre-training (a stage's backbone) on 100% over a schedule
    grid; the grid stops at its first point that does not improve on val; the claim's
    counterpart is the best 100% run on val; a counterpart's own recipe keys per row."""
    from intern_mm.paradigm.summary import counterpart
    cfg = _cfg(tiny_world)
    cfg.downstream.scratch = dict(stage='up-e-cls', schedules=(1, 2, 4))
    cfg.downstream.conventional = dict(stage='up-e-cls', schedules=(1, 2))
    cfg.downstream.finetune_schedules = {'up-a': (1, 2)}  # the grid open to a 10% role
    wd = tmp_path / 'wd'
    summary = ParadigmPipeline(cfg, work_dir=str(wd)).run()
    runs = summary['downstream']['results']['cls']
    scratch, conventional = runs['scratch']['runs'], runs['conventional']['runs']
    assert set(conventional) == {'100pct', '100pct_2x'}
    assert conventional['100pct_2x']['recipe']['max_iters'] == 6  # 2 x the recipe's 3
    assert conventional['100pct_2x']['recipe']['milestones'] == [4]
    assert (wd / 'downstream/cls/conventional/finetune_100pct_2x/result.json').is_file()
    # scratch: 4x is run only when 2x improved on 1x (val)
    improved = scratch['100pct_2x']['val_score'] > scratch['100pct']['val_score']
    assert ('100pct_4x' in scratch) == improved
    # the counterpart: the best 100% run on val of both roles (ties: listed first)
    table = summary['adaptation']['cls']
    cands = [(role, key) for role in ('scratch', 'conventional') for key in table[role]
             if table[role][key]['fraction'] == 1.0]
    best = max(cands, key=lambda c: table[c[0]][c[1]]['val_score'])
    ref = counterpart(table)
    assert (ref['role'], ref['run']) == best
    assert table['conventional']['100pct']['stage'] == 'up-e-cls (conventional pre-training)'
    assert '| 100% 2x |' in (wd / 'summary.md').read_text()
    # Up-A's fine-tuning on the 25% subset over 1x / 2x: the best on val is its finetune
    up_a = runs['up-a']['runs']
    grid = up_a['finetune_grid']
    assert grid['schedules'] == [1.0, 2.0] and set(grid['runs']) == {'1x', '2x'}
    best = max(grid['runs'], key=lambda k: grid['runs'][k]['val_score'])  # ties: 1x
    assert up_a['finetune']['schedule'] == float(best[:-1]) == grid['chosen']
    assert table['up-a']['finetune']['score'] == grid['runs'][best]['test_score']
    assert (wd / 'downstream/cls/up-a/finetune_25pct_2x/result.json').is_file()
    # per-row settings, the finished runs reused: a row's protocols, a counterpart's
    # grid per row (an empty one: no 100% run on that row)
    cfg.downstream.protocols = {'default': ('probe', 'finetune'), 'up-a': {'cls': ('probe', )},
                                'best-up-e': {'cls': ('finetune', )}}
    cfg.downstream.scratch = dict(stage='up-e-cls', fractions=(1.0, ), schedules={'cls': ()})
    # a counterpart's own recipe keys on a row (its learning rate): its run starts afresh
    row_lr = conventional['100pct_2x']['recipe']['lr']
    cfg.downstream.conventional = dict(stage='up-e-cls', schedules={'cls': (2, )},
                                       recipes={'cls': dict(lr=row_lr * 3)})
    again = ParadigmPipeline(cfg, work_dir=str(wd)).run()
    runs = again['downstream']['results']['cls']
    assert runs['scratch']['runs'] == {}  # a role without a run on this row
    assert set(runs['conventional']['runs']) == {'100pct_2x'}
    assert runs['conventional']['runs']['100pct_2x']['recipe']['lr'] == row_lr * 3
    assert runs['up-a']['runs']['probe']['recipe']['lr'] == up_a['probe']['recipe']['lr']
    assert set(runs['up-a']['runs']) == {'probe'}
    assert set(runs['best-up-e']['runs']) == {'finetune'}  # one candidate: not probed
    ref = again['claim']['families']
    assert counterpart(again['adaptation']['cls'])['run'] == '100pct_2x'
    assert ref == {} or ref['cls']['counterpart']['run'] == '100pct_2x'
