"""Exports of finished stages and the backbones downstream runs use.

A ``generalist`` stage (Up-G) is exported as ``cls-bn`` / ``det-bn`` / ... checkpoints
with task-specific BN and a plain-BN ``backbone``; a ``distill`` stage as its student
``backbone``. An export is redone only when the stage's checkpoint is newer than its
files (:func:`~intern_mm.utils.run_record.is_up_to_date`).

Example:
    >>> files = export_stage(stage, done, 'work_dirs/demo/stages/up-g/export')
    ... # doctest: +SKIP
    >>> files['backbone']  # doctest: +SKIP
    'work_dirs/demo/stages/up-g/export/backbone.pth'
"""
import copy
import os
import os.path as osp
from typing import Dict

from mmengine.config import Config

from intern_mm.models.distillers import export_student
from intern_mm.models.generalist import export_generalist
from intern_mm.utils.run_record import is_up_to_date
from .downstream import backbone_spec

__all__ = ['EXPORT_KINDS', 'probe_backbone_cfg', 'export_files', 'export_stage',
           'stage_backbone', 'scratch_backbone']

#: Stage kinds that are exported after training.
EXPORT_KINDS = ('generalist', 'distill')


def probe_backbone_cfg(stage: dict) -> dict:
    """The backbone config downstream runs use for a stage (by its ``kind``).

    Args:
        stage (dict): A checked stage entry.

    Returns:
        dict: The backbone config: the model's backbone (a generalist's in its
        plain-BN form, a distill stage's student), without ``init_cfg`` /
        ``frozen_stages``, updated with the stage's ``probe_backbone``.
    """
    cfg = Config.fromfile(stage['config'])
    if stage['kind'] == 'distill':
        backbone = copy.deepcopy(cfg.model.student.to_dict())
    else:
        backbone = copy.deepcopy(cfg.model.backbone.to_dict())
    if stage['kind'] == 'generalist':  # plain-BN exported backbone
        backbone.pop('bn_tasks', None)
        backbone.pop('task', None)
    for key in ('init_cfg', 'frozen_stages'):
        backbone.pop(key, None)
    if isinstance(backbone.get('main'), dict):
        backbone['main'].pop('init_cfg', None)
    backbone.update(stage.get('probe_backbone') or {})
    return backbone


def export_files(stage: dict, out_dir: str) -> Dict[str, str]:
    """The files an export of ``stage`` writes (``backbone`` among them).

    Args:
        stage (dict): A ``generalist`` or ``distill`` stage entry.
        out_dir (str): The export folder.

    Returns:
        dict: Name -> ``<out_dir>/<name>.pth``.
    """
    if stage['kind'] == 'generalist':
        bn_tasks = (stage.get('export') or {}).get('bn_tasks', ('cls', 'det'))
        names = [f'{b}-bn' for b in bn_tasks] + ['backbone']
    else:
        names = ['backbone']
    return {k: osp.join(out_dir, f'{k}.pth') for k in names}


def export_stage(stage: dict, done: dict, out_dir: str) -> Dict[str, str]:
    """Export a ``generalist`` or ``distill`` stage unless its export is up to date.

    Args:
        stage (dict): The stage entry.
        done (dict): Its done-marker (``checkpoint``).
        out_dir (str): The export folder.

    Returns:
        dict: The exported files, ``backbone`` among them.
    """
    files = export_files(stage, out_dir)
    if is_up_to_date(files.values(), done['checkpoint']):
        return files
    if stage['kind'] == 'generalist':
        return export_generalist(done['checkpoint'], out_dir,
                                 backbone_cfg=probe_backbone_cfg(stage),
                                 **dict(stage.get('export') or {}))
    if stage['kind'] == 'distill':
        os.makedirs(out_dir, exist_ok=True)
        export_student(done['checkpoint'], files['backbone'],
                       backbone_cfg=probe_backbone_cfg(stage))
        return files
    raise ValueError(f'stage {stage["name"]} (kind {stage["kind"]!r}) has no export')


def stage_backbone(pipe, name: str):
    """The :class:`~intern_mm.benchmark.BackboneSpec` of a finished stage of a pipeline
    (an exported stage's ``backbone`` file, else its final checkpoint).

    Args:
        pipe (ParadigmPipeline): The pipeline.
        name (str): The stage.

    Returns:
        BackboneSpec: The spec.

    Example:
        >>> stage_backbone(pipe, 'up-a').checkpoint  # doctest: +SKIP
        'work_dirs/demo/stages/up-a/iter_150.pth'
    """
    stage = pipe.stage(name)
    if stage['kind'] in EXPORT_KINDS:
        checkpoint = pipe.export_stage(stage)['backbone']
    else:
        done = pipe.done(name)
        if done is None:
            raise FileNotFoundError(f'stage {name} has not finished (no done-marker in '
                                    f'{pipe.stage_dir(name)})')
        checkpoint = done['checkpoint']
    return backbone_spec(probe_backbone_cfg(stage), checkpoint)


def scratch_backbone(cfg, stage_of):
    """The scratch baseline's backbone: ``downstream.scratch.stage``'s architecture, no
    checkpoint.

    Args:
        cfg (Config): The pipeline config.
        stage_of (Callable): Stage name -> its checked entry.

    Returns:
        BackboneSpec | None: The spec, None when the config has no scratch baseline.

    Example:
        >>> scratch_backbone(pipe.cfg, pipe.stage).checkpoint  # doctest: +SKIP
    """
    scratch = (cfg.get('downstream') or {}).get('scratch')
    if not scratch:
        return None
    return backbone_spec(probe_backbone_cfg(stage_of(scratch['stage'])), None)
