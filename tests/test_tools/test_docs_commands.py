"""Every ``python tools/...`` command in README.md, docs/ and the config READMEs parses with
its tool's own argument parser, names files that exist, and its tool is run by a test.

The commands are read from the documents themselves (fenced blocks and inline code), so a
command added, renamed or changed in a document is checked without editing this file.
Placeholders in capitals (``CONFIG``, ``CHECKPOINT``, ``ORIGINAL.pth``) stand for the
user's files; everything else must exist in the checkout.
"""
import importlib.util
import re
import shlex
from pathlib import Path
from typing import List, Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / 'README.md', *sorted((REPO / 'docs').glob('*.md')),
        *sorted((REPO / 'configs').glob('*/README.md'))]
FENCE = re.compile(r'^[ \t]*```(\w*)[ \t]*\n(.*?)^[ \t]*```', re.M | re.S)
INLINE = re.compile(r'`((?:PYTHONPATH=\S+ )?python tools/[^`]+)`')
COMMAND = re.compile(r'^(?:PYTHONPATH=\S+ )?(python|bash) (tools/\S+)(.*)$')
REPO_PATH = re.compile(r'^(configs|tools|docs|intern_mm)/[\w./-]+\.(py|yml|md|sh)$')


def documented_commands() -> List[Tuple[str, str]]:
    """``(document, command)`` for each ``python tools/...`` / ``bash tools/...`` line."""
    found = []
    for doc in DOCS:
        text = doc.read_text()
        chunks = [body for tag, body in FENCE.findall(text)
                  if tag in ('', 'bash', 'shell', 'sh', 'text')]
        chunks += [' '.join(m.split()) for m in INLINE.findall(text)]
        for chunk in chunks:
            for line in re.sub(r'\\\n\s*', ' ', chunk).splitlines():
                line = line.strip()
                if COMMAND.match(line):
                    found.append((str(doc.relative_to(REPO)), line))
    return found


COMMANDS = documented_commands()


def _load(tool: Path):
    spec = importlib.util.spec_from_file_location(f'doc_{tool.stem}', tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _parse(tool: Path, argv: List[str]):
    module = _load(tool)
    if hasattr(module, 'build_parser'):
        return module.build_parser().parse_args(argv)
    return module.parse_args(argv)


def test_the_documents_have_commands():
    tools = {COMMAND.match(cmd).group(2) for _, cmd in COMMANDS}
    # a broken extraction would make every test below vacuous
    assert {'tools/train.py', 'tools/gvb.py', 'tools/train_paradigm.py',
            'tools/analysis_tools/benchmark_backbone.py'} <= tools
    assert len(COMMANDS) >= 30


@pytest.mark.parametrize('doc, command', COMMANDS,
                         ids=[f'{d}:{c[:60]}' for d, c in COMMANDS])
def test_documented_command_parses(doc, command, capsys):
    runner, tool, rest = COMMAND.match(command).groups()
    assert (REPO / tool).is_file(), f'{doc}: {tool} does not exist'
    # a usage synopsis: optional parts in brackets, alternatives with '|'
    rest = re.sub(r'\[[^\]]*\]', ' ', rest)
    argv = shlex.split(rest, comments=True)
    missing = [a for a in argv if REPO_PATH.match(a) and not (REPO / a).exists()]
    assert not missing, f'{doc}: `{command}` names missing files {missing}'
    if runner == 'bash':
        return
    try:
        _parse(REPO / tool, argv)
    except SystemExit as err:
        # a placeholder in capitals where the tool takes one of a list (``TASK``)
        if re.search(r"invalid choice: '[A-Z_]+'", capsys.readouterr().err):
            return
        pytest.fail(f'{doc}: `{command}` is refused by {tool}\'s parser (exit {err.code})')


def test_every_documented_tool_is_run_by_a_test():
    """A tool in the documents is exercised by some test (not only parsed here)."""
    tests = [p for p in (REPO / 'tests').rglob('*.py') if p.name != Path(__file__).name]
    text = '\n'.join(p.read_text() for p in tests)
    tools = sorted({COMMAND.match(cmd).group(2) for _, cmd in COMMANDS})
    untested = [t for t in tools if Path(t).name not in text]
    assert not untested, f'documented tools no test runs: {untested}'
