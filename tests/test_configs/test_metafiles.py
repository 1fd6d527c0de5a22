"""model-index.yml, every config folder's metafile.yml and README.md agree with the configs."""
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
INDEX = yaml.safe_load((REPO_ROOT / 'model-index.yml').read_text())
METAFILES = [REPO_ROOT / p for p in INDEX['Import']]
CONFIG_DIRS = sorted(p for p in (REPO_ROOT / 'configs').iterdir()
                     if p.is_dir() and p.name != '_base_')


def test_every_config_folder_is_indexed():
    indexed = {m.parent for m in METAFILES}
    assert set(CONFIG_DIRS) == indexed


@pytest.mark.parametrize('metafile', METAFILES, ids=[m.parent.name for m in METAFILES])
def test_metafile_lists_exactly_the_folder_configs(metafile):
    assert metafile.is_file(), f'{metafile} listed in model-index.yml is missing'
    assert (metafile.parent / 'README.md').is_file()
    meta = yaml.safe_load(metafile.read_text())
    collections = {c['Name'] for c in meta['Collections']}
    listed = set()
    for model in meta['Models']:
        assert model['In Collection'] in collections
        config = REPO_ROOT / model['Config']
        assert config.is_file(), f'{model["Name"]}: {config} does not exist'
        assert model['Name'] == config.stem
        listed.add(config)
    on_disk = {p for p in metafile.parent.glob('*.py')}
    assert on_disk - listed == set(), 'configs missing from metafile.yml'
