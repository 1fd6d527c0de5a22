"""The paradigm claim figure (``summary.png``) from a hand-made ``adaptation`` dict."""
import pytest
from PIL import Image

from intern_mm.paradigm.summary import render_markdown, write_summary
from intern_mm.visualization.claim_figure import claim_verdict, plot_claim


def _e(score, metric, lower, fraction=0.1):
    return dict(score=score, metric=metric, lower_is_better=lower, fraction=fraction)


def _family(metric, lower, adapted, s10, s100):
    data = {bb: {p: _e(v, metric, lower) for p, v in protos.items()}
            for bb, protos in adapted.items()}
    data['scratch'] = {'10pct': _e(s10, metric, lower), '100pct': _e(s100, metric, lower,
                                                                     1.0)}
    return data


@pytest.fixture
def adaptation():
    """cls: Up-G beats scratch 100%; depth (RMSE, lower is better): Up-G fine-tune 0.60
    beats scratch 0.65 while its probe (0.80, the larger number) does not; no det/seg."""
    return dict(
        cls=_family('top1', False, {
            'up-a': dict(probe=73.7, finetune=78.0, ota=75.1),
            'best-up-e': dict(probe=70.2, finetune=76.5, ota=74.0),
            'up-g': dict(probe=67.3, finetune=80.1, ota=77.0),
            'distilled': dict(probe=60.1, finetune=72.0, ota=70.3)}, 41.0, 74.7),
        depth=_family('rmse', True, {
            'up-a': dict(probe=0.9, finetune=0.7),
            'up-g': dict(probe=0.8, finetune=0.6, ota=0.66)}, 1.2, 0.65))


def test_claim_figure_panels_bars_and_direction(adaptation, tmp_path):
    out = tmp_path / 'claim.png'
    drawn = plot_claim(adaptation, str(out))
    assert list(drawn) == ['cls', 'depth']  # missing families are left out
    cls, depth = drawn['cls'], drawn['depth']
    assert [(b['backbone'], b['protocol']) for b in cls['bars']][:3] == [
        ('up-a', 'probe'), ('up-a', 'finetune'), ('up-a', 'ota')]
    assert len(cls['bars']) == 12 and len(depth['bars']) == 5
    assert cls['scratch'] == {'10pct': 41.0, '100pct': 74.7}
    assert '↑ higher is better' in cls['ylabel'] and '↓ lower is better' in depth['ylabel']
    beats = {(b['backbone'], b['protocol']): b['beats_scratch_100'] for b in depth['bars']}
    # lower is better: 0.60 and 0.66 vs 0.65 -> only the fine-tune beats scratch 100%
    assert beats[('up-g', 'finetune')] is True and beats[('up-g', 'ota')] is False
    assert beats[('up-g', 'probe')] is False
    assert all(b['beats_scratch_10'] for b in depth['bars'])  # all below 1.2
    assert depth['verdict'] == 'up-g (10%, finetune) 0.60 vs scratch 100% 0.65: beats'
    assert cls['verdict'] == 'up-g (10%, finetune) 80.10 vs scratch 100% 74.70: beats'
    with Image.open(out) as img:
        assert img.size[0] > 800 and img.size[1] > 400


def test_claim_figure_of_counterparts_only(tmp_path):
    """A run of the counterparts alone (no adapted role) is drawn without a legend."""
    drawn = plot_claim({'seg': _family('mIoU', False, {}, 30.0, 70.0)},
                       str(tmp_path / 'c.png'))
    assert drawn['seg']['bars'] == [] and drawn['seg']['scratch']['100pct'] == 70.0
    assert (tmp_path / 'c.png').is_file()


def test_claim_verdict_does_not_beat():
    data = _family('mAP', False, {'up-g': dict(probe=25.3, finetune=35.1)}, 10.2, 38.0)
    assert claim_verdict(data).endswith('35.10 vs scratch 100% 38.00: does not beat')
    assert claim_verdict({'up-g': data['up-g']}) is None


def test_claim_figure_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"adaptation: no row with results \(got \['count'\]"):
        plot_claim({'count': {}}, str(tmp_path / 'x.png'))
    with pytest.raises(ValueError, match=r"adaptation\['cls'\]\['up-g'\]\['probe'\] lacks "
                                         'lower_is_better'):
        plot_claim({'cls': {'up-g': {'probe': dict(score=1.0, metric='top1')}}},
                   str(tmp_path / 'x.png'))


def test_summary_links_claim_figure(adaptation, tmp_path):
    summary = dict(world=dict(root='w', num=10, seed=0, img_size=32, splits=None),
                   stages={}, downstream={}, timings={}, work_dir=str(tmp_path),
                   adaptation=adaptation)
    md = write_summary(summary, str(tmp_path))
    assert '](summary.png)' in md
    assert (tmp_path / 'summary.png').is_file()
    summary.pop('adaptation')
    (tmp_path / 'summary.png').unlink()
    assert 'summary.png' not in write_summary(summary, str(tmp_path))
    assert not (tmp_path / 'summary.png').exists()


def test_claim_figure_draws_task_rows_after_the_families(adaptation, tmp_path):
    """A ``downstream.tasks`` row (entries naming their task and family) gets a panel
    after the families, titled with its task."""
    row = _family('mAP', False, {'up-g': dict(probe=20.0, finetune=31.0)}, 10.0, 30.0)
    for protos in row.values():
        for entry in protos.values():
            entry.update(task='raccoon_det', family='det')
    drawn = plot_claim(dict(adaptation, rac=row), str(tmp_path / 'claim.png'))
    assert list(drawn) == ['cls', 'depth', 'rac']
    assert drawn['rac']['title'] == 'rac: raccoon_det (detection)'
    assert drawn['cls']['title'] == 'classification'
    assert drawn['rac']['verdict'] == 'up-g (10%, finetune) 31.00 vs scratch 100% 30.00: beats'
    assert plot_claim(dict(rac=row), str(tmp_path / 'only.png'))['rac']['bars'][1][
        'score'] == 31.0
