"""The published GV-B table shipped inside intern_mm equals the reference copy in ../shared."""
import csv
import io

import pytest

from intern_mm.benchmark.official import OFFICIAL_CSV, load_official_results


def test_embedded_table_matches_reference(shared_dir):
    reference = (shared_dir / 'reference' / 'gvb_official_results.csv').read_text()
    ref_rows = list(csv.reader(io.StringIO(reference.strip())))
    ours = list(csv.reader(io.StringIO(OFFICIAL_CSV.strip())))
    assert ours[0] == ref_rows[0]
    assert len(ours) == len(ref_rows) == 15  # header + 14 published rows
    for mine, theirs in zip(ours[1:], ref_rows[1:]):
        assert mine == theirs, f'{mine[:2]} differs from the published row'


def test_loader_rows_and_missing_explicit_file(tmp_path):
    rows = load_official_results()
    assert len(rows) == 14 and rows[0]['stage'] == 'Up-A' and rows[0]['cifar10'] == '92.4'
    with pytest.raises(FileNotFoundError, match='absent.csv'):
        load_official_results(str(tmp_path / 'absent.csv'))
