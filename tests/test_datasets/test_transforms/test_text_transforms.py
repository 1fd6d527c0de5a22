"""Caption selection, EDA text views, tokenisation and packing."""
import numpy as np
import pytest
import torch

from intern_mm.datasets.transforms import (EDATextViews, PackImageTextInputs, RandomCaption,
                                           TokenizeText)
from intern_mm.registry import TRANSFORMS

CAPTION = 'a red striped circle and a blue star at the left'


def test_random_caption_modes():
    caps = ['a', 'b', 'c']
    assert RandomCaption(mode='first')(dict(captions=caps))['text'] == 'a'
    t = RandomCaption(seed=0)
    seen = {t(dict(captions=caps))['text'] for _ in range(30)}
    assert seen == set(caps)
    # seeded: reproducible sequence
    t1, t2 = RandomCaption(seed=3), RandomCaption(seed=3)
    assert [t1(dict(captions=caps))['text'] for _ in range(10)] == \
        [t2(dict(captions=caps))['text'] for _ in range(10)]
    with pytest.raises(KeyError, match='captions'):
        RandomCaption()(dict())
    with pytest.raises(ValueError, match='mode'):
        RandomCaption(mode='last')


def test_eda_views_delete_and_swap_only():
    t = TRANSFORMS.build(dict(type='EDATextViews', num_views=3, p_delete=0.3, p_swap=1.,
                              seed=0))
    words = CAPTION.split()
    changed = 0
    for _ in range(20):
        views = t(dict(text=CAPTION))['texts']
        assert len(views) == 3 and views[0] == CAPTION
        for v in views[1:]:
            vw = v.split()
            assert 1 <= len(vw) <= len(words)
            # only deletions and swaps: every word comes from the caption, no word is
            # used more often than in the caption
            for w in set(vw):
                assert vw.count(w) <= words.count(w)
            changed += v != CAPTION
    assert changed > 30


def test_eda_is_reproducible_with_seed_and_identity_without_augmentation():
    a = EDATextViews(seed=5)
    b = EDATextViews(seed=5)
    assert [a(dict(text=CAPTION))['texts'] for _ in range(5)] == \
        [b(dict(text=CAPTION))['texts'] for _ in range(5)]
    none = EDATextViews(num_views=2, p_delete=0., p_swap=0., keep_original=False)
    assert none(dict(text=CAPTION))['texts'] == [CAPTION, CAPTION]
    assert EDATextViews(p_delete=1., seed=0).augment('one two three') in ('one', 'two',
                                                                          'three')
    with pytest.raises(KeyError, match='RandomCaption'):
        EDATextViews()(dict())
    with pytest.raises(ValueError, match='p_delete'):
        EDATextViews(p_delete=1.5)


def test_tokenize_text():
    t = TokenizeText(dict(type='CaptionTokenizer', words=['a', 'red', 'circle']))
    out = t(dict(texts=['a red circle', 'circle']))
    assert [x.tolist() for x in out['text_ids']] == [[2, 5, 6, 7, 3], [2, 7, 3]]
    assert t(dict(text='a red'))['text_ids'][0].tolist() == [2, 5, 6, 3]
    with pytest.raises(KeyError, match='texts'):
        t(dict())


def test_pack_image_text_inputs():
    img = np.random.randint(0, 255, (8, 6, 3), np.uint8)
    out = PackImageTextInputs()(dict(img=[img, img[::-1]], text_ids=[torch.tensor([2, 3])],
                                     text='a cat', img_path='x.png', other=1))
    imgs = out['inputs']['imgs']
    assert len(imgs) == 2 and imgs[0].shape == (3, 8, 6)
    assert torch.equal(imgs[0], torch.from_numpy(img).permute(2, 0, 1))
    assert out['inputs']['texts'][0].tolist() == [2, 3]
    assert out['data_samples'].text == 'a cat' and out['data_samples'].img_path == 'x.png'
    assert 'other' not in out['data_samples'].metainfo
    single = PackImageTextInputs()(dict(img=img))
    assert len(single['inputs']['imgs']) == 1 and 'texts' not in single['inputs']
    with pytest.raises(KeyError, match='img'):
        PackImageTextInputs()(dict())
