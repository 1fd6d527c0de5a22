"""ImageTextDataset reads the generated GV world's captions; the Up-A pipeline runs on it."""
import json

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from intern_mm.datasets import ImageTextDataset
from intern_mm.datasets.gv_world import generate_gv_world
from intern_mm.models.upstream import ImageTextDataPreprocessor
from intern_mm.registry import DATASETS


@pytest.fixture(autouse=True)
def _single_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp('gv_world')
    generate_gv_world(str(out), num=20, seed=0)
    return out


def _pipeline(world, train=True):
    tokenizer = dict(type='CaptionTokenizer', ann_file=str(world / 'captions/train.json'),
                     context_length=40)
    if not train:
        return [
            dict(type='mmpretrain.LoadImageFromFile'),
            dict(type='intern_mm.RandomCaption', mode='first'),
            dict(type='intern_mm.TokenizeText', tokenizer=tokenizer),
            dict(type='intern_mm.PackImageTextInputs'),
        ]
    return [
        dict(type='mmpretrain.LoadImageFromFile'),
        dict(type='mmpretrain.MultiView', num_views=2, transforms=[[
            dict(type='mmpretrain.RandomResizedCrop', scale=64, crop_ratio_range=(0.7, 1.))
        ]]),
        dict(type='intern_mm.RandomCaption'),
        dict(type='intern_mm.EDATextViews', num_views=2),
        dict(type='intern_mm.TokenizeText', tokenizer=tokenizer),
        dict(type='intern_mm.PackImageTextInputs'),
    ]


def test_reads_generated_captions(world):
    ds = DATASETS.build(dict(type='ImageTextDataset', data_root=str(world),
                             ann_file='captions/train.json'))
    with open(world / 'captions/train.json') as f:
        ann = json.load(f)['data_list']
    assert len(ds) == len(ann) > 0
    info = ds.get_data_info(0)
    assert info['img_path'] == str(world / ann[0]['img_path'])
    assert info['captions'] == ann[0]['captions'] and len(info['captions']) >= 2
    assert (world / ann[0]['img_path']).is_file()
    val = ImageTextDataset(data_root=str(world), ann_file='captions/val.json', max_captions=1)
    assert len(val) > 0 and all(len(val.get_data_info(i)['captions']) == 1
                                for i in range(len(val)))


def test_train_pipeline_gives_two_image_and_two_text_views(world):
    ds = ImageTextDataset(data_root=str(world), ann_file='captions/train.json',
                          pipeline=_pipeline(world))
    sample = ds[0]
    imgs, texts = sample['inputs']['imgs'], sample['inputs']['texts']
    assert len(imgs) == 2 and imgs[0].shape == (3, 64, 64) and imgs[0].dtype == torch.uint8
    assert len(texts) == 2 and texts[0].dtype == torch.long and texts[0][0] == 2
    assert sample['data_samples'].text in ds.get_data_info(0)['captions']
    batch = pseudo_collate([ds[i] for i in range(4)])
    out = ImageTextDataPreprocessor(mean=[0.] * 3, std=[1.] * 3)(batch)
    assert out['inputs']['imgs'][1].shape == (4, 3, 64, 64)
    assert out['inputs']['texts'][0].shape[0] == 4


def test_val_pipeline_is_deterministic(world):
    ds = ImageTextDataset(data_root=str(world), ann_file='captions/val.json',
                          test_mode=True, pipeline=_pipeline(world, train=False))
    a, b = ds[0], ds[0]
    assert len(a['inputs']['imgs']) == 1 and len(a['inputs']['texts']) == 1
    assert torch.equal(a['inputs']['imgs'][0], b['inputs']['imgs'][0])
    assert a['data_samples'].text == ds.get_data_info(0)['captions'][0]
    assert np.array_equal(a['inputs']['texts'][0].numpy(), b['inputs']['texts'][0].numpy())


def test_bad_annotations(tmp_path):
    with pytest.raises(FileNotFoundError, match='make_gv_world'):
        ImageTextDataset(data_root=str(tmp_path), ann_file='captions/train.json')
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(dict(metainfo={}, data_list=[dict(img_path='x.png',
                                                                captions=[])])))
    with pytest.raises(ValueError, match='captions'):
        ImageTextDataset(ann_file=str(bad))
    bad.write_text(json.dumps(dict(metainfo={}, data_list=[dict(captions=['a'])])))
    with pytest.raises(KeyError, match='img_path'):
        ImageTextDataset(ann_file=str(bad))
