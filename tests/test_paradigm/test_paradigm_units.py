"""Unit tests of the paradigm helpers: path rebasing, stage kinds, progress records,
failure messages, config checks, the claim table and the summary."""
import json
import math

import pytest
from mmengine.config import Config

from intern_mm.paradigm import (ParadigmPipeline, StageFailedError, claim_table,
                                rebase_paths, render_markdown)
from intern_mm.paradigm.exports import probe_backbone_cfg
from intern_mm.paradigm.launch import progress_line
from intern_mm.paradigm.summary import relative_score


def test_rebase_paths():
    cfg = dict(data_root='data/gv_world/', a=['data/gv_world/x.json', 'data/gv_worldx',
                                              dict(ann='data/gv_world/cls/t.txt')], n=3)
    out = rebase_paths(cfg, 'data/gv_world/', '/tmp/w')
    assert out == dict(data_root='/tmp/w/', a=['/tmp/w/x.json', 'data/gv_worldx',
                                               dict(ann='/tmp/w/cls/t.txt')], n=3)


def _pipe(tmp_path, stages, **kw):
    return Config(dict(world=dict(root=str(tmp_path / 'w')), stages=stages, **kw))


def test_pipeline_config_errors(tmp_path):
    cfg_file = 'configs/paradigm/metanet-tiny_up-e-cls_gv-world_300it.py'
    with pytest.raises(KeyError, match='unknown keys'):
        ParadigmPipeline(_pipe(tmp_path, [dict(name='a', config=cfg_file, confg=1)]))
    with pytest.raises(FileNotFoundError, match='does not exist'):
        ParadigmPipeline(_pipe(tmp_path, [dict(name='a', config='nope.py')]))
    with pytest.raises(ValueError, match='not an earlier stage'):
        ParadigmPipeline(_pipe(tmp_path, [
            dict(name='a', config=cfg_file, handoffs=[dict(stage='b')]),
            dict(name='b', config=cfg_file)]))
    with pytest.raises(ValueError, match='duplicate'):
        ParadigmPipeline(_pipe(tmp_path, [dict(name='a', config=cfg_file),
                                          dict(name='a', config=cfg_file)]))
    with pytest.raises(KeyError, match='world.root'):
        ParadigmPipeline(Config(dict(world=dict(), stages=[dict(name='a',
                                                                 config=cfg_file)])))
    with pytest.raises(ValueError, match='launcher'):
        ParadigmPipeline(_pipe(tmp_path, [dict(name='a', config=cfg_file)], launcher='x'))
    with pytest.raises(ValueError, match="workers=2 runs stages as processes: it needs "
                       "launcher='subprocess'"):
        ParadigmPipeline(_pipe(tmp_path, [dict(name='a', config=cfg_file)],
                               launcher='inprocess', workers=2))
    with pytest.raises(ValueError, match='workers must be a positive integer, got 0'):
        ParadigmPipeline(_pipe(tmp_path, [dict(name='a', config=cfg_file)], workers=0))
    with pytest.raises(ValueError, match='worker_threads must be a positive integer'):
        ParadigmPipeline(_pipe(tmp_path, [dict(name='a', config=cfg_file)],
                               worker_threads=True))


