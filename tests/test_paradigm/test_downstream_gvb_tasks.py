"""Downstream-Adaptation on GV-B task rows (``downstream.tasks``): rows next to the
world's families, no world needed, the claim rows, ``run_config.py``, the images a row
reads (for the leak check) and the one-line refusals of bad rows."""
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config

from intern_mm.paradigm import DownstreamAdapter, backbone_spec
from intern_mm.paradigm.adaptation import build_adapter, run_downstream
from intern_mm.paradigm.summary import (build_summary, leaked_images, render_markdown,
                                        write_summary)

TINY = dict(type='MetaNet', arch='tiny', out_indices=(4, ))
CLS = dict(max_iters=2, milestones=[1], batch_size=4)
GRID = [dict(lr=0.01, weight_decay=1e-4, momentum=0.9)]


class _Pipe:
    """What :func:`run_downstream` / :func:`build_summary` read of a pipeline: one
    finished stage ``up-g`` (a random-init backbone) and the scratch architecture."""

    def __init__(self, downstream: dict, world_root, work_dir: str):
        self.cfg = Config(dict(downstream=downstream))
        self.world_root, self.work_dir = world_root, work_dir
        self.stages, self.results, self.timings = [], {}, {}

    def stage(self, name):
        return dict(name=name)

    def stage_backbone(self, name):
        return backbone_spec(TINY, None)

    def scratch_backbone(self):
        return backbone_spec(TINY, None)

    def downstream_adapter(self):
        return build_adapter(self.cfg.downstream, self.world_root,
                             osp.join(self.work_dir, 'downstream'))


def _dataset_images(run_config: str, which: str) -> set:
    """Image paths of a dataset built from a run folder's ``run_config.py``."""
    from mmengine.registry import DATASETS, DefaultScope
    cfg = Config.fromfile(run_config)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        ds = DATASETS.build(cfg[which].dataset)
    ds = getattr(ds, 'dataset', ds)  # RepeatDataset
    return {ds.get_data_info(i)['img_path'] for i in range(len(ds))}


def _list_images(root: str, ann_file: str) -> list:
    with open(osp.join(root, ann_file)) as f:
        return [osp.join(root, ln.split()[0]) for ln in f if ln.strip()]


