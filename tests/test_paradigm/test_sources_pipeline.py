"""The pipeline on declared sources: stage data parts built from them, bad input before
any training, the world declared as sources, and the worked example's mini run (real
files from ../shared; its summary is a session fixture other tests can read)."""
import json
import os
import os.path as osp
from pathlib import Path

import pytest
from mmengine.config import Config

from intern_mm.datasets.gvd import GVDInputError
from intern_mm.datasets.gvd.sources import world_sources
from intern_mm.paradigm import ParadigmPipeline

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get('INTERN_MM_SHARED', REPO.parent / 'shared')).resolve()
MINI = str(REPO / 'configs/paradigm/intern-paradigm_metanet-tiny_your-data-mini.py')
STAGES = 'configs/paradigm/intern-paradigm_metanet-tiny_gv-world.py'


def _world_pipeline(world, work_dir, stages=None):
    """The demo's stages with the tiny world declared as sources (no ``world``)."""
    base = Config.fromfile(str(REPO / STAGES))
    overrides = {}
    for task in ('cls', 'det', 'seg'):
        overrides.update(Config.fromfile(
            str(REPO / f'configs/_base_/datasets/gv_world_{task}.py'))[f'{task}_gvd_overrides'])
    return ParadigmPipeline(Config(dict(
        stages=stages or base.stages, sources=world_sources(world),
        source_options=dict(overrides=overrides))), work_dir=str(work_dir))


def test_world_as_sources_keeps_the_shipped_spaces(tiny_world, tmp_path):
    pipe = _world_pipeline(tiny_world, tmp_path)
    assert pipe.world_root is None
    pipe.done = lambda name: dict(checkpoint=f'/ckpt/{name}.pth')
    stage = pipe.stage('up-e-det')
    det = pipe.build_stage_config(stage)
    shipped = Config.fromfile(stage['config'])
    head = det.model.roi_head.bbox_head
    assert head.sources == shipped.model.roi_head.bbox_head.sources
    assert head.num_classes == shipped.model.roi_head.bbox_head.num_classes == 8
    dataset = det.train_dataloader.dataset
    assert dataset.classes == list(shipped.train_dataloader.dataset.classes)
    assert [d.ann_file for d in dataset.datasets] == [
        str(tmp_path / f'sources/{n}/train.json') for n in ('det_a', 'det_b')]
    cls = pipe.build_stage_config(pipe.stage('up-e-cls'))
    assert cls.model.head.sources == Config.fromfile(
        pipe.stage('up-e-cls')['config']).model.head.sources
    up_a = pipe.build_stage_config(pipe.stage('up-a'))
    captions = str(tmp_path / 'sources/captions_train.json')
    assert up_a.model.tokenizer.ann_file == captions
    assert up_a.train_dataloader.dataset.ann_file == captions
    with open(captions) as f:
        with open(osp.join(tiny_world, 'captions/train.json')) as g:
            assert len(json.load(f)['data_list']) == len(json.load(g)['data_list'])


def test_bad_sources_fail_before_training(tiny_world, tmp_path):
    base = Config.fromfile(str(REPO / STAGES))
    only_cls = [dict(s, handoffs=[]) for s in base.stages if s['name'] == 'up-e-cls']
    pipe = _world_pipeline(tiny_world, tmp_path, stages=only_cls)
    with pytest.raises(GVDInputError, match="source captions: task 'image-text' has no stage"):
        pipe.source_plan()
    decls = {'shape': dict(world_sources(tiny_world)['shape'], colour=1)}
    pipe = ParadigmPipeline(Config(dict(stages=only_cls, sources=decls)),
                            work_dir=str(tmp_path))
    with pytest.raises(GVDInputError, match=r"source shape: unknown keys \['colour'\]"):
        pipe.run()
    with pytest.raises(KeyError, match='world.root or `sources` is required'):
        ParadigmPipeline(Config(dict(stages=only_cls)), work_dir=str(tmp_path))