def test_downstream_parts_and_what_they_need():
    """A part per row and role / counterpart, with the stages it waits for (the pipeline
    as jobs, intern_mm/paradigm/jobs.py); a counterpart with nothing to run on a row is
    no part; a role waits for an earlier role of its row sharing a stage;
    downstream.workers names its new place."""
    from intern_mm.paradigm.adaptation import build_adapter, downstream_parts
    from intern_mm.paradigm.jobs import part_waits, stage_needs
    ds = dict(families=('cls', 'det'), backbones={'up-g': 'up-g', 'e': ['a', 'b']},
              protocols={'up-g': dict(det=('probe', 'ota'))}, ota=dict(student='dist'),
              scratch=dict(stage='up-g', fractions=(1.0, ), schedules=dict(cls=(), det=(1, ))),
              conventional=dict(stage='conv', schedules=dict(cls=(3, ), det=())))
    assert downstream_parts(ds) == [
        ('cls', 'up-g', ('up-g', )), ('cls', 'e', ('a', 'b')),
        ('cls', 'conventional', ('conv', )),
        ('det', 'up-g', ('up-g', 'dist')), ('det', 'e', ('a', 'b')),
        ('det', 'scratch', ())]
    # two roles naming one stage share its run folders: the later waits for the earlier
    shared = downstream_parts(dict(families=('cls', 'det'), backbones={
        'up-g': 'up-g', 'e': ['a', 'up-g'], 'f': 'b'}, scratch=dict(stage='up-g')))
    assert [(row, part) for row, part, _ in shared][:4] == [
        ('cls', 'up-g'), ('cls', 'e'), ('cls', 'f'), ('cls', 'scratch')]
    assert part_waits(shared) == [(), (0, ), (), (), (), (4, ), (), ()]
    assert stage_needs(dict(name='d', kind='distill', teacher='g',
                            handoffs=[dict(stage='a'), dict(stage='b')])) == ('a', 'b', 'g')
    with pytest.raises(KeyError, match="downstream.workers: now the pipeline config's "
                       'top-level `workers`'):
        build_adapter(dict(workers=3), None, '/tmp/x')
    # a bad counterpart entry: one line before any training
    with pytest.raises(KeyError, match=r"downstream.conventional: needs `stage`; unknown "
                       r"keys \['epochs'\]"):
        build_adapter(dict(conventional=dict(stage='c', epochs=3)), None, '/tmp/x')
    with pytest.raises(KeyError, match=r"downstream.scratch.recipes: unknown rows "
                       r"\['sgm'\] \(rows: \['cls', 'det', 'seg', 'depth'\]\)"):
        build_adapter(dict(families=('cls', ), scratch=dict(
            stage='g', recipes=dict(sgm=dict(lr=1.0)))), '/tmp/w', '/tmp/x')
    # a family left out of `families` keeps its settings (one family run from a config)
    build_adapter(dict(families=('cls', ), scratch=dict(
        stage='g', recipes=dict(seg=dict(lr=1.0)))), '/tmp/w', '/tmp/x')


def test_stage_kinds_are_explicit(tmp_path):
    up_g = 'configs/paradigm/metanet-tiny_up-g_gv-world_200it.py'
    up_e = 'configs/paradigm/metanet-tiny_up-e-cls_gv-world_300it.py'
    with pytest.raises(ValueError, match='unknown kind'):
        ParadigmPipeline(_pipe(tmp_path, [dict(name='a', config=up_e, kind='expert')]))
    # an export without kind='generalist' is refused (kinds are not guessed from keys)
    with pytest.raises(ValueError, match="belong to kind='generalist'"):
        ParadigmPipeline(_pipe(tmp_path, [dict(name='g', config=up_g, export=dict())]))
    with pytest.raises(ValueError, match="name a 'teacher'"):
        ParadigmPipeline(_pipe(tmp_path, [dict(name='d', config=up_e, kind='distill')]))
    with pytest.raises(ValueError, match="not an earlier kind='generalist'"):
        ParadigmPipeline(_pipe(tmp_path, [
            dict(name='a', config=up_e),
            dict(name='d', config=up_e, kind='distill', teacher='a')]))
    pipe = ParadigmPipeline(_pipe(tmp_path, [
        dict(name='a', config=up_e), dict(name='g', config=up_g, kind='generalist')]))
    assert [s['kind'] for s in pipe.stages] == ['train', 'generalist']
    # the generalist's downstream backbone is the plain-BN CentralModel
    assert 'bn_tasks' not in probe_backbone_cfg(pipe.stages[1])
    assert 'bn_tasks' in Config.fromfile(up_g).model.backbone


def test_progress_records_become_lines():
    line = progress_line
    assert line('up-a', dict(event='train', iter=25, max_iters=150, loss=1.23456), 7.2) == \
        '  up-a: iter 25/150  loss 1.235  (7s)'
    assert line('up-a', dict(event='start', iter=0, max_iters=150), 0) is None
    assert 'resumed at iteration 75/150' in line(
        'up-a', dict(event='start', iter=75, max_iters=150), 0)
    assert line('x', dict(event='val', iter=2, metrics={'acc': 50.0, 's': 'x'}), 0) == \
        '  x: validation acc=50.00'


