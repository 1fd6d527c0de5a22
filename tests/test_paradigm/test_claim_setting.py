"""INTERN's setting in the world (a downstream stream no upstream source reads), the
counterpart chosen on val, schedule scaling and the claim over seeds."""
import json
import os.path as osp
import statistics

import pytest
from mmengine.config import Config

from intern_mm.benchmark.gv_world_tasks import GV_WORLD_TASK_OF_FAMILY, GV_WORLD_TASKS
from intern_mm.benchmark.protocols import scale_schedule
from intern_mm.datasets.gv_world.spec import split_sizes
from intern_mm.datasets.gvd.leak_check import leak_check
from intern_mm.datasets.gvd.sources import world_sources
from intern_mm.paradigm import ParadigmPipeline
from intern_mm.paradigm.leak import pipeline_leak_check, upstream_images
from intern_mm.paradigm.seeds import seed_options, seeds_lines, seeds_table
from intern_mm.paradigm.stage_configs import check_stages, override_stages
from intern_mm.paradigm.summary import claim_table, counterpart
from intern_mm.paradigm.world import ensure_world
from paradigm_testutils import two_stages


def test_downstream_stream_shares_no_image_with_the_upstream_world(tiny_world, tmp_path):
    stream = str(tmp_path / 'stream')
    world = dict(root=tiny_world, downstream=dict(root=stream, train=10, val=4, test=6))
    meta, _ = ensure_world(tiny_world, world)
    assert meta['downstream_stream'] == dict(
        root=stream, splits=dict(train=10, val=4, test=6), first_index=1_000_000)
    with open(osp.join(stream, 'downstream', 'train.txt')) as f:
        assert f.readline().startswith('images/train/1000000.png ')
    # reused while its sizes hold, regenerated when they change
    mtime = osp.getmtime(osp.join(stream, 'meta.json'))
    ensure_world(tiny_world, world)
    assert osp.getmtime(osp.join(stream, 'meta.json')) == mtime
    # the pipeline's family rows read the stream; the leak check finds no shared image
    cfg = Config(dict(launcher='inprocess', world=world, stages=two_stages(),
                      downstream=dict(families=('cls', 'seg'), backbones={})))
    pipe = ParadigmPipeline(cfg, work_dir=str(tmp_path / 'wd'))
    assert pipe.downstream_adapter().world_root == stream
    record = pipeline_leak_check(pipe)
    assert record['leaked_images'] == 0
    assert record['downstream_groups']['cls/test'] == 6
    # the same check on the world's own images (the setting before the stream) finds them
    up = upstream_images(pipe)
    shared = leak_check(up, {'cls/train': up['shape'][:5]})
    assert shared.counts['leaked_downstream_images'] == 5
    world['downstream']['train'] = 12
    meta, _ = ensure_world(tiny_world, world)
    assert meta['downstream_stream']['splits']['train'] == 12


def test_scale_schedule():
    cls = dict(max_iters=150, milestones=[100, 130], batch_size=16)
    assert scale_schedule(cls, 3) == dict(max_iters=450, milestones=[300, 390], batch_size=16)
    assert scale_schedule(cls, 1) == cls and scale_schedule(cls, 1) is not cls
    det = dict(max_epochs=1, milestones=[1], repeat=7)
    assert scale_schedule(det, 10) == dict(max_epochs=1, milestones=[1], repeat=70)
    with pytest.raises(ValueError, match='positive'):
        scale_schedule(cls, 0)


def _run(score, val, fraction=0.1, low=False):
    return dict(score=score, val_score=val, metric='rmse' if low else 'top1',
                lower_is_better=low, fraction=fraction)


