"""One label space per task: the sources' class names unified through WordNet.

A class name maps to its most frequent noun sense (WordNet's first noun synset) unless an
override says otherwise; names of one synset merge into one unified class (``car`` /
``automobile``); a class whose synset has another class of the space among its ancestors
(hypernyms and instance hypernyms) records the nearest one as its parent (``puppy`` ->
``dog``); names WordNet does not know stay as written and are listed.
"""
import json
import os
import os.path as osp
from collections import deque
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from .errors import GVDInputError
from .wordnet import load_wordnet

__all__ = ['ClassSense', 'LabelSpace', 'build_label_space', 'normalize_class_name']


def normalize_class_name(name: str) -> str:
    """The lookup key of a class name: lower case, spaces and hyphens as underscores.

    Args:
        name (str): A class name as written.

    Returns:
        str: WordNet's lemma form of it.

    Example:
        >>> normalize_class_name(' Traffic-Light ')
        'traffic_light'
    """
    return '_'.join(name.strip().lower().replace('-', ' ').replace('_', ' ').split())


@dataclass
class ClassSense:
    """How one class name (as written) was mapped.

    Args:
        name (str): The name as written (first spelling seen).
        synset (str, optional): The synset it maps to; None = kept as written.
        gloss (str): The synset's definition ('' without one).
        others (list[tuple[str, str]]): The name's other noun senses ``(synset, gloss)``.
        how (str): ``'wordnet'`` (most frequent sense), ``'override'`` (a synset the
            overrides name), ``'as-written'`` (an override keeps the name) or
            ``'unknown'`` (WordNet has no noun of that name).

    Example:
        >>> ClassSense('automobile', 'car.n.01', 'a motor vehicle', [], 'wordnet'
        ...            ).override_line
        'automobile=car.n.01'
    """
    name: str
    synset: Optional[str]
    gloss: str = ''
    others: List[Tuple[str, str]] = field(default_factory=list)
    how: str = 'wordnet'

    @property
    def override_line(self) -> str:
        """The ``--override`` value that pins this mapping (``NAME=SYNSET`` / ``NAME=-``)."""
        return f'{self.name}={self.synset or "-"}'


