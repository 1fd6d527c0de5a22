"""Imports of intern_mm form no module-level cycle and keep to the layer floors (standard
library only: ast + find_spec).

Floors (:data:`FLOORS`): tools -> paradigm -> apis -> benchmark / engine -> models ->
utils -> evaluation -> datasets -> visualization / analysis / registry; a module may
import only its own floor or lower, at module level, inside functions and in
``TYPE_CHECKING`` blocks alike. The root package ``intern_mm`` (its ``__init__`` imports
every package to register them) stands above all floors: no module imports it (importing
any submodule runs it first anyway). A listed exception (:data:`FLOOR_EXCEPTIONS`) says
why it may break the rule.

The cycle graph has an edge ``a -> b`` when module ``a`` imports ``b`` at module level
(including ``if`` / ``try`` blocks, excluding function bodies and ``TYPE_CHECKING``
blocks). ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else
to ``pkg``. A package's ``__init__`` is the node of the package name. The implicit
import of parent packages (``import a.b.c`` runs ``a/__init__``) is not an edge: every
module imports ``intern_mm.registry``, and ``intern_mm/__init__`` imports everything by
design (registration), so counting it would make the graph one cycle.
"""
import ast
import importlib.util
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = 'intern_mm'


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join(parts)


def _module_level_imports(body: List[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            test = ast.unparse(node.test)
            if 'TYPE_CHECKING' not in test:
                yield from _module_level_imports(node.body)
            yield from _module_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _module_level_imports(block)
            for handler in node.handlers:
                yield from _module_level_imports(handler.body)


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> Optional[str]:
    if node.level == 0:
        return node.module
    base = module.split('.') if is_package else module.split('.')[:-1]
    base = base[:len(base) - (node.level - 1)]
    return '.'.join(base + ([node.module] if node.module else []))


def import_graph() -> Dict[str, Set[str]]:
    """``{module: modules of intern_mm it imports at module level}``."""
    graph: Dict[str, Set[str]] = {}
    for path in sorted((ROOT / PACKAGE).rglob('*.py')):
        module = _module_name(path)
        is_package = path.name == '__init__.py'
        edges = graph.setdefault(module, set())
        tree = ast.parse(path.read_text(encoding='utf-8'))
        for node in _module_level_imports(tree.body):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                source = _resolve(node, module, is_package)
                targets = []
                for alias in node.names:
                    sub = f'{source}.{alias.name}'
                    targets.append(sub if sub.startswith(PACKAGE + '.') and _is_module(sub)
                                   else source)
            edges.update(t for t in targets if t == PACKAGE or t.startswith(PACKAGE + '.'))
    return graph


def find_cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components with more than one node, or a self-import (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    cycles: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_cycle_finder_detects_a_cycle():
    graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}, 'e': {'e'}}
    assert sorted(find_cycles(graph)) == [['a', 'b', 'c'], ['e']]
    assert find_cycles({'a': {'b'}, 'b': set()}) == []


def test_graph_sees_relative_and_absolute_imports():
    graph = import_graph()
    assert 'intern_mm.models.backbones.metanet' in graph['intern_mm.models.backbones']
    assert 'intern_mm.registry' in graph['intern_mm.models.backbones.metanet']
    assert 'intern_mm.utils.checkpoint' in graph['intern_mm.models.backbones.metanet']


def test_no_module_level_import_cycles():
    cycles = find_cycles(import_graph())
    assert not cycles, 'module-level import cycles: ' + '; '.join(
        ' <-> '.join(c) for c in cycles)


#: Floor of each top-level module of intern_mm (higher imports lower, never the reverse).
FLOORS = {
    'paradigm': 8,
    'apis': 7,
    'benchmark': 6,
    'engine': 6,
    'models': 5,
    'utils': 4,
    'evaluation': 3,
    'datasets': 2,
    'visualization': 1,
    'analysis': 1,
    'registry': 1,
    'version': 1,  # the version string: imports nothing
}
#: The root package ``intern_mm``: above every floor.
ROOT_FLOOR = 9
#: ``importing module -> {'targets': modules it may import against the floors, 'reason'}``.
FLOOR_EXCEPTIONS = {
    'intern_mm.utils.setup_env': dict(
        targets={'intern_mm.engine', 'intern_mm.models'},
        reason='register_all_modules imports every package inside the function to fill '
        'the registries: the convention of mmdet / mmseg / mmpretrain '
        '(``<pkg>.utils.register_all_modules``), which configs and tools expect there'),
}


def _top_module(package: str, name: str) -> Optional[str]:
    """``intern_mm.<top>`` of an imported name (``intern_mm`` for the root itself)."""
    parts = name.split('.')
    if parts[0] != package:
        return None
    if len(parts) == 1:
        return package
    return f'{package}.{parts[1]}'


def _all_imports(tree: ast.AST) -> Iterator[Tuple[ast.stmt, str]]:
    """Every import statement, with where it sits: ``'module'``, ``'function'`` or
    ``'TYPE_CHECKING'``."""

    def visit(node: ast.AST, where: str) -> Iterator[Tuple[ast.stmt, str]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, where
                continue
            inner = where
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                inner = 'function'
            elif isinstance(child, ast.If) and 'TYPE_CHECKING' in ast.unparse(child.test):
                yield from visit(ast.Module(body=child.body, type_ignores=[]),
                                 'TYPE_CHECKING' if where == 'module' else where)
                yield from visit(ast.Module(body=child.orelse, type_ignores=[]), where)
                continue
            yield from visit(child, inner)

    yield from visit(tree, 'module')


def _targets(node: ast.stmt, module: str, is_package: bool, root: Path,
             package: str) -> Set[str]:
    """The top-level modules of ``package`` an import statement reaches."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        source = _resolve(node, module, is_package) or ''
        names = []
        for alias in node.names:
            top = root / package / alias.name
            names.append(f'{source}.{alias.name}' if source == package and (
                top.with_suffix('.py').is_file() or (top / '__init__.py').is_file())
                else source)
    tops = {_top_module(package, name) for name in names}
    return {t for t in tops if t is not None}


def _floor(top: str, package: str) -> int:
    if top == package:
        return ROOT_FLOOR
    name = top[len(package) + 1:]
    if name not in FLOORS:
        raise KeyError(f'{top} has no floor: add it to FLOORS')
    return FLOORS[name]


def floor_violations(root: Path = ROOT, package: str = PACKAGE,
                     exceptions: Optional[dict] = None) -> List[str]:
    """Every import of ``package`` (anywhere in a file) that reaches above its floor.

    Args:
        root (Path): Directory holding the package.
        package (str): The package name.
        exceptions (dict, optional): :data:`FLOOR_EXCEPTIONS`-like allowances.

    Returns:
        list[str]: ``'<file>:<line> <module> -> <target> (<where>)'`` per violation.
    """
    exceptions = FLOOR_EXCEPTIONS if exceptions is None else exceptions
    found = []
    for path in sorted((root / package).rglob('*.py')):
        parts = list(path.relative_to(root).with_suffix('').parts)
        is_package = parts[-1] == '__init__'
        module = '.'.join(parts[:-1] if is_package else parts)
        if module == package:
            continue  # the root imports everything: it is above every floor
        own_top = _top_module(package, module)
        own = _floor(own_top, package)
        allowed = exceptions.get(module, {}).get('targets', set())
        tree = ast.parse(path.read_text(encoding='utf-8'))
        for node, where in _all_imports(tree):
            for target in sorted(_targets(node, module, is_package, root, package)):
                if target == own_top or target in allowed:
                    continue
                if _floor(target, package) > own:
                    found.append(f'{path.relative_to(root).as_posix()}:{node.lineno} '
                                 f'{module} -> {target} ({where})')
    return found


def test_floor_checker_catches_planted_imports(tmp_path):
    pkg = tmp_path / 'intern_mm'
    files = {
        '__init__.py': 'from . import models, paradigm\n',
        'registry.py': '',
        'paradigm/__init__.py': 'from intern_mm.models import x\n',
        'benchmark/__init__.py': 'from intern_mm.engine import hooks\nfrom ..models import y\n',
        'engine/__init__.py': '',
        'models/__init__.py': 'from .m import f\n',
        'models/m.py': ('from intern_mm.registry import MODELS\n\n\n'
                        'def f():\n    from intern_mm.benchmark import z\n'
                        '    return lambda: __import__("os")\n'),
        'utils/u.py': ('from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n'
                       '    import intern_mm.apis.runs\n'),
        'datasets/d.py': 'class D:\n    def m(self):\n        import intern_mm\n',
        'visualization/v.py': 'from intern_mm import analysis, models\n',
        'analysis/__init__.py': '',
    }
    for rel, text in files.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    found = floor_violations(tmp_path, exceptions={})
    assert found == [
        'intern_mm/datasets/d.py:3 intern_mm.datasets.d -> intern_mm (function)',
        'intern_mm/models/m.py:5 intern_mm.models.m -> intern_mm.benchmark (function)',
        'intern_mm/utils/u.py:3 intern_mm.utils.u -> intern_mm.apis (TYPE_CHECKING)',
        'intern_mm/visualization/v.py:1 intern_mm.visualization.v -> intern_mm.models '
        '(module)',
    ]
    allowed = {'intern_mm.models.m': dict(targets={'intern_mm.benchmark'}, reason='test')}
    assert len(floor_violations(tmp_path, exceptions=allowed)) == 3
    (pkg / 'newpkg.py').write_text('')
    with pytest.raises(KeyError, match='intern_mm.newpkg has no floor'):
        floor_violations(tmp_path, exceptions={})


def test_every_import_keeps_to_the_floors():
    found = floor_violations()
    assert not found, 'imports above their floor (move the code, or add the import to ' \
        'FLOOR_EXCEPTIONS with a reason):\n' + '\n'.join(found)


def test_floor_exceptions_are_needed_and_explained():
    for module, entry in FLOOR_EXCEPTIONS.items():
        assert len(entry['reason']) > 40, module
        others = {k: v for k, v in FLOOR_EXCEPTIONS.items() if k != module}
        unexcused = floor_violations(exceptions=others)
        for target in entry['targets']:
            assert any(f' {module} -> {target} ' in line for line in unexcused), \
                f'FLOOR_EXCEPTIONS[{module!r}] lists {target}, which it no longer imports'
