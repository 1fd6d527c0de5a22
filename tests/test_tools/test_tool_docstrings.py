"""Every config file a tool's docstring (its --help example) names exists."""
import ast
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS = sorted((REPO_ROOT / 'tools').rglob('*.py'))


@pytest.mark.parametrize('tool', TOOLS, ids=[str(t.relative_to(REPO_ROOT)) for t in TOOLS])
def test_configs_named_in_tool_docstrings_exist(tool):
    doc = ast.get_docstring(ast.parse(tool.read_text())) or ''
    named = re.findall(r'configs/[\w./-]+\.py', doc)
    missing = [c for c in named if not (REPO_ROOT / c).is_file()]
    assert not missing, f'{tool.relative_to(REPO_ROOT)} names missing configs {missing}'
