"""LoadImageFromFileOrSkip: a file that does not decode is skipped, named and counted; the
run's record and DecodeFailureHook. (A whole training run with a truncated JPEG:
tests/test_tools/test_stock_mmdet_multi_source.py.)"""
import json
import types

import numpy as np
import pytest
from mmengine.dataset import BaseDataset
from mmengine.logging import MessageHub, MMLogger
from PIL import Image

from intern_mm.datasets.transforms import (DECODE_FAILURE_FILE, LoadImageFromFileOrSkip,
                                           decode_failure_summary, record_decode_failure,
                                           reset_decode_failures)
from intern_mm.engine.hooks import DecodeFailureHook


@pytest.fixture
def images(tmp_path):
    """``good.jpg`` (16 px), ``truncated.jpg`` (header only), ``empty.jpg`` (0 bytes)."""
    reset_decode_failures()
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(tmp_path / 'good.jpg')
    (tmp_path / 'truncated.jpg').write_bytes((tmp_path / 'good.jpg').read_bytes()[:120])
    (tmp_path / 'empty.jpg').write_bytes(b'')
    yield tmp_path
    reset_decode_failures()


@pytest.fixture
def run_logger(tmp_path):
    """A current MMLogger with a log file in ``tmp_path/run`` (as a Runner creates)."""
    (tmp_path / 'run').mkdir()
    logger = MMLogger.get_instance(f'decode_{tmp_path.name}',
                                   log_file=str(tmp_path / 'run' / 'run.log'))
    yield logger
    for handler in logger.handlers[:]:
        handler.close()
        logger.removeHandler(handler)


class _Files(BaseDataset):
    """A dataset of image files (``data_list`` given), pipeline = the loader."""

    def __init__(self, files, test_mode=False):
        self._files = [str(f) for f in files]
        super().__init__(pipeline=[LoadImageFromFileOrSkip()],
                         test_mode=test_mode, serialize_data=False)

    def load_data_list(self):
        return [dict(img_path=f) for f in self._files]


def test_bad_files_return_none_and_are_recorded_once(images, run_logger):
    loader = LoadImageFromFileOrSkip()
    good = loader(dict(img_path=str(images / 'good.jpg')))
    assert good['img'].shape == (16, 16, 3) and good['ori_shape'] == (16, 16)
    for _ in range(2):
        for name in ('truncated.jpg', 'empty.jpg', 'missing.jpg'):
            assert loader(dict(img_path=str(images / name))) is None
    named = [line.split(' - WARNING - ')[1]
             for line in (images / 'run' / 'run.log').read_text().splitlines()]
    assert [m.split(': cannot be read or decoded')[0] for m in named] == [
        str(images / n) for n in ('truncated.jpg', 'empty.jpg', 'missing.jpg')]  # once each
    assert 'AssertionError: failed to load image' in named[0]
    assert 'FileNotFoundError' in named[2]
    mine = decode_failure_summary()
    assert mine['count'] == 3 and mine['skips'] == 6
    run = decode_failure_summary(str(images / 'run'))  # the run's file: the same record
    assert run == mine
    lines = (images / 'run' / DECODE_FAILURE_FILE).read_text().splitlines()
    assert len(lines) == 6 and json.loads(lines[0])['file'] == str(images / 'truncated.jpg')
    assert decode_failure_summary(str(images)) == dict(count=0, skips=0, files={})


def test_skip_false_raises_the_loader_error(images):
    loader = LoadImageFromFileOrSkip(skip=False)
    with pytest.raises(AssertionError, match='failed to load image'):
        loader(dict(img_path=str(images / 'truncated.jpg')))
    assert decode_failure_summary()['count'] == 0
    assert repr(loader).startswith('LoadImageFromFileOrSkip(skip=False, ignore_empty=False')


def test_train_dataset_refetches_test_dataset_refuses(images):
    files = [images / 'truncated.jpg', images / 'good.jpg']
    data = _Files(files)[0]  # mmengine draws another sample: the only good one
    assert data['img_path'] == str(images / 'good.jpg')
    assert decode_failure_summary()['files'] == {
        str(images / 'truncated.jpg'): 'AssertionError: failed to load image: '
        f'{images / "truncated.jpg"}'}
    with pytest.raises(Exception, match='Test time pipline should not get `None`'):
        _Files(files, test_mode=True)[0]  # a val image is never dropped from a metric


def test_hook_logs_publishes_and_writes_the_summary(images, run_logger):
    record_decode_failure(str(images / 'truncated.jpg'), 'AssertionError: failed')
    record_decode_failure(str(images / 'truncated.jpg'), 'AssertionError: failed')
    messages = []
    runner = types.SimpleNamespace(
        log_dir=str(images / 'run'), message_hub=MessageHub.get_instance('decode_hook'),
        logger=types.SimpleNamespace(warning=messages.append, info=messages.append))
    hook = DecodeFailureHook()
    hook.after_train(runner)
    expected = dict(count=1, skips=2, files={str(images / 'truncated.jpg'):
                                            'AssertionError: failed'})
    assert hook.summary == expected
    assert runner.message_hub.get_info('decode_failures') == expected
    assert json.loads((images / 'run' / 'decode_failures.json').read_text()) == expected
    assert messages == [f'decode failures: 1 image file(s) could not be decoded and were '
                        f'skipped (2 sample(s) redrawn): {images / "truncated.jpg"}']
