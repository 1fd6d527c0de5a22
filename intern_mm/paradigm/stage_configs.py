"""The stages of a pipeline config: checking the stage list and building stage configs.

A stage entry names its training config, its ``kind`` (:data:`STAGE_KINDS`), hand-offs
from earlier stages and options (:data:`STAGE_KEYS`). A stage's complete config is its
training config rebased onto the world root (string values starting with the config's
own ``data_root`` are rewritten), with one
:class:`~intern_mm.engine.hooks.StageHandoffHook` per hand-off (checkpoint = the named
earlier stage's final checkpoint) and the checked ``cfg_options`` merged in.

Example:
    >>> stages = check_stages([dict(name='up-a', config='configs/paradigm/x.py')])
    ... # doctest: +SKIP
    >>> cfg = build_stage_config(stages[0], '/data/w', done_of=lambda name: None)
    ... # doctest: +SKIP
"""
import copy
import json
import os.path as osp
import re
from typing import Any, Callable, List, Optional

from mmengine.config import Config

from intern_mm.utils.config import merge_cfg_options
from .launch import REPO_ROOT
from .stage_runner import runtime_stage_cfg

__all__ = ['STAGE_KEYS', 'STAGE_KINDS', 'rebase_paths', 'resolve_path', 'override_stages',
           'check_stages', 'build_stage_config', 'config_drift', 'finished_warnings']

#: Stage-entry keys understood by the pipeline.
STAGE_KEYS = {'name', 'config', 'kind', 'handoffs', 'cfg_options', 'export', 'main_metric',
              'probe_backbone', 'teacher', 'description'}
#: Stage kinds: what the pipeline does with a stage besides training it.
STAGE_KINDS = ('train', 'generalist', 'distill')