def test_claim_against_the_counterpart_chosen_on_val():
    table = {'cls': {
        'up-g': {'probe': _run(70.0, 60.0), 'finetune': _run(72.0, 59.0)},
        'up-a': {'probe': _run(50.0, 55.0)},
        'scratch': {'10pct': _run(40.0, 41.0), '100pct': _run(60.0, 58.0, 1.0),
                    '100pct_3x': _run(71.0, 62.0, 1.0)},
        'conventional': {'100pct': _run(75.0, 61.0, 1.0)}}}
    ref = counterpart(table['cls'])
    assert (ref['role'], ref['run'], ref['score']) == ('scratch', '100pct_3x', 71.0)
    # each counterpart's best run on val is kept, so a record shows the one not chosen
    assert ref['candidates'] == {
        'scratch': dict(run='100pct_3x', score=71.0, val_score=62.0),
        'conventional': dict(run='100pct', score=75.0, val_score=61.0)}
    claim = claim_table(table)
    row = claim['families']['cls']
    assert row['counterpart']['candidates'] == ref['candidates']
    # Up-G's protocol chosen on val (probe, 70.0), not its best test score (72.0)
    assert row['protocol'] == 'probe' and row['margin'] == pytest.approx(-1.0)
    assert row['beats_counterpart'] is False
    assert row['line'].endswith('vs the counterpart on 100% (scratch, 3x schedule, chosen on '
                                'val) 71.00 top1: does NOT beat it (margin -1.00)')
    assert 'beats the counterpart trained on 100% in 0 of 1' in claim['verdict']
    assert set(claim['mean_relative']) == {'up-g', 'up-a'}  # counterparts are no rows
    # lower is better: the margin is signed so that positive means Up-G is better
    depth = {'up-g': {'probe': _run(0.8, 0.9, low=True)},
             'conventional': {'100pct': _run(1.0, 1.1, 1.0, low=True)}}
    row = claim_table({'depth': depth})['families']['depth']
    assert row['margin'] == pytest.approx(0.2) and row['beats_counterpart'] is True
    assert row['line'].endswith('(lower is better): beats it (margin +0.200)')


def _claims(margins):
    return {seed: dict(families=dict(det=dict(margin=m, metric='mAP', fraction=0.1,
                                              lower_is_better=False, counterpart=None)),
                       mean_relative={'up-g': 10.0 * m, 'up-a': 5.0})
            for seed, m in margins.items()}


def test_seeds_table_margins_and_rule():
    table = seeds_table(_claims({1: 3.0, 2: 1.0, 3: 2.5}))
    det = table['families']['det']
    assert det['mean'] == pytest.approx(statistics.fmean([3.0, 1.0, 2.5]))
    assert det['sd'] == pytest.approx(statistics.stdev([3.0, 1.0, 2.5]))  # ddof 1
    assert det['won'] is True and table['won'] == 1
    assert table['mean_relative']['up-g']['mean'] == pytest.approx(65 / 3)
    assert table['up_g_vs_parents'] == {'up-a': True}
    # a positive mean inside its spread is not won; one seed has no verdict
    spread = seeds_table(_claims({1: 4.0, 2: -2.0, 3: 0.5}))['families']['det']
    assert spread['mean'] > 0 and spread['won'] is False
    single = seeds_table(_claims({1: 4.0}))
    assert single['families']['det']['sd'] is None and single['won'] == 0
    lines = seeds_lines(table)
    assert lines[0].startswith('det: margin of Up-G adapted with 10% over the counterpart')
    assert 'seed 1 +3.00, seed 2 +1.00, seed 3 +2.50; mean +2.17, sd 1.04: won' in lines[0]
    assert lines[1] == 'Won (mean margin > 0 and > its sd over seeds [1, 2, 3]): 1 of 1 families.'
    assert seed_options(3, 'data/w/') == {
        'world.seed': 3, 'world.root': 'data/w_s3', 'downstream.seed': 3,
        'stage_cfg_options.randomness.seed': 3}
    # the world declared as sources follows the seed's world; other sources stay
    decls = dict(shape=dict(root='data/w'), det_a=dict(root='./data/w/'),
                 cifar10=dict(root='../shared/datasets/cifar10'))
    options = seed_options(3, 'data/w/', decls)
    assert options['sources.shape.root'] == options['sources.det_a.root'] == 'data/w_s3'
    assert not any('cifar10' in key for key in options)