def test_task_rows_run_like_families_without_a_world(tiny_world, tmp_path):
    """The world's count task as the family row ``cls`` and as the tasks row ``count``:
    same runs, same numbers, rows in the summary, claim and figure under their names;
    with only ``tasks`` the adapter needs no world root."""
    ds = dict(fraction=0.25, families=('cls', ), recipes=dict(cls=CLS), probe_grid=GRID,
              tasks=dict(count=dict(task='gvw_count_cls', data_root=tiny_world,
                                    recipe=CLS)),
              backbones={'up-g': 'up-g'}, protocols=dict(default=('probe', 'finetune')),
              scratch=dict(stage='up-g', fractions=(1.0, )))
    pipe = _Pipe(ds, tiny_world, str(tmp_path))
    downstream = run_downstream(pipe)
    res = downstream['results']
    assert list(res) == ['cls', 'count']
    for role, runs in res['cls'].items():
        for key, run in runs['runs'].items():  # same task, data, seed, recipe
            twin = res['count'][role]['runs'][key]
            assert twin['test'] == run['test'] and twin['val'] == run['val'], (role, key)
            assert 'row' not in run and twin['row'] == 'count'
    # the family keeps today's folders and stamp; the row's folder is its name
    wd = osp.join(str(tmp_path), 'downstream')
    with open(osp.join(wd, 'cls/up-g/finetune_25pct/backbone.json')) as f:
        assert set(json.load(f)) == {'checkpoint', 'ckpt_mtime', 'recipe', 'options', 'ota'}
    with open(osp.join(wd, 'count/up-g/finetune_25pct/backbone.json')) as f:
        assert json.load(f)['row'] == dict(task='gvw_count_cls', data_root=tiny_world,
                                           val_ratio=0.0)
    for run in ('up-g/probe_25pct', 'up-g/finetune_25pct', 'scratch/finetune_100pct'):
        assert osp.isfile(osp.join(wd, 'count', run, 'run_config.py')), run
    summary = build_summary(pipe, None, downstream, 1.0)
    assert set(summary['adaptation']) == {'cls', 'count'}
    row = summary['claim']['families']['count']
    assert (row['row'], row['task'], row['family'], row['metric'],
            row['lower_is_better']) == ('count', 'gvw_count_cls', 'cls', 'top1', False)
    assert row['line'].startswith('count (gvw_count_cls, cls): Up-G adapted with 25%')
    assert summary['claim']['families']['cls']['line'].startswith('cls: Up-G adapted')
    assert summary['claim']['verdict'].endswith(' of 2 tasks.')
    md = write_summary(json.loads(json.dumps(summary)), str(tmp_path))
    assert '### count (gvw_count_cls, cls; top1, higher is better)' in md
    assert '### cls (top1, higher is better)' in md
    assert f'World: `{tiny_world}`' in md and osp.isfile(tmp_path / 'summary.png')
    # the leak check's record is named in the verdict line
    leaks = [dict(upstream=u, downstream=d, distance=2, upstream_groups=['src'],
                  downstream_groups=['count/test'])
             for u, d in (('u.png', 'd.png'), ('v.png', 'd.png'), ('u.png', 'e.png'))]
    record = dict(ok=False, max_distance=10, leaks=leaks, leaked_images=2, counts=dict(
        upstream_images=9, downstream_images=4, leaks=3, leaked_downstream_images=2))
    assert leaked_images(dict(leaks=leaks)) == 2  # a bare LeakReport JSON
    leaky = build_summary(pipe, None, downstream, 1.0, leak_check=record)
    assert leaky['claim']['verdict'].endswith(
        ' of 2 tasks, computed with 2 leaked images (upstream near duplicates of '
        'downstream images: leak_check in summary.json).')
    assert leaky['claim']['verdict'] in render_markdown(leaky)
    assert 'leaked' not in render_markdown(summary)
    # downstream.note: the claim section's last line (the demo's pointer to make claim)
    pipe.cfg.downstream.note = 'make claim adds seeds.'
    noted = render_markdown(build_summary(pipe, None, downstream, 1.0))
    assert noted.split('## The claim')[1].split('\n\n')[1].splitlines()[-1] == (
        '* make claim adds seeds.')
    # only tasks rows: no world root at all
    only = dict(ds, tasks=dict(count=dict(task='gvw_count_cls', data_root=tiny_world,
                                          recipe=CLS)))
    only.pop('families')
    alone = _Pipe(only, None, str(tmp_path))
    again = run_downstream(alone)  # finished runs reused
    assert list(again['results']) == ['count']
    assert again['results']['count'] == res['count']
    assert 'World: none' in render_markdown(build_summary(alone, None, again, 1.0))
    # images(row): the task's splits as its datasets read them
    adapter = DownstreamAdapter(None, str(tmp_path / 'x'), fraction=0.25,
                                tasks=only['tasks'])
    images = adapter.images('count')
    for split in ('train', 'val', 'test'):
        assert images[split] == _list_images(tiny_world, f'downstream/{split}.txt')
    run_config = osp.join(wd, 'count/up-g/finetune_25pct/run_config.py')
    assert _dataset_images(run_config, 'test_dataloader') == set(images['test'])
    assert _dataset_images(run_config, 'train_dataloader') < set(images['train'])


def _cifar_slice(cifar: str, out: str, n_train: int = 5, n_test: int = 2) -> str:
    """A small ImageFolder tree of links into ../shared's CIFAR-10 (10 classes)."""
    for split, n in (('train', n_train), ('test', n_test)):
        for cls in sorted(os.listdir(osp.join(cifar, split))):
            os.makedirs(osp.join(out, split, cls))
            for name in sorted(os.listdir(osp.join(cifar, split, cls)))[:n]:
                os.symlink(osp.join(cifar, split, cls, name), osp.join(out, split, cls, name))
    return out


