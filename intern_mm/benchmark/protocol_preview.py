"""The Runner config a GV-B run would train with, without running it.

:func:`preview_runner_cfg` resolves a task's final-run config the way
:func:`~intern_mm.benchmark.suite.run_task` does (data root and layout, subset folder,
recipe with the run's overrides, the backbone's outputs, ``cfg_options``), but creates
nothing: before a subset exists its lists are named where the run will write them, and a
task whose data are missing shows the layout it declares. ``tools/gvb.py show-config``
prints it; ``tools/gvb.py run --cfg-options`` checks its keys with it before any task
starts.

Example:
    >>> from intern_mm.benchmark.suite import SuiteConfig
    >>> cfg = SuiteConfig(backbone='configs/gvb/backbones/resnet18_tiny.py')
    >>> preview_runner_cfg(cfg, 'cifar10')['model']['head']['num_classes']  # doctest: +SKIP
    10
"""
import copy
import os.path as osp
from typing import Optional, Union

from .backbone import BackboneSpec, parse_backbone_spec
from .protocols import ProtocolContext, build_runner_cfg, family_recipe
from .suite import (SuiteConfig, backbone_out_channels, run_folder_name, subset_folder,
                    task_context)
from .tasks import GVBTask, get_task, resolve_layout

__all__ = ['preview_runner_cfg', 'preview_context']


def preview_context(cfg: SuiteConfig, task: Union[str, GVBTask],
                    spec: Optional[BackboneSpec] = None) -> ProtocolContext:
    """The context of a task's final run (``<run>/<task>/final``) under ``cfg``.

    Args:
        cfg (SuiteConfig): The run options (``tools/gvb.py run``'s).
        task (str | GVBTask): The task.
        spec (BackboneSpec, optional): The parsed ``cfg.backbone`` (parsed when None).

    Returns:
        ProtocolContext: The context (``check_files=False``: subset lists need not exist).
    """
    task = get_task(task) if isinstance(task, str) else task
    if spec is None:
        spec = parse_backbone_spec(cfg.backbone, checkpoint=cfg.checkpoint,
                                   backbone_cfg=cfg.backbone_cfg)
    root = cfg.data_roots.get(task.name) or task.default_root(cfg.data_base)
    layout, _ = resolve_layout(task, root)
    if layout is None:  # data not prepared yet: the layout the task declares
        layout = copy.deepcopy(task.layout)
    recipe = family_recipe(task, cfg.recipe.get(task.family))
    return task_context(
        cfg, task, spec, root, layout, osp.abspath(subset_folder(cfg, task)), recipe,
        backbone_out_channels(spec, task.family),
        work_dir=osp.join(cfg.work_dir, run_folder_name(cfg, spec), task.name, 'final'),
        check_files=False)


def preview_runner_cfg(cfg: SuiteConfig, task: Union[str, GVBTask],
                       spec: Optional[BackboneSpec] = None) -> dict:
    """The Runner config of a task's final run under ``cfg`` (nothing is created).

    Without ``--search`` this is the config the run trains with; with it, the search
    replaces ``lr`` / ``weight_decay`` / ``momentum`` by the best trial's.

    Args:
        cfg (SuiteConfig): The run options.
        task (str | GVBTask): The task.
        spec (BackboneSpec, optional): The parsed ``cfg.backbone``.

    Returns:
        dict: The config.

    Raises:
        UnknownConfigKeyError: If ``cfg.cfg_options`` names a key the config lacks.
    """
    return build_runner_cfg(preview_context(cfg, task, spec))