@dataclass
class LabelSpace:
    """A unified label space over sources (built by :func:`build_label_space`).

    Args:
        unified (list[str]): Unified class names, first-seen order.
        sources (dict[str, list[int]]): Per source, the unified index of each of its
            classes, in its class-list order (a head's ``sources``).
        parents (dict[str, str]): Unified name -> unified name of its nearest ancestor
            in the space.
        unknown (list[str]): Names WordNet does not know (kept as written).
        senses (dict[str, ClassSense]): Per distinct name as written, its mapping.
        synsets (dict[str, str | None]): Per unified name, its synset.
        aliases (dict[str, list[str]]): Per unified name, the other names merged into it.
        unused_overrides (list[str]): Override keys that name no class of the sources.

    Example:
        >>> space = LabelSpace(['car', 'dog', 'puppy'], dict(a=[0, 1], b=[0, 2]),
        ...                    dict(puppy='dog'))
        >>> space.parent_indices()
        {2: 1}
    """
    unified: List[str]
    sources: Dict[str, List[int]]
    parents: Dict[str, str] = field(default_factory=dict)
    unknown: List[str] = field(default_factory=list)
    senses: Dict[str, ClassSense] = field(default_factory=dict)
    synsets: Dict[str, Optional[str]] = field(default_factory=dict)
    aliases: Dict[str, List[str]] = field(default_factory=dict)
    unused_overrides: List[str] = field(default_factory=list)

    def parent_indices(self) -> Dict[int, int]:
        """``parents`` as unified indices (the heads' ``parents`` argument)."""
        index = {name: i for i, name in enumerate(self.unified)}
        return {index[child]: index[parent] for child, parent in self.parents.items()}

    def ambiguous(self) -> List[ClassSense]:
        """The names with several noun senses (chosen sense + others), in first-seen order."""
        return [sense for sense in self.senses.values() if sense.others]

    def to_json(self) -> dict:
        """The JSON of ``tools/gvd.py taxonomy --json``: ``unified``, ``sources``,
        ``parents`` (the issue's keys) plus ``head_parents`` (each unified class's parent
        index or None: the heads' ``parents`` argument), ``unknown``, ``synsets``,
        ``aliases``, ``senses`` (name -> synset, gloss, other senses, override line)."""
        parent_of = self.parent_indices()
        return dict(
            unified=list(self.unified),
            sources={name: list(idx) for name, idx in self.sources.items()},
            parents=dict(self.parents),
            head_parents=[parent_of.get(i) for i in range(len(self.unified))],
            unknown=list(self.unknown),
            synsets=dict(self.synsets),
            aliases={k: list(v) for k, v in self.aliases.items() if v},
            senses={
                name: dict(synset=s.synset, gloss=s.gloss, how=s.how,
                           others=[dict(synset=o, gloss=g) for o, g in s.others],
                           override=s.override_line)
                for name, s in self.senses.items()
            })

    def dump(self, path: str) -> None:
        """Write :meth:`to_json` to ``path`` (folders created)."""
        if osp.dirname(path):
            os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(self.to_json(), f, indent=2)
            f.write('\n')

    def format_table(self) -> str:
        """A printable summary: classes, sources, parents, unknown names, senses."""
        width = max([len(n) for n in self.unified] + [5])
        lines = [f'Unified label space: {len(self.unified)} classes from '
                 f'{len(self.sources)} source(s)',
                 f'  {"idx":>3}  {"class":<{width}}  {"synset":<24}  {"parent":<{width}}  '
                 'also named']
        for i, name in enumerate(self.unified):
            lines.append(f'  {i:>3}  {name:<{width}}  {self.synsets.get(name) or "-":<24}  '
                         f'{self.parents.get(name, "-"):<{width}}  '
                         f'{", ".join(self.aliases.get(name, [])) or "-"}')
        lines.append('Sources (unified index of each class, in file order):')
        for source, indices in self.sources.items():
            lines.append(f'  {source}: {indices}')
        lines.append('Parents (child -> nearest ancestor in the space): ' + (
            ', '.join(f'{c} -> {p}' for c, p in self.parents.items()) or 'none'))
        lines.append('Unknown to WordNet (kept as written): ' + (
            ', '.join(self.unknown) or 'none'))
        as_written = [s.name for s in self.senses.values() if s.how == 'as-written']
        if as_written:
            lines.append('Kept as written by an override (no WordNet): ' + ', '.join(as_written))
        if self.unused_overrides:
            lines.append('Overrides naming no class: ' + ', '.join(self.unused_overrides))
        ambiguous = self.ambiguous()
        lines.append(f'Names with several noun senses: {len(ambiguous)}' + (
            ' (chosen sense first; to choose another: --override NAME=SYNSET, in a '
            'config a dict NAME -> SYNSET)' if ambiguous else ''))
        for sense in ambiguous:
            how = 'override' if sense.how == 'override' else 'most frequent'
            lines.append(f'  {sense.name}: {sense.synset} ({how}) "{sense.gloss}"')
            for other, gloss in sense.others:
                lines.append(f'      other: {other} "{gloss}"')
            lines.append(f'      override to write: {sense.override_line}')
        return '\n'.join(lines)


def _ancestor_depths(synset) -> Dict[str, int]:
    """Every hypernym / instance-hypernym ancestor of ``synset`` -> its shortest distance."""
    depth = {synset.name(): 0}
    queue = deque([synset])
    while queue:
        current = queue.popleft()
        for parent in current.hypernyms() + current.instance_hypernyms():
            if parent.name() not in depth:
                depth[parent.name()] = depth[current.name()] + 1
                queue.append(parent)
    return depth


def _lookup(wn, name: str, overrides: Mapping[str, Optional[str]],
            used: set) -> ClassSense:
    key = normalize_class_name(name)
    candidates = wn.synsets(key, pos='n') if key else []
    chosen, how = (candidates[0], 'wordnet') if candidates else (None, 'unknown')
    if key in overrides:
        used.add(key)
        target = overrides[key]
        if target is None:
            chosen, how = None, 'as-written'
        else:
            try:
                chosen = wn.synset(target)
            except Exception:  # nltk raises WordNetError / ValueError for a bad name
                raise GVDInputError(
                    f'override {name}={target}: WordNet has no synset {target!r} (write '
                    f'a synset name such as car.n.01, or {name}=- to keep the name)'
                ) from None
            how = 'override'
    others = [(s.name(), s.definition()) for s in candidates if s != chosen]
    return ClassSense(name=name, synset=chosen.name() if chosen is not None else None,
                      gloss=chosen.definition() if chosen is not None else '',
                      others=others, how=how)


