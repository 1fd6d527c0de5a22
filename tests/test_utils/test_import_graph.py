"""Module-level imports of intern_mm form no cycle (standard library only: ast + find_spec).

The graph has an edge ``a -> b`` when module ``a`` imports ``b`` at module level
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
from typing import Dict, Iterator, List, Optional, Set

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
