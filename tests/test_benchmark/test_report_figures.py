"""GV-B report figures: heatmap rows / values / colour direction, run vs reference signs.

The runs are hand-written result files (no training): the figures are checked against
the data they were drawn from, and against the published numbers of
``intern_mm/benchmark/official.py`` (the built-in copy is used, so the test does not
depend on ``../shared``).
"""
import json
import math

import numpy as np
import pytest
from PIL import Image

from intern_mm.benchmark.official import OFFICIAL_CSV
from intern_mm.benchmark.report import (DEFAULT_FIGURE_COMPARE, build_table, collect_runs,
                                        write_report)
from intern_mm.benchmark.tasks import GVB_TASKS
from intern_mm.visualization.gvb_figures import (heatmap_columns, plot_gvb_heatmap,
                                                 plot_run_vs_reference)


@pytest.fixture
def official_csv(tmp_path):
    path = tmp_path / 'official.csv'
    path.write_text(OFFICIAL_CSV + '\n')
    return str(path)


def _result(task, family, metric, score, lower=False):
    return dict(task=task, family=family, column=task, in_gvb=True, metric=metric,
                lower_is_better=lower, score=score, metrics={}, status='done')


@pytest.fixture
def work_dir(tmp_path):
    """Run ``mine``: cifar10, KITTI RMSE, CityPersons MR^-2 done; pets failed; sun397
    missing."""
    wd = tmp_path / 'wd'
    files = {
        'cifar10/result.json': _result('cifar10', 'cls', 'top1', 50.0),
        'kitti_depth/result.json': _result('kitti_depth', 'depth', 'rmse', 2.0, True),
        'citypersons_det/result.json': _result(
            'citypersons_det', 'det', 'mr', dict(reasonable=30.0, heavy=40.0), True),
        'voc0712_det/result.json': _result('voc0712_det', 'det', 'mAP', 80.0),
        'pets/failed.json': dict(task='pets', status='failed', in_gvb=True,
                                 error='OSError: image file is truncated',
                                 traceback='/x/failed_traceback.txt',
                                 retry='python tools/gvb.py run --tasks pets'),
        'sun397/missing.json': dict(task='sun397', status='missing',
                                    prepare='python tools/dataset_converters/...'),
    }
    for rel, data in files.items():
        path = wd / 'mine' / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))
    return wd


def _col(key):
    return [c['key'] for c in heatmap_columns(GVB_TASKS.values())].index(key)


def test_heatmap_rows_values_and_direction(work_dir, official_csv, tmp_path):
    from intern_mm.benchmark.official import load_official_results
    table = build_table(collect_runs(str(work_dir)), load_official_results(official_csv),
                        ['Up-G/MN-B4', 'Up-A/R50'])
    drawn = plot_gvb_heatmap(table, GVB_TASKS.values(), str(tmp_path / 'h.png'))
    # rows: the run, then the chosen published rows in the published order
    assert drawn['rows'] == ['mine', 'Up-A/R50 (published)', 'Up-G/MN-B4 (published)']
    assert drawn['panels'] == ['datasets', 'family means']
    # 26 datasets, WIDER FACE and CityPersons expanded into 3 and 2 columns
    assert drawn['values'].shape == (3, 29)
    assert drawn['values'][0, _col('cifar10')] == 50.0
    assert drawn['values'][2, _col('kitti_depth')] == pytest.approx(2.94)
    assert drawn['values'][1, _col('citypersons_det:1')] == pytest.approx(59.0)
    assert drawn['texts'][0][_col('pets')] == 'failed'
    assert drawn['texts'][0][_col('sun397')] == 'missing'
    assert drawn['texts'][0][_col('cars')] == '—'
    # colour = place in the column; lower-is-better columns: the lowest value is best
    kitti = drawn['goodness'][:, _col('kitti_depth')]  # 2.0 (mine), 3.181, 2.94
    assert kitti[0] == 1.0 and kitti[1] == 0.0
    assert kitti[2] == pytest.approx((3.181 - 2.94) / (3.181 - 2.0))
    city = drawn['goodness'][:, _col('citypersons_det:0')]  # 30.0, 24.6, 12.0
    assert city[2] == 1.0 and city[0] == 0.0
    voc = drawn['goodness'][:, _col('voc0712_det')]  # 80.0, 76.3, 89.1: higher is best
    assert voc[2] == 1.0 and voc[1] == 0.0
    # family means beside the heatmap: same numbers as the table's
    assert drawn['means'][0, 0] == 50.0  # cls mean of the one cls column the run has
    assert drawn['means'][0, 3] == 2.0 and math.isnan(drawn['means'][0, 2])
    # depth mean RMSE, lowest best: Up-A/R50 (3.181+0.456)/2, Up-G/MN-B4 (2.94+0.40)/2;
    # the run's mean covers KITTI only (1/2): written, but not coloured
    depth_good = drawn['mean_goodness'][:, 3]
    assert math.isnan(depth_good[0]) and depth_good[1] == 0.0 and depth_good[2] == 1.0
    assert table['rows'][0]['means']['depth_mean'] == '2.000 (1/2)'
    assert table['rows'][2]['means']['cls_mean'] == f"{drawn['means'][2, 0]:.1f}"
    with Image.open(tmp_path / 'h.png') as img:
        assert img.size == drawn['size_px']
        # portrait: 29 + 4 rows of ~0.25 inch, 3 runs of ~1 inch, at 110 dpi
        assert img.size[1] > img.size[0] and img.size[1] >= 29 * 0.25 * 110