def test_gvb_task_rows_on_shared_data_carve_their_val(datasets_dir, tmp_path):
    """cifar10 (a GV-B task) and raccoon_det (a stand-in) have no val split: it is carved
    out of each subset, runs train on the rest; images() and run_config.py agree."""
    c10 = _cifar_slice(str(datasets_dir / 'cifar10'), str(tmp_path / 'c10'))
    tasks = dict(c10=dict(task='cifar10', data_root=c10, val_ratio=0.5,
                          recipe=dict(CLS, img_size=32)),
                 rac=dict(task='raccoon_det', data_root=str(datasets_dir / 'raccoon'),
                          recipe=dict(img_scale=(64, 64), batch_size=2, repeat=1)))
    adapter = DownstreamAdapter(None, str(tmp_path / 'ds'), fraction=0.4, probe_grid=GRID,
                                tasks=tasks)
    spec = backbone_spec(TINY, None)
    probe = adapter.run('c10', 'bb', spec, 'probe')
    tuned = adapter.run('c10', 'bb', spec, 'finetune')
    manifest = adapter.subset('c10', 0.4)
    assert manifest['counts'] == dict(subset=20, train=10, val=10)  # 2 per class, 1 val
    assert probe['num_train'] == tuned['num_train'] == 10 and tuned['row'] == 'c10'
    images = adapter.images('c10')
    assert len(images['train']) == 50 and len(images['test']) == 20
    assert images['val'] == [osp.join(c10, i) for i in manifest['ids']['val']]
    assert set(images['val']) < set(images['train'])
    run_dir = osp.join(str(tmp_path), 'ds/c10/bb')
    for run in ('probe_40pct', 'finetune_40pct'):
        run_config = osp.join(run_dir, run, 'run_config.py')
        trained = _dataset_images(run_config, 'train_dataloader')
        assert trained == {osp.join(c10, i) for i in manifest['ids']['train']}
        assert not trained & set(images['val'])
        assert _dataset_images(run_config, 'test_dataloader') == set(images['test'])
    # detection (VOC xml): the dataset a run config reads = images(); no training here
    from intern_mm.benchmark.protocols import build_runner_cfg, write_run_config
    ctx = adapter._context('rac', spec, 'finetune', 0.4, str(tmp_path / 'rac'), None,
                           'finetune')
    run_config = write_run_config(build_runner_cfg(ctx))
    rac = adapter.images('rac')
    assert (len(rac['train']), len(rac['test'])) == (160, 40)
    assert _dataset_images(run_config, 'test_dataloader') == set(rac['test'])
    assert _dataset_images(run_config, 'train_dataloader') <= set(rac['train']) - set(
        rac['val'])
    val_ctx = adapter.split_context(ctx, 'val')
    val_cfg = build_runner_cfg(val_ctx)
    assert val_cfg['test_dataloader']['dataset']['ann_file'].endswith('val_raccoon.txt')


@pytest.mark.parametrize('row, message', [
    (dict(task='cifar11', data_root='.'),
     'downstream.tasks.r: unknown GV-B task "cifar11"'),
    (dict(task='cifar10', data_root='/nonexistent/c10'),
     'downstream.tasks.r: data_root /nonexistent/c10 does not exist (task cifar10;'),
    (dict(task='cifar10', data_root='.', epochs=3),
     "downstream.tasks.r: unknown keys ['epochs'] (allowed: ['task', 'data_root'"),
    (dict(task='cifar10'), 'downstream.tasks.r: "data_root" is required'),
    (dict(task='cifar10', data_root='.', recipe=dict(lr=1, max_epochs=2)),
     "downstream.tasks.r.recipe: unknown recipe keys ['max_epochs'] for the cls family"),
])
def test_bad_task_rows_are_refused_in_one_line(row, message, tmp_path):
    if row.get('data_root') == '.':  # a real ImageFolder root: only the named fault
        row = dict(row, data_root=str(tmp_path))
        for split in ('train', 'test'):
            os.makedirs(tmp_path / split / 'a')
    with pytest.raises((KeyError, FileNotFoundError, ValueError)) as err:
        build_adapter(dict(tasks=dict(r=row)), None, str(tmp_path / 'ds'))
    text = err.value.args[0]
    assert text.startswith(message) and '\n' not in text, text


def test_families_need_a_world_and_rows_must_not_collide(tmp_path):
    with pytest.raises(ValueError, match=r"families \['cls', 'det', 'seg', 'depth'\] are "
                                         "the GV world's tasks and need world.root"):
        build_adapter(dict(fraction=0.1), None, str(tmp_path))
    with pytest.raises(KeyError, match=r"\['cls'\] named both in families and as tasks"):
        build_adapter(dict(families=('cls', ), tasks=dict(cls=dict(
            task='cifar10', data_root=str(tmp_path)))), str(tmp_path), str(tmp_path))
    with pytest.raises(ValueError, match="row name 'a/b' must be a folder name"):
        build_adapter(dict(tasks={'a/b': dict(task='cifar10', data_root='.')}), None,
                      str(tmp_path))
