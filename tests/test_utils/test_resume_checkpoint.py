"""Auto-resume finds a complete checkpoint whatever moment the previous run was killed."""
import torch

import intern_mm  # noqa: F401  (applies the compat patches)
from intern_mm.utils.checkpoint import find_resumable_checkpoint


def test_find_resumable_checkpoint(tmp_path):
    for it in (1, 2):
        torch.save({'meta': {'iter': it}}, tmp_path / f'iter_{it}.pth')
    (tmp_path / 'iter_3.pth').write_bytes(b'PK\x03\x04cut off')  # killed while writing
    marker = tmp_path / 'last_checkpoint'
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')
    marker.write_text(str(tmp_path / 'iter_1.pth'))  # a valid marker wins
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_1.pth')
    marker.write_text('')  # killed while the marker was rewritten
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')
    marker.write_text(str(tmp_path / 'iter_0.pth'))  # names a deleted checkpoint
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert find_resumable_checkpoint(str(empty)) is None


def test_mmengine_runner_uses_it():
    import mmengine.runner.runner as mm_runner
    assert mm_runner.find_latest_checkpoint is find_resumable_checkpoint