def test_claim_seeds_tool_writes_each_seed_and_the_table(tmp_path, monkeypatch):
    import importlib.util
    from paradigm_testutils import REPO
    spec = importlib.util.spec_from_file_location(
        'claim_seeds', osp.join(REPO, 'tools/analysis_tools/claim_seeds.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    claims = _claims({1: 3.0, 2: 1.0})
    calls = []

    def fake_run(config, seed, work_dir, cfg_options=None):
        calls.append((seed, work_dir))
        return dict(world=dict(seed=seed), claim=claims[seed])

    monkeypatch.setattr(tool, 'run_seed', fake_run)
    out = tmp_path / 'out'
    cfg = tmp_path / 'cfg.py'
    cfg.write_text('world = dict(root="w")\n')
    tool.main([str(cfg), '--seeds', '1', '2', '--work-dir', 'wd', '--out', str(out)])
    assert calls == [(1, 'wd'), (2, 'wd')]
    assert json.loads((out / 'seed2.json').read_text())['claim'] == claims[2]
    table = json.loads((out / 'claim_seeds.json').read_text())
    assert table['families']['det']['margins'] == {'1': 3.0, '2': 1.0}
    assert 'Won (mean margin > 0' in (out / 'claim_seeds.md').read_text()
    # a record names the --cfg-options its run had (none: no key)
    assert 'cfg_options' not in json.loads((out / 'seed2.json').read_text())
    tool.main([str(cfg), '--seeds', '1', '--work-dir', 'wd', '--out', str(out / 'options'),
               '--cfg-options', 'world.root=w2'])
    assert json.loads((out / 'options' / 'seed1.json').read_text())['cfg_options'] == {
        'world.root': 'w2'}
    # --table-only: the table from the records in --out, nothing run; a missing one named
    calls.clear()
    (out / 'claim_seeds.json').unlink()
    tool.main([str(cfg), '--seeds', '1', '2', '--out', str(out), '--table-only'])
    assert not calls and json.loads((out / 'claim_seeds.json').read_text())[
        'families']['det']['margins'] == {'1': 3.0, '2': 1.0}
    with pytest.raises(FileNotFoundError, match=r'no record of seed 3: .*seed3\.json'):
        tool.main([str(cfg), '--seeds', '1', '3', '--out', str(out), '--table-only'])
    # --threads without --jobs: this process and the stages it starts use that many
    import os
    import torch
    pinned = []
    monkeypatch.setattr(torch, 'set_num_threads', pinned.append)
    monkeypatch.setenv('OMP_NUM_THREADS', '7')
    monkeypatch.setenv('MKL_NUM_THREADS', '7')
    tool.main([str(cfg), '--seeds', '1', '--work-dir', 'wd', '--out', str(out),
               '--threads', '1'])
    assert pinned == [1] and os.environ['OMP_NUM_THREADS'] == '1' == os.environ[
        'MKL_NUM_THREADS']


def test_claim_seeds_tool_runs_seeds_in_parallel_processes(tmp_path, monkeypatch):
    """--jobs N: one process per seed (this tool, --seed-only), at most N at once, with
    cpus // N threads; the table is made from the seeds' records; a failed seed names
    its log."""
    import importlib.util
    import os
    import subprocess
    import time
    from paradigm_testutils import REPO
    spec = importlib.util.spec_from_file_location(
        'claim_seeds', osp.join(REPO, 'tools/analysis_tools/claim_seeds.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    claims = _claims({1: 3.0, 2: 1.0, 3: 2.5})
    out, started, fail = tmp_path / 'out', [], set()

    class FakeProcess:  # the child: writes its seed's record
        def __init__(self, cmd, env, stdout, stderr):
            seed = int(cmd[cmd.index('--seeds') + 1])
            started.append((seed, cmd, env['OMP_NUM_THREADS']))
            self.returncode = 1 if seed in fail else 0
            if not self.returncode:
                (out / f'seed{seed}.json').write_text(json.dumps(dict(claim=claims[seed])))

        def poll(self):
            return self.returncode

    monkeypatch.setattr(subprocess, 'Popen', FakeProcess)
    monkeypatch.setattr(time, 'sleep', lambda s: None)
    monkeypatch.setattr(os, 'cpu_count', lambda: 4)
    cfg = tmp_path / 'cfg.py'
    cfg.write_text('world = dict(root="w")\n')
    args = [str(cfg), '--seeds', '1', '2', '3', '--work-dir', str(tmp_path / 'wd'),
            '--out', str(out), '--jobs', '2', '--cfg-options', 'world.num=30']
    tool.main(args)
    assert [s for s, _, _ in started] == [1, 2, 3]
    assert {t for _, _, t in started} == {'2'}  # 4 cpus // 2 jobs
    assert '--seed-only' in started[0][1] and started[0][1][-2:] == ['--cfg-options',
                                                                    'world.num=30']
    table = json.loads((out / 'claim_seeds.json').read_text())
    assert table['families']['det']['margins'] == {'1': 3.0, '2': 1.0, '3': 2.5}
    started.clear()
    tool.main(args + ['--threads', '1'])  # pinned, as make claim does
    assert {t for _, _, t in started} == {'1'}
    fail.add(2)
    with pytest.raises(RuntimeError, match=r'1 seed\(s\) failed: see .*seed2\.log'):
        tool.main(args)


_CONFIGS = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                    'configs/paradigm')


def _paradigm_config(name):
    return Config.fromfile(osp.join(_CONFIGS, f'intern-paradigm_metanet-tiny_gv-world_{name}.py'))


@pytest.mark.parametrize('name, experts, conventional, rates', [
    ('claim', 900, 1050, (1.0, 1.0, 0.1)), ('demo', 900, 1050, (1.0, 1.0, 0.1)),
    ('claim_grids', 900, 1050, (1.0, 1.0, 0.1)),
    ('claim_design-points', 900, 1050, (1.0, 1.0, 0.1)),
    ('claim_grids_downstream-100', 900, 1050, (1.0, 1.0, 0.1)),
    ('claim_upstream-10k', 900, 1050, (1.0, 1.0, 0.1)),
    ('claim_more-sources', 900, 1050, (1.0, 1.0, 0.1)),
    # the ablations measured on the stages as they were keep those stages
    ('demo_lr-grid', 300, 450, (1.0, 1.0, 0.1)), ('demo_up-g-600it', 300, 450, (1.0, 1.0, 0.1)),
    ('claim_first-design-run', 300, 450, (0.1, 0.1, 0.1))])
def test_claim_stage_schedules(name, experts, conventional, rates):
    cfg = _paradigm_config(name)
    built = {}
    for stage in check_stages(override_stages(cfg.stages, cfg.stage_overrides)):
        stage_cfg = Config.fromfile(stage['config'])
        stage_cfg.merge_from_dict(dict(stage.get('cfg_options') or {}))
        iters = stage_cfg.train_cfg.max_iters
        # the cosine decay ends with training; a checkpoint at the last iteration
        assert stage_cfg.param_scheduler[-1]['end'] == iters, stage['name']
        assert stage_cfg.default_hooks.checkpoint.interval in (iters, iters // 2), stage['name']
        custom = stage_cfg.optim_wrapper.get('paramwise_cfg', {}).get('custom_keys', {})
        built[stage['name']] = (iters, custom.get('backbone', {}).get('lr_mult'))
    up_g = 600 if name == 'demo_up-g-600it' else 200
    assert built == {'up-a': (150, None), 'up-e-cls': (experts, rates[0]),
                     'up-e-det': (experts, rates[1]), 'up-e-seg': (experts, rates[2]),
                     'up-g': (up_g, None), 'conventional': (conventional, 1.0)}


def test_claim_design_configs():
    claim, grids = _paradigm_config('claim'), _paradigm_config('claim_grids')
    first = _paradigm_config('claim_first-design-run')
    # make claim-design: the claim config's jobs and rates, grids instead of its points
    # (30x where the first design run still gained at 10x)
    assert (grids.workers, grids.worker_threads) == (claim.workers, claim.worker_threads)
    assert grids.downstream.recipes == claim.downstream.recipes
    for side in ('scratch', 'conventional'):
        assert grids.downstream[side].recipes == claim.downstream[side].recipes
        assert dict(grids.downstream[side].schedules) == {
            'cls': (1, 3, 10), 'det': (1, 3, 10), 'seg': (1, 3, 10, 30),
            'depth': (1, 3, 10, 30)}
    assert set(claim.downstream.scratch.schedules) == set(grids.downstream.scratch.schedules)
    assert dict(grids.downstream.finetune_schedules['up-g']) == dict(
        grids.downstream.scratch.schedules)
    # the first design run as it was run: one process, 1x / 3x / 10x, the recipes' rates
    assert (first.workers, first.worker_threads) == (1, None)
    assert first.downstream.finetune_schedules == {'up-g': (1, 3, 10)}
    assert dict(first.downstream.recipes) == {'cls': {'batch_size': 16}, 'det': {'repeat': 70}}
    for side in ('scratch', 'conventional'):
        assert dict(first.downstream[side].recipes) == {}
        assert set(first.downstream[side].schedules.values()) == {(1, 3, 10)}
    # the claim at the design's points: the claim config's rates, longer schedules
    points = _paradigm_config('claim_design-points')
    assert points.downstream.recipes == claim.downstream.recipes
    assert dict(points.downstream.finetune_schedules['up-g']) == {
        'cls': (3, ), 'det': (10, ), 'seg': (30, ), 'depth': (10, )}
    for side in ('scratch', 'conventional'):
        assert points.downstream[side].recipes == claim.downstream[side].recipes
        assert all(points.downstream[side].schedules[row] >= claim.downstream[side].schedules[row]
                   for row in ('det', 'seg', 'depth'))


def test_claim_size_configs():
    claim, grids = _paradigm_config('claim'), _paradigm_config('claim_grids')
    # a smaller downstream stream: 100 training images, val and test as large as before,
    # the design's grids, stages and rates; sizes that fit the 10-image subsets
    small = _paradigm_config('claim_grids_downstream-100')
    assert small.world.downstream == dict(claim.world.downstream, train=100)
    assert small.world.root != claim.world.root  # its own worlds: the claim's stay
    assert small.stages == claim.stages and small.stage_overrides == claim.stage_overrides
    for side in ('scratch', 'conventional'):
        assert small.downstream[side] == grids.downstream[side]
    assert small.downstream.finetune_schedules == grids.downstream.finetune_schedules
    subset = small.world.downstream.train * small.downstream.fraction
    recipes = {row: dict(GV_WORLD_TASKS[task]['recipe'], **small.downstream.recipes[row])
               for row, task in GV_WORLD_TASK_OF_FAMILY.items()}
    assert all(recipes[row]['batch_size'] <= subset for row in ('cls', 'seg', 'depth'))
    for row in ('seg', 'depth'):  # only the batch changes
        assert dict(small.downstream.recipes[row], batch_size=None) == dict(
            claim.downstream.recipes[row], batch_size=None)
    # detection repeats the subset: every run keeps its iterations per epoch
    det = dict(GV_WORLD_TASKS['gvw_colour_det']['recipe'], **claim.downstream.recipes.det)
    claim_subset = claim.world.downstream.train * claim.downstream.fraction
    assert (subset * recipes['det']['repeat'] / recipes['det']['batch_size']
            == claim_subset * det['repeat'] / det['batch_size'])
    # a larger upstream: 35x the downstream 100% set, everything else the claim's
    large = _paradigm_config('claim_upstream-10k')
    assert large.world == dict(claim.world, root=large.world.root, num=10000)
    assert large.world.root != claim.world.root
    assert split_sizes(large.world.num, 0.15, 0.15)['train'] == 35 * claim.world.downstream.train
    assert large.downstream == claim.downstream and large.stages == claim.stages


def test_claim_more_sources_config():
    claim, more = _paradigm_config('claim'), _paradigm_config('claim_more-sources')
    # the claim's world, stages and downstream; the world declared as sources, plus the
    # worked example's CIFAR-10 and raccoon, declared as there
    assert more.world == claim.world and more.downstream == claim.downstream
    assert more.stages == claim.stages and more.stage_overrides == claim.stage_overrides
    your_data = Config.fromfile(osp.join(
        _CONFIGS, 'intern-paradigm_metanet-tiny_your-data.py'))
    assert more.sources == dict(world_sources(claim.world.root),
                                cifar10=your_data.sources.cifar10,
                                raccoon=your_data.sources.raccoon)
    assert more.source_options == your_data.source_options
    # every seed's world sources follow the seed's world; the real sources stay
    options = seed_options(2, more.world.root, more.sources)
    moved = {key.split('.')[1] for key in options if key.startswith('sources.')}
    assert moved == set(world_sources(claim.world.root))
    assert {options[f'sources.{name}.root'] for name in moved} == {options['world.root']}