def test_run_vs_reference_signs(work_dir, official_csv, tmp_path):
    from intern_mm.benchmark.official import load_official_results
    table = build_table(collect_runs(str(work_dir)), load_official_results(official_csv),
                        ['Up-G/MN-B4'])
    run, ref = table['rows']
    panels = plot_run_vs_reference(run, ref, GVB_TASKS.values(), str(tmp_path / 'vs.png'))
    assert list(panels) == ['cls', 'det', 'depth']  # no seg result in the run
    got = {e['key']: e for fam in panels.values() for e in fam}
    assert set(got) == {'cifar10', 'voc0712_det', 'citypersons_det:0',
                        'citypersons_det:1', 'kitti_depth'}
    # higher is better: run - ref; lower is better: ref - run (> 0 = run better)
    assert got['cifar10']['improvement'] == pytest.approx(50.0 - 96.7)
    assert got['voc0712_det']['improvement'] == pytest.approx(80.0 - 89.1)
    assert got['kitti_depth']['improvement'] == pytest.approx(2.94 - 2.0)  # run better
    assert got['citypersons_det:0']['improvement'] == pytest.approx(12.0 - 30.0)
    assert got['citypersons_det:1']['improvement'] == pytest.approx(50.5 - 40.0)
    # sorted best first within a family
    det = [e['improvement'] for e in panels['det']]
    assert det == sorted(det, reverse=True) and len(det) == 3
    assert (tmp_path / 'vs.png').is_file()


def test_write_report_files_failed_and_defaults(work_dir, official_csv):
    paths = write_report(str(work_dir), official_path=official_csv)
    assert set(paths) == {'md', 'csv', 'json', 'png', 'vs:mine'}
    for path in paths.values():
        assert open(path, 'rb').read(4) in (b'\x89PNG', b'# GV', b'run,', b'{\n "')
    md = open(paths['md']).read()
    row = next(line for line in md.splitlines() if line.startswith('| mine |'))
    cells = [c.strip() for c in row.strip('|').split('|')]
    header = next(line for line in md.splitlines() if line.startswith('| run |'))
    names = [c.strip() for c in header.strip('|').split('|')]
    assert cells[names.index('pets')] == 'failed'
    assert cells[names.index('sun397')] == 'missing'
    assert '## Failed tasks' in md and 'python tools/gvb.py run --tasks pets' in md
    # the tables keep every published row; the heatmap only the default few
    assert md.count('(published)') == 14
    data = json.loads(open(paths['json']).read())
    assert data['failed']['mine']['pets']['error'].startswith('OSError')
    assert len(DEFAULT_FIGURE_COMPARE) == 3


def test_report_rejects_unknown_rows(work_dir, official_csv):
    with pytest.raises(ValueError, match='no published row Up-X/R50; rows: Up-A/R50'):
        write_report(str(work_dir), official_path=official_csv, compare=['Up-X/R50'])
    with pytest.raises(ValueError, match='--reference: no published row Up-G/R18'):
        write_report(str(work_dir), official_path=official_csv, reference='Up-G/R18')


def test_heatmap_goodness_is_column_wise():
    from intern_mm.visualization.gvb_figures import _goodness
    values = np.array([[1.0, 1.0, np.nan], [3.0, 3.0, 5.0], [2.0, 2.0, np.nan]])
    good = _goodness(values, [False, True, False])
    np.testing.assert_allclose(good[:, 0], [0.0, 1.0, 0.5])
    np.testing.assert_allclose(good[:, 1], [1.0, 0.0, 0.5])
    assert good[1, 2] == 0.5 and np.isnan(good[0, 2])
