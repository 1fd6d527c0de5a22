"""Unit tests of the paradigm helpers: path rebasing, subsets, config checks, summary."""
import json

import pytest
from mmengine.config import Config

from intern_mm.paradigm import (ParadigmPipeline, make_subset, rebase_paths,
                                render_markdown)


def test_rebase_paths():
    cfg = dict(data_root='data/gv_world/', a=['data/gv_world/x.json', 'data/gv_worldx',
                                              dict(ann='data/gv_world/cls/t.txt')], n=3)
    out = rebase_paths(cfg, 'data/gv_world/', '/tmp/w')
    assert out == dict(data_root='/tmp/w/', a=['/tmp/w/x.json', 'data/gv_worldx',
                                               dict(ann='/tmp/w/cls/t.txt')], n=3)


def test_make_subset_is_stratified_and_deterministic(tmp_path):
    ann = tmp_path / 'train.txt'
    ann.write_text(''.join(f'images/train/{i:06d}.png {i % 4}\n' for i in range(200)))
    n = make_subset(str(ann), str(tmp_path / 'a.txt'), 0.1, seed=0)
    make_subset(str(ann), str(tmp_path / 'b.txt'), 0.1, seed=0)
    lines = (tmp_path / 'a.txt').read_text().splitlines()
    assert n == len(lines) == 20
    assert (tmp_path / 'b.txt').read_text() == (tmp_path / 'a.txt').read_text()
    labels = [ln.split()[1] for ln in lines]
    assert all(labels.count(str(c)) == 5 for c in range(4))
    assert make_subset(str(ann), str(tmp_path / 'c.txt'), 0.1, seed=1) == 20
    assert (tmp_path / 'c.txt').read_text() != (tmp_path / 'a.txt').read_text()
    with pytest.raises(ValueError, match='fraction'):
        make_subset(str(ann), str(tmp_path / 'd.txt'), 0.0)
    with pytest.raises(FileNotFoundError):
        make_subset(str(tmp_path / 'nope.txt'), str(tmp_path / 'd.txt'), 0.1)


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


def test_render_markdown_lists_stages_and_comparison():
    summary = dict(
        world=dict(root='/w', num=10, seed=0, img_size=64, splits=dict(train=7)),
        stages={'up-a': dict(iters=2, wall_time_s=1.0, main_metric='m', main_value=12.5,
                             metrics={'m': 12.5, 'other': 3.0})},
        downstream=dict(fraction=0.1, num_train_subset=14, num_train_full=140),
        comparison=[dict(backbone='Up-G (generalist)', protocol='linear probe (frozen)',
                         train_data='10%', top1=55.0, val_top1=50.0)],
        timings=dict(total_this_run_s=3.0))
    md = render_markdown(summary)
    assert '| up-a | 2 | 1.0 | m | 12.50 | other=3.00 |' in md
    assert '| Up-G (generalist) | linear probe (frozen) | 10% | 55.00 | 50.00 |' in md
    json.dumps(summary)


@pytest.mark.parametrize('name', ['intern-paradigm_metanet-tiny_gv-world.py',
                                  'intern-paradigm_metanet-tiny_gv-world-mini.py'])
def test_shipped_pipeline_configs_are_valid(name, tmp_path):
    import os.path as osp
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    pipe = ParadigmPipeline(osp.join(repo, 'configs/paradigm', name),
                            work_dir=str(tmp_path))
    names = [s['name'] for s in pipe.stages]
    assert names == ['up-a', 'up-e-cls', 'up-e-det', 'up-e-seg', 'up-g']
    assert set(pipe.cfg.downstream.probe_stages) <= set(names)
    # every stage config loads and keeps its image backbone at `model.backbone`
    for stage in pipe.stages:
        assert 'backbone' in Config.fromfile(stage['config']).model


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