def rebase_paths(obj: Any, old: str, new: str) -> Any:
    """Replace the prefix ``old`` by ``new`` in every string inside ``obj``.

    Args:
        obj (Any): Nested dicts / lists / strings (a config).
        old (str): Old data root.
        new (str): New data root.

    Returns:
        Any: A rebased copy.

    Example:
        >>> rebase_paths(dict(a=['data/w/x.txt', 3]), 'data/w', '/tmp/w')
        {'a': ['/tmp/w/x.txt', 3]}
        >>> rebase_paths('data/w', 'data/w/', '/tmp/w')  # the root without its slash
        '/tmp/w'
    """
    if isinstance(obj, dict):
        return {k: rebase_paths(v, old, new) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(rebase_paths(v, old, new) for v in obj)
    if isinstance(obj, str) and (obj.rstrip('/') == old.rstrip('/')
                                 or obj.startswith(old.rstrip('/') + '/')):
        return new.rstrip('/') + obj[len(old.rstrip('/')):]
    return obj


def resolve_path(path: str) -> str:
    """A path relative to the cwd, else relative to the repository.

    Args:
        path (str): A file or folder.

    Returns:
        str: The path that exists (``path`` itself when neither does).
    """
    if osp.isabs(path) or osp.exists(path):
        return path
    alt = osp.join(REPO_ROOT, path)
    return alt if osp.exists(alt) else path


def override_stages(stages: Optional[list], overrides: Optional[dict]) -> List[dict]:
    """``stages`` with ``stage_overrides[name]``'s keys replacing the named stage's
    (an ablation config changes one stage without repeating the list).

    Args:
        stages (list[dict], optional): The stage entries.
        overrides (dict, optional): Stage name -> keys to replace.

    Returns:
        list[dict]: Copies of the entries, overridden.
    """
    stages = [dict(s) for s in stages or []]
    names = [s.get('name') for s in stages]
    for name, keys in (overrides or {}).items():
        if name not in names:
            raise KeyError(f'stage_overrides: no stage named {name!r} (stages: {names})')
        stages[names.index(name)].update(copy.deepcopy(dict(keys)))
    return stages


def check_stages(stages: Optional[list]) -> List[dict]:
    """Check the stage entries; returns them with absolute config paths and kinds.

    Args:
        stages (list[dict], optional): The stage entries.

    Returns:
        list[dict]: The checked entries.

    Raises:
        KeyError / ValueError / FileNotFoundError: One line naming the problem.
    """
    if not stages:
        raise KeyError('pipeline config: "stages" is empty or missing')
    names = []
    checked = []
    for stage in stages:
        stage = dict(stage)
        unknown = set(stage) - STAGE_KEYS
        if unknown:
            raise KeyError(f'stage {stage.get("name")!r}: unknown keys {sorted(unknown)} '
                           f'(allowed: {sorted(STAGE_KEYS)})')
        for key in ('name', 'config'):
            if key not in stage:
                raise KeyError(f'stage entry {stage} lacks {key!r}')
        if stage['name'] in names:
            raise ValueError(f'duplicate stage name {stage["name"]!r}')
        cfg_file = resolve_path(stage['config'])
        if not osp.isfile(cfg_file):
            raise FileNotFoundError(f'stage {stage["name"]}: config {stage["config"]} '
                                    'does not exist')
        stage['config'] = osp.abspath(cfg_file)
        for handoff in stage.get('handoffs', []):
            if handoff.get('stage') not in names:
                raise ValueError(f'stage {stage["name"]}: hand-off from '
                                 f'{handoff.get("stage")!r}, which is not an earlier stage '
                                 f'(earlier: {names})')
        _check_kind(stage, checked)
        names.append(stage['name'])
        checked.append(stage)
    return checked


def _check_kind(stage: dict, earlier: List[dict]) -> None:
    name = stage['name']
    kind = stage.setdefault('kind', 'train')
    if kind not in STAGE_KINDS:
        raise ValueError(f'stage {name}: unknown kind {kind!r} (known: {STAGE_KINDS})')
    if stage.get('export') is not None and kind != 'generalist':
        raise ValueError(f"stage {name}: 'export' options belong to kind='generalist' "
                         f'stages (this one is {kind!r})')
    if (kind == 'distill') != ('teacher' in stage):
        raise ValueError(f"stage {name}: kind='distill' stages, and only they, name a "
                         "'teacher' stage")
    if kind == 'distill':
        kinds = {s['name']: s['kind'] for s in earlier}
        if kinds.get(stage['teacher']) != 'generalist':
            raise ValueError(f'stage {name}: teacher {stage["teacher"]!r} is not an '
                             f"earlier kind='generalist' stage (earlier: {kinds})")


def build_stage_config(stage: dict,
                       world_root: Optional[str],
                       done_of: Callable[[str], Optional[dict]],
                       options: Optional[dict] = None,
                       work_dir: Optional[str] = None) -> Config:
    """The complete config of a stage (rebased, with hand-off hooks and options).

    Args:
        stage (dict): A checked stage entry.
        world_root (str, optional): The GV world root (None: no world, nothing
            rebased).
        done_of (Callable): Stage name -> its done-marker (None: not finished).
        options (dict, optional): ``cfg_options`` merged in (keys must exist).
        work_dir (str, optional): The stage's work dir.

    Returns:
        Config: The stage config.
    """
    cfg = Config.fromfile(stage['config'])
    old_root = cfg.get('data_root')
    if old_root and world_root:
        rebased = rebase_paths(cfg.to_dict(), old_root, world_root)
        cfg = Config(rebased)
        cfg.data_root = world_root
    handoffs = stage.get('handoffs')
    if handoffs:
        hooks = [h for h in (cfg.get('custom_hooks') or [])
                 if h.get('type') not in ('StageHandoffHook', 'intern_mm.StageHandoffHook')]
        for handoff in handoffs:
            handoff = dict(handoff)
            src = handoff.pop('stage')
            done = done_of(src)
            if done is None:
                raise RuntimeError(f'stage {stage["name"]} needs stage {src} to be done '
                                   'first')
            hooks.append(dict(type='intern_mm.StageHandoffHook',
                              checkpoint=done['checkpoint'], name=src, **handoff))
        cfg.custom_hooks = hooks
    if options:
        merge_cfg_options(cfg, options)
    cfg.work_dir = work_dir
    return cfg


def config_drift(saved: str, build: Callable[[], Config]) -> List[str]:
    """Top-level keys in which a finished stage's saved ``stage_config.py`` differs
    from the config built for it now (paths into a work dir's ``stages/`` are compared
    from there on, so a copied work dir does not differ).

    Args:
        saved (str): The saved ``stage_config.py``.
        build (Callable): Builds the stage's config now (called only when ``saved``
            exists).

    Returns:
        list[str]: The differing keys (empty: same config, or none saved).
    """
    if not osp.isfile(saved):
        return []
    old = Config.fromfile(saved)
    new = runtime_stage_cfg(build(), old.get('work_dir'), old.get('launcher'))

    def norm(cfg):  # a path into some work dir's stages -> 'stages/...'
        text = json.dumps(cfg.to_dict(), default=str, sort_keys=True)
        return json.loads(re.sub(r'"[^"]*?/(stages/[^"]*)"', r'"\1"', text))

    old, new = norm(old), norm(new)
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def finished_warnings(stage: dict, done: dict, drift: List[str], results: dict,
                      work_dir: str) -> List[str]:
    """The warnings about a finished stage that is skipped: trained with another config
    (``drift``: :func:`config_drift`'s keys) or from an older hand-off checkpoint.

    Args:
        stage (dict): The stage entry.
        done (dict): Its done-marker.
        drift (list[str]): The keys its saved config differs in.
        results (dict): Done-markers of the stages run or skipped so far.
        work_dir (str): The stage's work dir.

    Returns:
        list[str]: The warning lines (empty: nothing to say).

    Example:
        >>> finished_warnings(dict(name='x'), dict(checkpoint='c'), ['model'], {}, 'wd')
        ['WARNING: stage x was trained with another config (differs in model); delete wd \
to retrain it']
    """
    name, lines = stage['name'], []
    if drift:
        lines.append(f'WARNING: stage {name} was trained with another config (differs in '
                     f'{", ".join(drift)}); delete {work_dir} to retrain it')
    for handoff in stage.get('handoffs', []):
        src = results.get(handoff['stage'])
        if src and osp.getmtime(src['checkpoint']) > osp.getmtime(done['checkpoint']):
            lines.append(f'WARNING: stage {name} was trained from an older '
                         f'{handoff["stage"]} checkpoint; delete {work_dir} to retrain it')
    return lines
