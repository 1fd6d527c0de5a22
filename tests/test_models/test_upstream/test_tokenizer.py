"""CaptionTokenizer: cleaning, deterministic vocabulary, round trip, save/load."""
import json

import pytest
import torch

from intern_mm.models.upstream import CaptionTokenizer, clean_text
from intern_mm.registry import TASK_UTILS

CAPTIONS = [
    'a red striped circle and a blue star',
    'A large circle in red with a small blue star',
    'blue star at the left, red circle in the middle',
]


@pytest.fixture
def ann_file(tmp_path):
    path = tmp_path / 'train.json'
    path.write_text(json.dumps(dict(metainfo={}, data_list=[
        dict(img_path='images/train/000000.png', captions=CAPTIONS[:2]),
        dict(img_path='images/train/000001.png', captions=CAPTIONS[2:]),
    ])))
    return str(path)


def test_clean_text():
    assert clean_text('  A&amp;B   Red\nCircle ') == 'a&b red circle'
    assert clean_text('caf\u00c3\u00a9') == 'café'  # ftfy fixes mojibake


def test_vocab_from_captions_is_deterministic(ann_file):
    tok = CaptionTokenizer(ann_file=ann_file)
    again = TASK_UTILS.build(dict(type='CaptionTokenizer', ann_file=ann_file))
    assert tok.words == again.words
    assert tok.words[0] == 'a'  # the most frequent word
    # descending frequency, ties alphabetical
    assert CaptionTokenizer.build_vocab(['b a', 'a c', 'C a!']) == ['a', 'c', '!', 'b']
    assert CaptionTokenizer.build_vocab(['b a', 'a c'], min_freq=2) == ['a']
    assert CaptionTokenizer.build_vocab(['y x z'], max_words=2) == ['x', 'y']
    assert tok.itos[:5] == ['<pad>', '<unk>', '<sot>', '<eot>', '<mask>']
    assert len(tok) == 5 + len(set(w for c in CAPTIONS for w in tok.tokenize_words(c)))


def test_round_trip(ann_file):
    tok = CaptionTokenizer(ann_file=ann_file, context_length=32)
    for caption in CAPTIONS:
        ids = tok.encode(caption)
        assert ids[0] == tok.sot_token_id and ids[-1] == tok.eot_token_id
        assert tok.unk_token_id not in ids
        assert tok.decode(ids) == ' '.join(tok.tokenize_words(caption))
    assert tok.decode(tok.encode('blue star at the left')) == 'blue star at the left'
    assert tok.decode(tok.encode('a purple star')) == 'a <unk> star'


def test_batch_padding_and_truncation():
    tok = CaptionTokenizer(words=['a', 'b', 'c'], context_length=5)
    ids = tok(['a b c a b c', 'a'])
    assert ids.shape == (2, 5) and ids.dtype == torch.long
    assert ids[0].tolist() == [2, 5, 6, 7, 3]  # truncated, <eot> kept
    assert ids[1].tolist() == [2, 5, 3, 0, 0]


def test_save_and_load(tmp_path, ann_file):
    tok = CaptionTokenizer(ann_file=ann_file, context_length=16)
    tok.save(str(tmp_path / 'vocab.json'))
    loaded = CaptionTokenizer(vocab_file=str(tmp_path / 'vocab.json'))
    assert loaded.words == tok.words and loaded.context_length == 16
    assert loaded.encode(CAPTIONS[0]) == tok.encode(CAPTIONS[0])


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='exactly one'):
        CaptionTokenizer()
    with pytest.raises(ValueError, match='exactly one'):
        CaptionTokenizer(words=['a'], ann_file='x.json')
    with pytest.raises(FileNotFoundError, match='does not exist'):
        CaptionTokenizer(ann_file=str(tmp_path / 'missing.json'))
    with pytest.raises(FileNotFoundError, match='does not exist'):
        CaptionTokenizer(vocab_file=str(tmp_path / 'missing.json'))
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps({'images': []}))
    with pytest.raises(ValueError, match='data_list'):
        CaptionTokenizer(ann_file=str(bad))
    with pytest.raises(ValueError, match='unique'):
        CaptionTokenizer(words=['a', 'a'])