def build_label_space(sources: Mapping[str, Sequence[str]],
                      overrides: Optional[Mapping[str, Optional[str]]] = None,
                      wordnet_root: Optional[str] = None) -> LabelSpace:
    """Unify the sources' class names into one label space.

    ``unified`` follows first-seen order over the sources (in declaration order) and
    their classes (in list order), so adding a source never moves existing indices.

    Args:
        sources (Mapping[str, Sequence[str]]): Source name -> its class names.
        overrides (Mapping[str, str | None], optional): Class name (any case / spacing)
            -> a synset name (``'car.n.01'``) to map it to, or None to keep the name as
            written (no WordNet: it merges and links with nothing). Defaults to None.
        wordnet_root (str, optional): WordNet folder (default ``$INTERN_MM_WORDNET`` or
            ``/usr/share/wordnet``).

    Returns:
        LabelSpace: The unified space, parents, unknown names and senses.

    Raises:
        GVDInputError: A source with no class, an override naming no synset, or no
            WordNet installed.

    Example:
        >>> space = build_label_space(dict(a=['car', 'dog'], b=['automobile', 'puppy']))
        >>> space.unified, space.sources, space.parents  # doctest: +SKIP
        (['car', 'dog', 'puppy'], {'a': [0, 1], 'b': [0, 2]}, {'puppy': 'dog'})
    """
    overrides = {normalize_class_name(k): v for k, v in (overrides or {}).items()}
    wn = load_wordnet(wordnet_root)
    used: set = set()
    senses, unified, space_sources, aliases = _unify(wn, sources, overrides, used)
    synsets = {name: senses[normalize_class_name(name)].synset for name in unified}
    return LabelSpace(
        unified=unified, sources=space_sources,
        parents=_nearest_parents(wn, unified, synsets),
        unknown=[s.name for s in senses.values() if s.how == 'unknown'],
        senses={s.name: s for s in senses.values()}, synsets=synsets, aliases=aliases,
        unused_overrides=[k for k in overrides if k not in used])


def _unify(wn, sources: Mapping[str, Sequence[str]], overrides: Mapping[str, Optional[str]],
           used: set) -> tuple:
    """Senses (by normalised name), unified names, source indices and aliases."""
    senses: Dict[str, ClassSense] = {}   # normalised name -> sense
    unified: List[str] = []
    identity_index: Dict[str, int] = {}  # synset name or 'name:<key>' -> unified index
    space_sources: Dict[str, List[int]] = {}
    aliases: Dict[str, List[str]] = {}
    for source, names in sources.items():
        if isinstance(names, str) or not names:
            raise GVDInputError(f'source {source}: expected a list of class names, got '
                                f'{names!r}')
        indices = []
        for name in names:
            name = str(name).strip()
            key = normalize_class_name(name)
            if not key:
                raise GVDInputError(f'source {source}: empty class name in {list(names)}')
            if key not in senses:
                senses[key] = _lookup(wn, name, overrides, used)
            sense = senses[key]
            identity = sense.synset or f'name:{key}'
            if identity not in identity_index:
                identity_index[identity] = len(unified)
                unified.append(sense.name)
                aliases[sense.name] = []
            index = identity_index[identity]
            if sense.name != unified[index] and sense.name not in aliases[unified[index]]:
                aliases[unified[index]].append(sense.name)
            indices.append(index)
        space_sources[str(source)] = indices
    return senses, unified, space_sources, aliases


def _nearest_parents(wn, unified: List[str],
                     synsets: Mapping[str, Optional[str]]) -> Dict[str, str]:
    """Unified name -> the unified class nearest among its synset's ancestors."""
    in_space = {s: i for i, s in reversed(list(enumerate(synsets[n] for n in unified)))
                if s is not None}
    parents = {}
    for name in unified:
        synset = synsets[name]
        if synset is None:
            continue
        depths = _ancestor_depths(wn.synset(synset))
        found = [(d, in_space[s]) for s, d in depths.items() if d > 0 and s in in_space]
        if found:
            parents[name] = unified[min(found)[1]]
    return parents
