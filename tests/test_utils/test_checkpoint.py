"""intern_mm.utils.checkpoint: reading, unwrapping, key mapping, comparison with a model's
keys and work-dir resolution."""
import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from torch import nn

from intern_mm.models.backbones.task_norm import convert_to_task_bn
from intern_mm.utils.checkpoint import (StateDictDiff, backbone_state_dict,
                                        compare_state_dicts, last_checkpoint,
                                        load_state_dict_diff, map_state_dict,
                                        read_checkpoint, read_state_dict, resolve_checkpoint,
                                        select_prefix, strip_backbone_prefix,
                                        unwrap_state_dict)


def test_read_checkpoint_trusts_mmengine_objects(tmp_path):
    """mmengine checkpoints hold HistoryBuffer / numpy objects that torch's default
    weights_only=True loader rejects; intern_mm's own reader accepts them."""
    buffer = HistoryBuffer()
    buffer.update(1.5)
    path = tmp_path / 'ckpt.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(2)), message_hub=dict(loss=buffer),
                    meta=dict(seed=np.int64(3))), path)
    loaded = read_checkpoint(str(path))
    assert loaded['message_hub']['loss'].current() == 1.5
    assert int(loaded['meta']['seed']) == 3
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        read_checkpoint(str(tmp_path / 'nope.pth'))


def test_unwrap_state_dict_wrappers_and_module_prefix():
    w = torch.ones(1)
    assert unwrap_state_dict({'meta': {}, 'state_dict': {'module.a': w}}) == {'a': w}
    assert unwrap_state_dict({'model': {'module': {'b': w}}}) == {'b': w}
    assert unwrap_state_dict({'net': {'module.c': w, 'd': w}}) == {'c': w, 'd': w}
    # a custom wrapper key is tried first
    assert unwrap_state_dict({'ema': {'e': w}, 'state_dict': {'f': w}},
                             ('ema', 'state_dict')) == {'e': w}
    with pytest.raises(TypeError, match='list'):
        unwrap_state_dict([w])


def test_prefix_selection():
    sd = {'backbone.a': 1, 'backbone.b': 2, 'head.c': 3}
    assert select_prefix(sd, 'backbone.') == {'a': 1, 'b': 2}
    assert select_prefix(sd, 'head.', 'tasks.cls.head.') == {'tasks.cls.head.c': 3}
    assert backbone_state_dict(sd) == {'a': 1, 'b': 2}
    assert backbone_state_dict({'a': 1}) == {'a': 1}
    loaded = {'p.backbone.x': 1, 'p.y': 2, 'p.backbone.y': 3}
    strip_backbone_prefix(loaded, 'p.')
    assert loaded == {'p.x': 1, 'p.y': 2, 'p.backbone.y': 3}  # never shadows p.y


def test_map_state_dict_prefix_and_regex():
    sd = {'backbone.a.weight': 1, 'backbone.b.bn.weight': 2, 'head.fc.weight': 3,
          'neck.x': 4}
    mapped, dropped = map_state_dict(sd, prefix_mapping={'backbone.': 'backbone.main.',
                                                         'backbone.b.': 'trunk.'})
    # the longest prefix wins; keys outside the mapping are dropped
    assert mapped == {'backbone.main.a.weight': 1, 'trunk.bn.weight': 2}
    assert sorted(dropped) == ['head.fc.weight', 'neck.x']
    mapped, dropped = map_state_dict(sd, key_mapping=[(r'^head\.fc\.', 'head.linear.'),
                                                      (r'^neck\..*', '')])
    assert mapped == {'backbone.a.weight': 1, 'backbone.b.bn.weight': 2,
                      'head.linear.weight': 3}
    assert dropped == ['neck.x']
    with pytest.raises(ValueError, match='sends both'):
        map_state_dict({'a.x': 1, 'b.x': 2}, key_mapping=[(r'^[ab]\.', 'c.')])


def test_resolve_checkpoint_and_errors(tmp_path):
    ckpt = str(tmp_path / 'iter_3.pth')
    torch.save(dict(state_dict={'module.w': torch.full((2, ), 7.)}, meta={}), ckpt)
    (tmp_path / 'last_checkpoint').write_text(ckpt)
    assert resolve_checkpoint(str(tmp_path)) == ckpt
    assert last_checkpoint(str(tmp_path)) == ckpt
    assert read_state_dict(str(tmp_path))['w'].tolist() == [7., 7.]
    with pytest.raises(FileNotFoundError, match='does not exist'):
        resolve_checkpoint(str(tmp_path / 'nope.pth'))
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert last_checkpoint(str(empty)) is None
    with pytest.raises(FileNotFoundError, match='last_checkpoint'):
        resolve_checkpoint(str(empty))