def test_progress_hook_writes_json_lines(tmp_path):
    from intern_mm.paradigm import ProgressHook

    class _Runner:
        iter, max_iters = 0, 3

    path = tmp_path / 'progress.jsonl'
    hook = ProgressHook(str(path), interval=2)
    runner = _Runner()
    hook.before_train(runner)
    for it in range(3):
        runner.iter = it
        hook.after_train_iter(runner, it, outputs=dict(loss=float(it)))
    runner.iter = 3
    hook.after_val_epoch(runner, {'acc': 1.0})
    hook.after_train(runner)
    recs = [json.loads(ln) for ln in path.read_text().splitlines()]
    assert [(r['event'], r['iter']) for r in recs] == [
        ('start', 0), ('train', 2), ('train', 3), ('val', 3), ('done', 3)]
    assert recs[1]['loss'] == 1.0 and recs[2]['loss'] == 2.0
    assert recs[3]['metrics'] == {'acc': 1.0}


@pytest.mark.parametrize('launcher,workers', [('inprocess', 1), ('subprocess', 1),
                                               ('subprocess', 2)])
def test_failing_stage_is_named_with_its_log_in_one_line(launcher, workers, tiny_world,
                                                         tmp_path):
    cfg = Config(dict(
        launcher=launcher, workers=workers, world=dict(root=tiny_world),
        stages=[dict(name='up-e-cls',
                     config='configs/paradigm/metanet-tiny_up-e-cls_gv-world_300it.py',
                     cfg_options={'train_cfg.max_iters': 1,
                                  'optim_wrapper.optimizer.type': 'NoSuchOptimizer'})]))
    with pytest.raises(StageFailedError) as info:
        ParadigmPipeline(cfg, work_dir=str(tmp_path / 'wd')).run()
    msg = str(info.value)
    assert '\n' not in msg and msg.startswith('stage up-e-cls failed')
    log = msg.rsplit('log: ', 1)[1]
    assert log.startswith(str(tmp_path / 'wd' / 'stages' / 'up-e-cls'))
    assert (tmp_path / 'wd' / 'stages' / 'up-e-cls').is_dir()
    import os.path as osp
    assert osp.isfile(log)


def _run(score, val, lower=False, frac=0.1, stage='s'):
    return dict(score=score, val_score=val, metric='rmse' if lower else 'm',
                lower_is_better=lower, fraction=frac, stage=stage)


def test_claim_table_picks_the_protocol_on_val_and_compares_with_scratch():
    adaptation = dict(
        cls={'up-g': dict(probe=_run(70., 60.), finetune=_run(65., 66.)),
             'up-a': dict(probe=_run(50., 50.)),
             'scratch': {'10pct': _run(40., 40.), '100pct': _run(66., 66., frac=1.0)}},
        depth={'up-g': dict(probe=_run(1.2, 1.1, True), finetune=_run(0.8, 0.9, True)),
               'up-a': dict(probe=_run(0.5, 0.5, True)),
               'scratch': {'100pct': _run(1.0, 1.0, True, 1.0)}})
    claim = claim_table(adaptation)
    cls, depth = claim['families']['cls'], claim['families']['depth']
    # chosen on val (finetune 66 > probe 60), although probe has the better test score
    assert cls['protocol'] == 'finetune' and cls['score'] == 65.
    assert cls['beats_counterpart'] is False and 'does NOT beat' in cls['line']
    # lower is better: finetune (val 0.9) is chosen, and 0.8 < 1.0 beats scratch
    assert depth['protocol'] == 'finetune' and depth['beats_counterpart'] is True
    # RMSE in metres keeps 3 decimals (0.519 vs 0.525 must not both read 0.52)
    assert '0.800 vs scratch on 100% 1.000 rmse (lower is better): beats it' in depth['line']
    assert claim['generalist_beats'] == 1 and claim['num_families'] == 2
    assert math.isclose(claim['mean_relative']['up-g'],
                        (relative_score(65., 66., False) + relative_score(0.8, 1.0, True)) / 2)
    assert math.isclose(claim['mean_relative']['up-a'], ((50 - 66) / 66 * 100 + 50.) / 2)
    assert relative_score(0.5, 1.0, True) == 50.0
    assert claim['up_g_vs_parents'] == {'up-a': False}