@pytest.fixture(scope='session')
def your_data_mini(tmp_path_factory):
    """The worked example's -mini run (world in a temporary folder, CIFAR-10 / raccoon from
    ../shared): ``(work_dir, summary, world_root)``."""
    if not (SHARED / 'datasets').is_dir():
        pytest.skip(f'../shared/datasets is absent ({SHARED}): the worked example reads '
                    'CIFAR-10 and raccoon from it')
    tmp = tmp_path_factory.mktemp('your_data_mini')
    world = str(tmp / 'world')
    cfg = Config.fromfile(MINI)
    cfg.world.root = world
    for name, decl in world_sources(world).items():
        cfg.sources[name] = decl
    for name in ('cifar10', 'raccoon'):
        cfg.sources[name].root = str(SHARED / 'datasets' / name)
    cfg.downstream.tasks.count.data_root = world
    work_dir = str(tmp / 'wd')
    return work_dir, ParadigmPipeline(cfg, work_dir=work_dir).run(), world


@pytest.mark.slow
def test_your_data_mini_end_to_end(your_data_mini):
    work_dir, summary, world = your_data_mini
    assert list(summary['stages']) == ['up-a', 'up-e-cls', 'up-e-det', 'up-e-seg', 'up-g',
                                       'distill']
    assert 'cifar10/accuracy/top1' in summary['stages']['up-e-cls']['metrics']
    det = Config.fromfile(osp.join(work_dir, 'stages/up-e-det/stage_config.py'))
    head = det.model.roi_head.bbox_head
    assert head.num_classes == 9 and head.sources['raccoon'] == [8]
    assert det.train_dataloader.dataset.datasets[2].type == 'mmdet.VOCDataset'
    # every world train image is an upstream image and a count/train image: all leaked
    with open(osp.join(world, 'meta.json')) as f:
        num_train = json.load(f)['splits']['train']
    leak = summary['leak_check']
    assert leak['leaked_images'] == num_train and not leak['ok']
    assert leak['upstream_groups']['cifar10'] == 16
    assert f'computed with {num_train} leaked images' in summary['claim']['verdict']
    with open(osp.join(work_dir, 'summary.md')) as f:
        assert f'**{num_train} downstream images have an upstream near duplicate**' in f.read()


def test_synonyms_and_parents_reach_the_head(tmp_path):
    """Two folder sources saying ``car`` / ``automobile`` and ``dog`` / ``puppy``: one
    unified ``car``, ``puppy`` under ``dog``; the expert's head and datasets follow."""
    import numpy as np
    from PIL import Image
    from intern_mm.paradigm.sources_stages import SourcePlan
    decls = {}
    for source, classes in (('a', ('car', 'dog')), ('b', ('automobile', 'puppy'))):
        for cls in classes:
            (tmp_path / source / 'train' / cls).mkdir(parents=True)
            Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(
                tmp_path / source / 'train' / cls / '0.png')
        decls[source] = dict(task='cls', format='folder', root=str(tmp_path / source),
                             train='train', classes=classes)
    plan = SourcePlan(decls, str(tmp_path / 'out'), {'up-e-cls': 'cls'})
    assert plan.spaces['cls'].unified == ['car', 'dog', 'puppy']
    cfg = plan.apply(Config.fromfile(str(
        REPO / 'configs/paradigm/metanet-tiny_up-e-cls_gv-world_300it.py')), 'cls')
    assert cfg.model.head.sources == dict(a=[0, 1], b=[0, 2])
    assert cfg.model.head.num_classes == cfg.model.data_preprocessor.num_classes == 3
    assert cfg.model.head.parents == [None, None, 1]
    datasets = cfg.train_dataloader.dataset.datasets
    assert [d.classes for d in datasets] == [['car', 'dog'], ['car', 'puppy']]
    assert cfg.train_dataloader.sampler.source_ratio == [1, 1]
    assert cfg.val_evaluator.sources == ['a', 'b']
