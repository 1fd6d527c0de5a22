"""Class files (one class name per line) and the ``NAME=VALUE`` options of the GV-D tools."""
import os.path as osp
from typing import Dict, Iterable, List, Optional, Tuple

from .errors import GVDInputError

__all__ = ['read_class_file', 'parse_key_value', 'parse_overrides', 'AS_WRITTEN']

#: Override value meaning "keep the name as written, no WordNet" on a command line.
AS_WRITTEN = '-'


def read_class_file(path: str, source: Optional[str] = None) -> List[str]:
    """Read a class file: one name per line; blank lines and ``#`` comments ignored.

    Args:
        path (str): The file.
        source (str, optional): The source it belongs to, named in errors.

    Returns:
        list[str]: The class names in file order (stripped).

    Raises:
        GVDInputError: When the file is missing, unreadable or names no class.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile('w', suffix='.txt', delete=False) as f:
        ...     _ = f.write('# vehicles\\ncar\\n\\ntruck  # big\\n')
        >>> read_class_file(f.name)
        ['car', 'truck']
    """
    where = f'source {source}: ' if source else ''
    if not osp.isfile(path):
        raise GVDInputError(f'{where}class file {path} does not exist')
    try:
        with open(path, encoding='utf-8') as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise GVDInputError(f'{where}class file {path} is unreadable ({exc})') from None
    names = [line.split('#', 1)[0].strip() for line in lines]
    names = [name for name in names if name]
    if not names:
        raise GVDInputError(f'{where}class file {path} names no class (one name per line)')
    return names


def parse_key_value(item: str, option: str, form: str = 'NAME=VALUE') -> Tuple[str, str]:
    """Split a ``NAME=VALUE`` command-line item (both sides non-empty).

    Args:
        item (str): The item.
        option (str): The option it was given to, named in errors (``--source``).
        form (str): The expected form, named in errors. Defaults to ``'NAME=VALUE'``.

    Returns:
        tuple[str, str]: ``(name, value)``, stripped.

    Raises:
        GVDInputError: When ``item`` is not of that form.

    Example:
        >>> parse_key_value('voc=classes.txt', '--source')
        ('voc', 'classes.txt')
    """
    name, sep, value = item.partition('=')
    if not sep or not name.strip() or not value.strip():
        raise GVDInputError(f'{option} expects {form}, got {item!r}')
    return name.strip(), value.strip()


def parse_overrides(items: Iterable[str]) -> Dict[str, Optional[str]]:
    """``NAME=SYNSET`` / ``NAME=-`` items as the ``overrides`` of ``build_label_space``.

    Args:
        items (Iterable[str]): ``--override`` items.

    Returns:
        dict[str, str | None]: Name -> synset name, or None (:data:`AS_WRITTEN`: keep the
        name as written).

    Example:
        >>> parse_overrides(['car=car.n.01', 'spiky=-'])
        {'car': 'car.n.01', 'spiky': None}
    """
    out: Dict[str, Optional[str]] = {}
    for item in items or ():
        name, value = parse_key_value(item, '--override', 'NAME=SYNSET or NAME=-')
        out[name] = None if value == AS_WRITTEN else value
    return out
