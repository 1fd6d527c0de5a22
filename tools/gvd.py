"""GV-D, the data system: one label space over declared sources, and the data checks.

Examples::

    # the unified label space of two sources (one class name per line in each file)
    python tools/gvd.py taxonomy --source voc=voc_classes.txt --source coco=coco_classes.txt \
        --json work_dirs/gvd/taxonomy.json

    # keep a mapping WordNet would choose otherwise: a synset name, or '-' for the name as
    # written (no WordNet: it links and merges with nothing)
    python tools/gvd.py taxonomy --source shapes=shapes.txt --override diamond=rhombus.n.01 \
        --override spiky=-

    # near duplicates of upstream images among downstream ones (exit 1 when any; duplicates
    # inside one side are listed, exit 0)
    python tools/gvd.py leak-check --upstream data/up_a data/up_b --downstream data/test \
        --json work_dirs/gvd/leak_check.json

Every sub-command takes ``--debug`` (the traceback instead of one error line). WordNet is
read offline from ``$INTERN_MM_WORDNET`` (default ``/usr/share/wordnet``, Debian's
``wordnet-base``; ``tools/setup_env.sh`` installs it).
"""
import argparse
import os.path as osp
import sys
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from intern_mm.apis.cli import DEBUG_FLAG, run_cli  # noqa: E402
from intern_mm.datasets.gvd import (  # noqa: E402
    GVDInputError, build_label_space, parse_key_value, parse_overrides, read_class_file)
from intern_mm.datasets.gvd.leak_check import (  # noqa: E402
    DEFAULT_MAX_COLOUR_DISTANCE, DEFAULT_MAX_DISTANCE, DEFAULT_MAX_FINE_DISTANCE, leak_check)
from intern_mm.datasets.gvd.source_data import path_groups  # noqa: E402


def _add_taxonomy_parser(subparsers) -> None:
    """``taxonomy``: the unified label space of the sources' class lists."""
    parser = subparsers.add_parser(
        'taxonomy',
        help='unified label space (WordNet synonyms merged, parents linked)')
    parser.add_argument('--source', action='append', required=True, metavar='NAME=FILE',
                        help='a source and its class file (one name per line; blank lines '
                        'and # comments ignored); repeat for each source, in order')
    parser.add_argument('--override', action='append', default=[], metavar='NAME=SYNSET',
                        help="map a class name to a WordNet synset (car=car.n.01), or "
                        "NAME=- to keep it as written (no WordNet); repeatable")
    parser.add_argument('--json', metavar='OUT',
                        help='write the label space as JSON (unified, sources, parents, ...)')


def _run_taxonomy(args) -> int:
    sources: Dict[str, List[str]] = {}
    for item in args.source:
        name, path = parse_key_value(item, '--source', 'NAME=CLASSES_FILE')
        if name in sources:
            raise GVDInputError(f'--source {name} is given twice')
        sources[name] = read_class_file(path, source=name)
    space = build_label_space(sources, overrides=parse_overrides(args.override))
    if space.unused_overrides:
        raise GVDInputError(f'--override names no class of the sources: '
                            f'{", ".join(space.unused_overrides)}')
    print(space.format_table())
    if args.json:
        space.dump(args.json)
        print(f'\njson: {args.json}')
    return 0


def _add_leak_check_parser(subparsers) -> None:
    """``leak-check``: near-duplicate images between upstream and downstream, and inside each."""
    parser = subparsers.add_parser(
        'leak-check', help='near duplicates (pHash) of upstream images among downstream ones')
    parser.add_argument('--upstream', nargs='+', required=True, metavar='PATH',
                        help='image folders (searched recursively) the upstream stages train on, '
                        'or declared sources: CONFIG.py[:SOURCE] (every split)')
    parser.add_argument('--downstream', nargs='+', required=True, metavar='PATH',
                        help='downstream train / val / test image folders, or CONFIG.py[:SOURCE]')
    parser.add_argument('--max-distance', type=int, default=DEFAULT_MAX_DISTANCE, metavar='N',
                        help=f'largest 64-bit pHash distance searched (default '
                        f'{DEFAULT_MAX_DISTANCE})')
    parser.add_argument('--max-fine-distance', type=int, default=DEFAULT_MAX_FINE_DISTANCE,
                        metavar='N', help='largest 256-bit pHash distance of a confirmed pair '
                        f'(default {DEFAULT_MAX_FINE_DISTANCE})')
    parser.add_argument('--max-colour-distance', type=float, default=DEFAULT_MAX_COLOUR_DISTANCE,
                        metavar='X', help='largest colour distance (mean absolute difference '
                        'of 4x4 RGB thumbnails, 0-255) of a confirmed pair; 255 turns the '
                        f'colour gate off (default {DEFAULT_MAX_COLOUR_DISTANCE:g})')
    parser.add_argument('--workers', type=int, help='hashing processes (default: the CPUs)')
    parser.add_argument('--max-listed', type=int, default=50, metavar='N',
                        help='pairs printed and written per kind, closest first (default 50; '
                        'counts are exact)')
    parser.add_argument('--json', metavar='OUT', help='write the report as JSON')


def _run_leak_check(args) -> int:
    report = leak_check(path_groups(args.upstream), path_groups(args.downstream),
                        max_distance=args.max_distance, workers=args.workers,
                        max_fine_distance=args.max_fine_distance,
                        max_colour_distance=args.max_colour_distance)
    print(report.summary(args.max_listed))
    if args.json:
        report.dump(args.json, args.max_listed)
        print(f'json: {args.json}')
    return 0 if report.ok else 1


#: sub-command -> (parser builder, runner); one line per sub-command.
COMMANDS: Dict[str, Tuple[Callable, Callable]] = {
    'taxonomy': (_add_taxonomy_parser, _run_taxonomy),
    'leak-check': (_add_leak_check_parser, _run_leak_check),
}


def build_parser() -> argparse.ArgumentParser:
    """The parser of every sub-command in :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(prog='gvd.py', description='GV-D data system')
    subparsers = parser.add_subparsers(dest='command', required=True)
    for add_parser, _ in COMMANDS.values():
        add_parser(subparsers)
    # every sub-command takes --debug (run_cli: the traceback instead of one line)
    for sub in subparsers.choices.values():
        sub.add_argument(DEBUG_FLAG, action='store_true',
                         help='show the Python traceback of an error (default: one line)')
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run one sub-command; bad input (:class:`GVDInputError`) = one line, exit 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command][1](args)
    except GVDInputError as exc:
        if args.debug:
            raise
        print(f'gvd.py {args.command}: error: {exc}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(run_cli(main, prog='gvd.py'))