def test_render_markdown_lists_stages_and_the_claim():
    adaptation = dict(cls={'up-g': dict(probe=_run(70., 60., stage='up-g')),
                           'scratch': {'100pct': _run(66., 66., frac=1.0,
                                                      stage='random')}})
    summary = dict(
        world=dict(root='/w', num=10, seed=0, img_size=64, splits=dict(train=7)),
        stages={'up-a': dict(kind='train', iters=2, wall_time_s=1.0, main_metric='m',
                             main_value=12.5, metrics={'m': 12.5, 'other': 3.0})},
        downstream=dict(fraction=0.1), adaptation=adaptation,
        claim=claim_table(adaptation), timings=dict(total_this_run_s=3.0))
    md = render_markdown(summary)
    assert '| up-a | train | 2 | 1.0 | m | 12.50 | other=3.00 |' in md
    assert '| Up-G | up-g | 70.00 (60.00) | - | - | - | - |' in md
    assert 'cls: Up-G adapted with 10% (probe, chosen on val) 70.00 vs scratch on 100% ' \
        '66.00 m: beats it' in md
    json.dumps(summary)


@pytest.mark.parametrize('name', [
    'intern-paradigm_metanet-tiny_gv-world.py', 'intern-paradigm_metanet-tiny_gv-world-mini.py',
    'intern-paradigm_metanet-tiny_gv-world_4-families_up-g-seg-aux.py'])
def test_shipped_pipeline_configs_are_valid(name, tmp_path):
    import os.path as osp
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    pipe = ParadigmPipeline(osp.join(repo, 'configs/paradigm', name),
                            work_dir=str(tmp_path))
    names = [s['name'] for s in pipe.stages]
    assert names == ['up-a', 'up-e-cls', 'up-e-det', 'up-e-seg', 'up-g', 'distill']
    assert [s['kind'] for s in pipe.stages][-2:] == ['generalist', 'distill']
    used = {n for v in pipe.cfg.downstream.backbones.values()
            for n in ([v] if isinstance(v, str) else v)}
    assert used <= set(names) and pipe.cfg.downstream.scratch.stage in names
    # every stage's downstream backbone config is found (student of the distill stage)
    for stage in pipe.stages:
        assert 'type' in probe_backbone_cfg(stage)


def test_stage_overrides_replace_keys_of_the_named_stage(tmp_path):
    import os.path as osp
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    cfg_dir = osp.join(repo, 'configs/paradigm')
    base = ParadigmPipeline(
        osp.join(cfg_dir, 'intern-paradigm_metanet-tiny_gv-world_4-families.py'),
        work_dir=str(tmp_path))
    ablation = ParadigmPipeline(
        osp.join(cfg_dir, 'intern-paradigm_metanet-tiny_gv-world_4-families_up-g-seg-aux.py'),
        work_dir=str(tmp_path))

    def aux_source(pipe):
        up_g = next(s for s in pipe.stages if s['name'] == 'up-g')
        return [h['stage'] for h in up_g['handoffs']
                if h['prefix_mapping'].get('backbone.') == 'backbone.aux.']

    assert aux_source(base) == ['up-e-det'] and aux_source(ablation) == ['up-e-seg']
    # everything else is the base config's
    assert [s for s in ablation.stages if s['name'] != 'up-g'] == \
        [s for s in base.stages if s['name'] != 'up-g']
    cfg = Config.fromfile(osp.join(cfg_dir, 'intern-paradigm_metanet-tiny_gv-world-mini.py'))
    cfg.stage_overrides = {'up-h': dict(handoffs=[])}
    with pytest.raises(KeyError, match="stage_overrides: no stage named 'up-h'"):
        ParadigmPipeline(cfg, work_dir=str(tmp_path))


def test_train_paradigm_cli_errors(tmp_path):
    import importlib.util
    import os.path as osp
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    spec = importlib.util.spec_from_file_location(
        'train_paradigm', osp.join(repo, 'tools/train_paradigm.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    with pytest.raises(FileNotFoundError, match='does not exist'):
        tool.main([str(tmp_path / 'nope.py')])
    cfg = osp.join(repo, 'configs/paradigm/intern-paradigm_metanet-tiny_gv-world-mini.py')
    with pytest.raises(KeyError, match='lanucher'):
        tool.main([cfg, '--work-dir', str(tmp_path), '--cfg-options', 'lanucher=inprocess'])
    # the mini pipeline runs in-process: asking for torchrun stages is refused up front
    with pytest.raises(ValueError, match="needs launcher='subprocess'"):
        tool.main([cfg, '--work-dir', str(tmp_path), '--nproc-per-stage', '2'])
    with pytest.raises(ValueError, match='positive integer'):
        tool.main([cfg, '--work-dir', str(tmp_path), '--nproc-per-stage', '0',
                   '--cfg-options', 'launcher=subprocess'])
