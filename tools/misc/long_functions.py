"""List functions longer than a limit (lines from ``def`` to the last line, docstring included).

Usage::

    python tools/misc/long_functions.py [ROOT ...] [--max-lines 60] [--skip FILE ...]

Prints ``path:line name length`` for every longer function and exits with status 1 when
there is any. ``tests/test_code_shape.py`` enforces the limit on ``intern_mm`` with an
allow-list that states the reason of each exception.
"""
import argparse
import ast
import os
import os.path as osp
import sys
from typing import Iterable, List, Tuple

__all__ = ['long_functions']


def _python_files(root: str) -> Iterable[str]:
    if osp.isfile(root):
        yield root
        return
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(('.', '__pycache__')))
        for name in sorted(files):
            if name.endswith('.py'):
                yield osp.join(folder, name)


def long_functions(roots: Iterable[str], max_lines: int = 60,
                   skip: Iterable[str] = ()) -> List[Tuple[str, int, str, int]]:
    """Functions (and methods) longer than ``max_lines``.

    Args:
        roots (Iterable[str]): Files or folders to scan.
        max_lines (int): Longest allowed function, ``def`` line to last line (decorators
            excluded, docstring included). Defaults to 60.
        skip (Iterable[str]): Path suffixes of files to leave out.

    Returns:
        list[tuple[str, int, str, int]]: ``(path, line, qualified name, length)``.
    """
    skip = tuple(s.replace('\\', '/') for s in skip)
    found = []
    for root in roots:
        for path in _python_files(root):
            rel = path.replace('\\', '/')
            if skip and rel.endswith(skip):
                continue
            with open(path, encoding='utf-8') as f:
                tree = ast.parse(f.read(), filename=path)
            found.extend(_scan(tree, rel, '', max_lines))
    return found


def _scan(node: ast.AST, path: str, prefix: str, max_lines: int) -> list:
    found = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = prefix + child.name
            if not isinstance(child, ast.ClassDef):
                length = child.end_lineno - child.lineno + 1
                if length > max_lines:
                    found.append((path, child.lineno, name, length))
            found.extend(_scan(child, path, name + '.', max_lines))
        else:
            found.extend(_scan(child, path, prefix, max_lines))
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('roots', nargs='*', default=['intern_mm'])
    parser.add_argument('--max-lines', type=int, default=60)
    parser.add_argument('--skip', nargs='*', default=[], help='path suffixes to leave out')
    args = parser.parse_args(argv)
    found = long_functions(args.roots, args.max_lines, args.skip)
    for path, line, name, length in found:
        print(f'{path}:{line} {name} {length}')
    print(f'{len(found)} function(s) over {args.max_lines} lines')
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
