"""Metafile ``Results`` only describe what a config reproduces with shipped weights."""
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
INDEX = yaml.safe_load((REPO_ROOT / 'model-index.yml').read_text())
METAFILES = [REPO_ROOT / p for p in INDEX['Import']]


@pytest.mark.parametrize('metafile', METAFILES, ids=[m.parent.name for m in METAFILES])
def test_no_results_without_weights(metafile):
    """A config that ships no weights carries no ``Results`` (mim would show them as the
    config's results); a published number goes into ``Metadata.Published``, saying that
    it is not reproduced here."""
    for model in yaml.safe_load(metafile.read_text())['Models']:
        if not model.get('Weights'):
            assert not model.get('Results'), (
                f'{metafile.relative_to(REPO_ROOT)}: {model["Name"]} ships no weights but '
                'lists Results')
        published = (model.get('Metadata') or {}).get('Published')
        if published is not None:
            assert 'not reproduced here' in published, model['Name']