def test_moved_work_dir_falls_back_to_its_own_file(tmp_path):
    """A work dir copied elsewhere names a stale absolute path in last_checkpoint."""
    ckpt = tmp_path / 'iter_9.pth'
    torch.save({'w': torch.zeros(1)}, ckpt)
    (tmp_path / 'last_checkpoint').write_text('/old/place/iter_9.pth')
    assert last_checkpoint(str(tmp_path)) == str(ckpt)
    (tmp_path / 'last_checkpoint').write_text('/old/place/iter_10.pth')
    assert last_checkpoint(str(tmp_path)) is None
    with pytest.raises(FileNotFoundError, match='iter_10.pth'):
        resolve_checkpoint(str(tmp_path))


def test_compare_state_dicts_kinds_orders_and_summary():
    expected = {'a': torch.zeros(2), 'b': torch.zeros(3), 'c': torch.zeros(1, 4),
                'd': torch.zeros(5)}
    actual = {'x': torch.zeros(1), 'd': torch.zeros(6), 'a': torch.zeros(2),
              'c': torch.zeros(4, 1), 'y': torch.zeros(1)}
    diff = compare_state_dicts(expected, actual)
    assert diff.missing == ['b']  # expected's order
    assert diff.unexpected == ['x', 'y']  # actual's order
    assert diff.mismatched == {'c': ((4, 1), (1, 4)), 'd': ((6, ), (5, ))}
    assert list(diff.mismatched) == ['c', 'd']  # expected's order
    assert len(diff) == 5 and diff
    assert diff.mismatch_lines() == ['c: checkpoint (4, 1) vs model (1, 4)',
                                     'd: checkpoint (6,) vs model (5,)']
    assert diff.summary() == ('1 keys missing from it (first: b); 2 unexpected keys '
                              '(first: x); 2 keys of another shape (first: c)')
    same = compare_state_dicts(expected, dict(expected))
    assert not same and len(same) == 0 and same == StateDictDiff()
    assert same.summary() == 'keys and shapes match'
    # only the kinds that occur are named; non-tensor entries compare by key only
    only = compare_state_dicts({'a': torch.zeros(1), 'n': 3}, {'n': 'x'})
    assert only.summary() == '1 keys missing from it (first: a)'
    # meta-device models compare by shape without memory
    with torch.device('meta'):
        meta = nn.Linear(4, 2).state_dict()
    assert not compare_state_dicts(meta, nn.Linear(4, 2).state_dict())
    assert compare_state_dicts(meta, nn.Linear(3, 2).state_dict()).mismatched == {
        'weight': ((2, 3), (2, 4))}


def test_load_state_dict_diff_uses_the_modules_loading_hooks():
    src = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    with torch.no_grad():
        src[1].weight.fill_(3.0)
    dst = convert_to_task_bn(nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)),
                             ('cls', 'det'))
    state = src.state_dict()
    # by name the plain BN keys are unexpected and the task BN keys missing ...
    names = compare_state_dicts(dst.state_dict(), state)
    assert '1.weight' in names.unexpected and '1.bns.cls.weight' in names.missing
    # ... loading through TaskBatchNorm2d's hook fills every task's BN
    assert not load_state_dict_diff(dst, state)
    assert torch.all(dst[1].bns['det'].weight == 3.0)
    # a shape mismatch is reported and that entry left out; the rest loads
    bad = dict(state)
    bad['0.weight'] = torch.zeros(4, 2, 1, 1)
    bad['extra'] = torch.zeros(1)
    del bad['0.bias']
    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    before = net[0].weight.clone()
    diff = load_state_dict_diff(net, bad)
    assert diff.missing == ['0.bias'] and diff.unexpected == ['extra']
    assert diff.mismatched == {'0.weight': ((4, 2, 1, 1), (4, 3, 1, 1))}
    assert torch.equal(net[0].weight, before) and torch.all(net[1].weight == 3.0)
