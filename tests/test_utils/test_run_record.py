"""The run record: atomic JSON writes, done-markers and stamps (one way for every run)."""
import json
import os
import time

import numpy as np
import pytest
import torch

from intern_mm.utils.run_record import (RunRecord, dump_json, is_up_to_date, load_json,
                                        normalize_json, to_jsonable)


def test_to_jsonable_converts_tensors_numpy_and_unknowns():
    data = {1: (torch.tensor(0.5), torch.zeros(2)), 'n': np.float64(2.0),
            'a': np.arange(2), 'cls': torch.Tensor, 'o': object, 's': 'x', 'none': None}
    out = to_jsonable(data)
    assert out['1'] == [0.5, [0.0, 0.0]] and out['n'] == 2.0 and out['a'] == [0, 1]
    assert out['cls'] == repr(torch.Tensor) and out['o'] == repr(object)
    assert out['s'] == 'x' and out['none'] is None
    json.dumps(out)


def test_dump_json_round_trip_and_repr_of_unknowns(tmp_path):
    path = str(tmp_path / 'r.json')
    data = dict(a=1, b=[1.5, 'x'], c=dict(d=None))
    assert dump_json(path, data) == path
    assert load_json(path) == data
    assert load_json(str(tmp_path / 'absent.json')) is None
    # the format of the files written so far: indent 1, unknown values as repr
    dump_json(path, dict(t=(1, 2), o=object))
    assert open(path).read() == json.dumps(dict(t=[1, 2], o=repr(object)), indent=1)
    assert os.listdir(tmp_path) == ['r.json']


def test_atomic_write_leaves_no_partial_file_on_error(tmp_path):
    path = tmp_path / 'done.json'
    dump_json(str(path), dict(old=True))

    class Boom:
        def __repr__(self):
            raise RuntimeError('cannot serialise')

    with pytest.raises(RuntimeError, match='cannot serialise'):
        dump_json(str(path), dict(new=[1, 2, Boom()]))
    assert load_json(str(path)) == dict(old=True)  # the old content, complete
    assert os.listdir(tmp_path) == ['done.json']  # no temporary file left
    with pytest.raises(RuntimeError):
        dump_json(str(tmp_path / 'new.json'), dict(x=Boom()))
    assert os.listdir(tmp_path) == ['done.json']  # a failed first write leaves nothing


def test_done_marker_round_trip_and_side_records(tmp_path):
    record = RunRecord(str(tmp_path / 'run'), done_name='done.json', indent=2)
    assert record.done() is None and not record.is_done()
    assert record.mark_done(dict(checkpoint='c.pth')) == dict(checkpoint='c.pth')
    assert record.is_done() and record.done() == dict(checkpoint='c.pth')
    assert open(record.path()).read() == json.dumps(dict(checkpoint='c.pth'), indent=2)
    record.write('failed.json', dict(error='E'))
    assert record.read('failed.json') == dict(error='E')
    record.remove('failed.json', 'absent.json')
    assert record.read('failed.json') is None and record.is_done()


def test_stamp_matches_and_mismatch_clears_the_folder(tmp_path):
    record = RunRecord(str(tmp_path / 'run'), stamp_name='backbone.json')
    stamp = dict(checkpoint='a.pth', ckpt_mtime=1.0, recipe=dict(lr=(0.1, 0.01)))
    assert record.stamp_matches(stamp)  # nothing stored: nothing contradicts it
    record.write_stamp(stamp)
    record.mark_done(dict(score=1.0))
    assert record.read('backbone.json') == normalize_json(stamp)
    assert record.stamp_matches(dict(stamp))  # tuples compare as the stored lists
    changed = dict(stamp, ckpt_mtime=2.0)
    assert not record.stamp_matches(changed)
    record.clear()
    assert not os.path.exists(record.run_dir) and record.stamp_matches(changed)


def test_stamp_upgrade_rewrites_an_older_form(tmp_path):
    record = RunRecord(str(tmp_path / 'run'), stamp_name='backbone.json')
    record.write('backbone.json', dict(checkpoint='a.pth'))  # an older, smaller stamp
    record.mark_done(dict(recipe='r'))
    stamp = dict(checkpoint='a.pth', recipe='r')
    seen = []

    def upgrade(old, new, done):
        seen.append((old, new, done))
        return old == {k: new[k] for k in old} and done['recipe'] == new['recipe']

    assert not record.stamp_matches(dict(stamp, recipe='other'), upgrade=upgrade)
    assert record.read('backbone.json') == dict(checkpoint='a.pth')  # kept as it was
    assert record.stamp_matches(stamp, upgrade=upgrade)
    assert seen[-1] == (dict(checkpoint='a.pth'), stamp, dict(recipe='r'))
    assert record.read('backbone.json') == stamp  # rewritten in the current form
    with pytest.raises(ValueError, match='no stamp'):
        RunRecord(str(tmp_path)).stamp_matches(stamp)


def test_is_up_to_date_compares_with_the_source_mtime(tmp_path):
    source, out = tmp_path / 'ckpt.pth', tmp_path / 'export.pth'
    source.write_text('c')
    assert not is_up_to_date([str(out)], str(source))
    out.write_text('e')
    now = time.time()
    os.utime(source, (now, now))
    os.utime(out, (now + 5, now + 5))
    assert is_up_to_date([str(out)], str(source))
    os.utime(source, (now + 10, now + 10))  # the checkpoint changed since
    assert not is_up_to_date([str(out)], str(source))
