"""Runner configs of the GV-B protocols (linear probe and full fine-tuning).

The protocols are config files, ``configs/gvb/_base_/{family}_{mode}.py`` (family
``cls`` / ``det`` / ``seg`` / ``depth``, mode ``probe`` / ``finetune``), each inheriting
``{family}.py`` (model, pipelines, datasets, evaluator, schedule of the stock
OpenMMLab models) and ``default_runtime.py`` (hooks, environment). Their numbers are the
published recipe, :data:`DEFAULT_RECIPES`. :func:`build_runner_cfg` loads the template of
a run and fills in only what the run computes: the task's recipe values, the backbone and
its channels (:mod:`.protocol_models`), the subset lists, layouts and classes
(:mod:`.protocol_data`), the evaluator's files, checkpoint and log intervals, seed and
launcher; then the task's and the run's ``cfg_options`` are merged (unknown keys raise).

In ``probe`` mode the backbone is wrapped in
:class:`~intern_mm.models.backbones.FrozenBackbone` (no gradient, eval-mode BN); in
``finetune`` mode it trains with the rest.

``tools/gvb.py show-config TASK PROTOCOL`` prints a resolved config, and every run
started through :func:`build_protocol_runner` writes the config it runs as
``run_config.py`` into its work dir.

Example:
    >>> cfg = build_runner_cfg(ctx)          # ctx: a ProtocolContext
    >>> runner = build_protocol_runner(cfg)  # writes <work_dir>/run_config.py
"""
import copy
import functools
import itertools
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch

from intern_mm.utils.config import merge_cfg_options
from .backbone import BackboneSpec
from .protocol_data import abs_path, fill_data, split_file
from .protocol_models import fill_model
from .tasks import GVBTask

__all__ = [
    'ProtocolContext', 'DEFAULT_RECIPES', 'build_runner_cfg', 'family_recipe',
    'scale_schedule',
    'dataset_cfgs', 'metric_keys', 'PROTOCOL_MODES', 'runtime_cfg', 'SCOPES',
    'template_path', 'load_template', 'build_protocol_runner', 'write_run_config',
    'RUN_CONFIG_NAME'
]

PROTOCOL_MODES = ('probe', 'finetune')
#: The file every protocol run writes into its work dir: the Runner config it ran.
RUN_CONFIG_NAME = 'run_config.py'
#: Default registry scope of each task family's Runner (the templates' ``default_scope``).
SCOPES = dict(cls='mmpretrain', det='mmdet', seg='mmseg', depth='mmseg')
#: Template variables that are not Runner keys (dropped after loading).
_TEMPLATE_VARIABLES = ('train_pipeline', 'test_pipeline')
#: Runner keys of ``default_runtime.py`` that :func:`runtime_cfg` returns.
_RUNTIME_KEYS = ('env_cfg', 'log_processor', 'log_level', 'randomness', 'launcher',
                 'load_from', 'resume', 'visualizer')

#: The fixed GV-B schedules (``recipe`` keys can be overridden per task or per run); the
#: templates in ``configs/gvb/_base_`` hold the same numbers.
DEFAULT_RECIPES: Dict[str, dict] = dict(
    cls=dict(optimizer='SGD', lr=0.01, momentum=0.9, weight_decay=1e-3, max_iters=10000,
             milestones=[3000, 6000, 9000], gamma=0.1, batch_size=64, img_size=224,
             resize_size=None, test_batch_size=64, backbone_lr_mult=1.0),
    det=dict(optimizer='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4, max_epochs=12,
             milestones=[8, 11], gamma=0.1, batch_size=2, warmup_iters=500,
             warmup_ratio=0.001, img_scale=(1000, 600), train_scales=None, repeat=3,
             grad_clip=None, test_batch_size=1, backbone_lr_mult=1.0),
    seg=dict(optimizer='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4, max_iters=20000,
             power=0.9, eta_min=1e-4, batch_size=2, crop_size=(512, 512),
             img_scale=(2048, 512), head_channels=512, aux_channels=256,
             head_level=3, aux_level=2, test_batch_size=1, backbone_lr_mult=1.0),
    depth=dict(optimizer='AdamW', lr=2e-4, momentum=0.9, weight_decay=1e-2,
               max_iters=20000, power=0.9, eta_min=0.0, batch_size=4,
               crop_size=(352, 704), img_scale=None, head_channels=256,
               test_batch_size=1, backbone_lr_mult=1.0),
)


@dataclass
class ProtocolContext:
    """Everything a protocol config needs.

    Args:
        task (GVBTask): The task.
        data_root (str): Prepared data root.
        layout (dict): Resolved layout (:func:`~intern_mm.benchmark.tasks.resolve_layout`).
        subset_dir (str): Folder with the subset lists (``make_subset`` output).
        backbone (BackboneSpec): The backbone.
        out_channels (list[tuple[int, int | None]]): Backbone outputs of the dense
            variant (channels, stride) -- for det/seg/depth heads; for classification the
            pooled feature dimension is ``out_channels[-1][0]``.
        mode (str): ``'probe'`` or ``'finetune'``.
        recipe (dict): The full recipe (defaults merged with overrides).
        work_dir (str): Runner work dir.
        train_split (str): Subset split to train on (``'subset'``, ``'train'``).
        eval_split (str): ``'test'`` (official test split) or ``'val'`` (carved split).
        seed (int): Seed.
        num_workers (int): Data loader workers.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
        checkpoint_interval (int, optional): Iterations (or epochs) between checkpoints.
        log_interval (int): Logging interval.
        cfg_options (dict, optional): Merged into the final config (unknown keys
            raise, ``+key`` adds one on purpose).
        check_files (bool): Require the subset lists to exist. Defaults to True
            (``tools/gvb.py show-config`` shows a run before its subset is made).
    """
    task: GVBTask
    data_root: str
    layout: dict
    subset_dir: str
    backbone: BackboneSpec
    out_channels: List[Tuple[int, Optional[int]]]
    mode: str = 'probe'
    recipe: dict = field(default_factory=dict)
    work_dir: str = 'work_dirs/gvb'
    train_split: str = 'subset'
    eval_split: str = 'test'
    seed: int = 0
    num_workers: int = 2
    launcher: str = 'none'
    checkpoint_interval: Optional[int] = None
    log_interval: int = 50
    cfg_options: Optional[dict] = None
    check_files: bool = True


def family_recipe(task: GVBTask, overrides: Optional[dict] = None) -> dict:
    """Default recipe of the task's family, updated by the task's and the user's values.

    Args:
        task (GVBTask): The task.
        overrides (dict, optional): User overrides (unknown keys raise).

    Returns:
        dict: The recipe.
    """
    recipe = copy.deepcopy(DEFAULT_RECIPES[task.family])
    for source in (task.recipe, overrides or {}):
        unknown = set(source) - set(recipe)
        if unknown:
            raise KeyError(f'unknown recipe keys {sorted(unknown)} for the {task.family} '
                           f'family; known: {sorted(recipe)}')
        recipe.update(copy.deepcopy(source))
    return recipe


def scale_schedule(recipe: dict, factor: float) -> dict:
    """The recipe trained ``factor`` times as long, its learning-rate steps scaled with
    it: iteration recipes scale ``max_iters`` and ``milestones``; epoch recipes
    (detection) repeat the dataset ``factor`` times as often (``repeat``), which keeps
    the epoch milestones where they are in the schedule.

    Args:
        recipe (dict): A recipe (:func:`family_recipe`).
        factor (float): Schedule multiplier (1: unchanged).

    Returns:
        dict: A new recipe.

    Example:
        >>> scale_schedule(dict(max_iters=150, milestones=[100, 130]), 3)
        {'max_iters': 450, 'milestones': [300, 390]}
        >>> scale_schedule(dict(max_epochs=1, milestones=[1], repeat=10), 3)['repeat']
        30
    """
    if factor <= 0:
        raise ValueError(f'schedule factor must be positive, got {factor}')
    recipe = copy.deepcopy(recipe)
    if factor == 1:
        return recipe
    if 'max_iters' in recipe:
        recipe['max_iters'] = max(1, int(round(recipe['max_iters'] * factor)))
        if recipe.get('milestones'):
            recipe['milestones'] = [int(round(m * factor)) for m in recipe['milestones']]
    else:
        recipe['repeat'] = max(1, int(round(recipe.get('repeat', 1) * factor)))
    return recipe




# ----------------------------------------------------------------------------------------
# templates
# ----------------------------------------------------------------------------------------
def _template_dir() -> str:
    """``configs/gvb/_base_`` of the installation (``intern_mm/.mim``) or the checkout."""
    package = osp.dirname(osp.dirname(osp.abspath(__file__)))
    for root in (osp.join(package, '.mim', 'configs'),
                 osp.join(osp.dirname(package), 'configs')):
        path = osp.join(root, 'gvb', '_base_')
        if osp.isdir(path):
            return path
    raise FileNotFoundError(f'configs/gvb/_base_ (the GV-B protocol templates) is missing '
                            f'next to {package}')


def template_path(family: str, mode: str) -> str:
    """Path of the protocol template of a family and mode.

    Args:
        family (str): ``'cls'``, ``'det'``, ``'seg'`` or ``'depth'``.
        mode (str): ``'probe'`` or ``'finetune'``.

    Returns:
        str: ``.../configs/gvb/_base_/{family}_{mode}.py``.

    Example:
        >>> osp.basename(template_path('det', 'finetune'))
        'det_finetune.py'
    """
    if mode not in PROTOCOL_MODES:
        raise ValueError(f'unknown mode "{mode}", expected one of {PROTOCOL_MODES}')
    if family not in SCOPES:
        raise ValueError(f'unknown family "{family}", expected one of {tuple(SCOPES)}')
    return osp.join(_template_dir(), f'{family}_{mode}.py')


@functools.lru_cache(maxsize=None)
def _load(path: str) -> dict:
    from mmengine.config import Config
    cfg = Config.fromfile(path, import_custom_modules=False,
                          format_python_code=False).to_dict()
    for key in _TEMPLATE_VARIABLES:
        cfg.pop(key, None)
    return cfg


def load_template(family: str, mode: str) -> dict:
    """The protocol template of a family and mode as a dict (a fresh copy).

    Args:
        family (str): ``'cls'``, ``'det'``, ``'seg'`` or ``'depth'``.
        mode (str): ``'probe'`` or ``'finetune'``.

    Returns:
        dict: The template (``None`` where a run fills a value in).
    """
    return copy.deepcopy(_load(template_path(family, mode)))


# ----------------------------------------------------------------------------------------
# evaluators and metric keys
# ----------------------------------------------------------------------------------------
def _fill_evaluator(cfg: dict, ctx: ProtocolContext) -> None:
    task, layout = ctx.task, ctx.layout
    if task.family == 'depth':
        cfg['test_evaluator'][0].update(max_depth_eval=float(layout.get('max_depth', 10.0)),
                                        crop_type=layout.get('crop'))
    if task.family != 'det':
        return
    if task.metric == 'mAP':
        cfg['test_evaluator'][0]['eval_mode'] = layout.get('eval_mode', '11points')
        return
    test_ann = None
    if layout['format'] == 'coco':
        test_ann = (abs_path(osp.abspath(ctx.data_root), layout['test']['ann_file'])
                    if ctx.eval_split == 'test' else split_file(ctx, ctx.eval_split,
                                                                ext='.json'))
    metric = dict(widerface_ap='intern_mm.WiderFaceMetric',
                  mr='intern_mm.CityPersonsMetric').get(task.metric)
    if metric is None:
        raise ValueError(f'task {task.name}: no evaluator for metric {task.metric}')
    cfg['test_evaluator'] = [dict(type=metric, ann_file=test_ann)]


def metric_keys(task: GVBTask) -> Dict[str, str]:
    """Map of result names to the evaluator keys the Runner returns.

    Args:
        task (GVBTask): The task.

    Returns:
        dict: ``name -> evaluator key``; the task's main metric is derived from these.
    """
    if task.family == 'cls':
        return dict(top1='accuracy/top1', mean_per_class='single-label/recall')
    if task.metric == 'mAP':
        return dict(mAP='pascal_voc/mAP')
    if task.metric == 'widerface_ap':
        # approx_lists: 1.0 when Easy/Medium/Hard are the annotation-based approximation
        return dict(easy='widerface/easy', medium='widerface/medium', hard='widerface/hard',
                    approx_lists='widerface/approx_lists')
    if task.metric == 'mr':
        return dict(reasonable='citypersons/reasonable', heavy='citypersons/heavy')
    if task.family == 'seg':
        return dict(mIoU='mIoU')
    return dict(rmse='rmse', abs_rel='abs_rel', sq_rel='sq_rel', log10='log10',
                rmse_log='rmse_log', d1='d1', d2='d2', d3='d3', silog='silog')


# ----------------------------------------------------------------------------------------
# schedule, hooks, runtime
# ----------------------------------------------------------------------------------------
def _scheduler(cfg: dict, kind: str) -> Optional[dict]:
    return next((s for s in cfg['param_scheduler'] if s['type'] == kind), None)


def _fill_schedule(cfg: dict, ctx: ProtocolContext) -> None:
    r = ctx.recipe
    optimizer = dict(type=r['optimizer'], lr=r['lr'], weight_decay=r['weight_decay'])
    if r['optimizer'] == 'SGD':
        optimizer['momentum'] = r['momentum']
    optim_wrapper = cfg['optim_wrapper']
    optim_wrapper['optimizer'] = optimizer
    if ctx.task.family == 'det':
        cfg['train_cfg'].update(max_epochs=r['max_epochs'], val_interval=r['max_epochs'] + 1)
        warmup, steps = _scheduler(cfg, 'LinearLR'), _scheduler(cfg, 'MultiStepLR')
        warmup.update(start_factor=r.get('warmup_ratio', 0.001), end=r['warmup_iters'])
        steps.update(end=r['max_epochs'], milestones=list(r['milestones']), gamma=r['gamma'])
        cfg['param_scheduler'] = ([warmup] if r.get('warmup_iters') else []) + [steps]
    else:
        cfg['train_cfg'].update(max_iters=r['max_iters'], val_interval=r['max_iters'] + 1)
        if ctx.task.family == 'cls':
            _scheduler(cfg, 'MultiStepLR').update(milestones=list(r['milestones']),
                                                  gamma=r['gamma'])
        else:
            _scheduler(cfg, 'PolyLR').update(eta_min=r['eta_min'], power=r['power'],
                                             end=r['max_iters'])
    lr_mult = r.get('backbone_lr_mult', 1.0)
    if ctx.mode == 'finetune' and ctx.backbone.checkpoint and lr_mult != 1:
        # a pre-trained backbone moves slower than the new head; random init trains at
        # the full rate
        optim_wrapper['paramwise_cfg'] = dict(
            custom_keys={'backbone': dict(lr_mult=float(lr_mult))})
    if r.get('grad_clip'):
        optim_wrapper['clip_grad'] = dict(max_norm=float(r['grad_clip']), norm_type=2)


def _fill_runtime(cfg: dict, ctx: ProtocolContext, find_unused_parameters: bool) -> dict:
    """Seed, launcher, distributed backend and (distributed) DDP wrapper."""
    cfg['env_cfg']['dist_cfg']['backend'] = 'nccl' if torch.cuda.is_available() else 'gloo'
    cfg['randomness']['seed'] = ctx.seed
    cfg['launcher'] = ctx.launcher
    if ctx.launcher != 'none':
        cfg['model_wrapper_cfg'] = dict(type='MMDistributedDataParallel',
                                        find_unused_parameters=find_unused_parameters)
    return cfg


def runtime_cfg(ctx: ProtocolContext, by_epoch: bool,
                find_unused_parameters: bool = False) -> dict:
    """The runtime part of a GV-B Runner config (``configs/gvb/_base_/default_runtime.py``:
    environment, logging, seed, launcher, auto-resume, visualiser and, when distributed,
    the DDP wrapper).

    Args:
        ctx (ProtocolContext): The context (``seed``, ``launcher``).
        by_epoch (bool): Whether the log processor counts epochs.
        find_unused_parameters (bool): DDP's option. Defaults to False.

    Returns:
        dict: Top-level Runner config keys.
    """
    template = copy.deepcopy(_load(osp.join(_template_dir(), 'default_runtime.py')))
    cfg = {key: template[key] for key in _RUNTIME_KEYS}
    cfg['log_processor'] = dict(by_epoch=by_epoch)
    return _fill_runtime(cfg, ctx, find_unused_parameters)


def _fill_hooks(cfg: dict, ctx: ProtocolContext) -> None:
    """Checkpoints every epoch (detection) or every tenth of the iterations, unless the
    context sets the interval; the context's logging interval."""
    hooks = cfg['default_hooks']
    by_epoch = hooks['checkpoint']['by_epoch']
    hooks['checkpoint']['interval'] = ctx.checkpoint_interval or (
        1 if by_epoch else max(1, ctx.recipe['max_iters'] // 10))
    hooks['logger']['interval'] = ctx.log_interval


# ----------------------------------------------------------------------------------------
# the runner config
# ----------------------------------------------------------------------------------------
def dataset_cfgs(ctx: ProtocolContext) -> Tuple[dict, dict]:
    """Training and evaluation dataset configs of a context (without ``cfg_options``).

    Args:
        ctx (ProtocolContext): The context.

    Returns:
        tuple[dict, dict]: ``(train_dataset, eval_dataset)``.
    """
    return fill_data(load_template(ctx.task.family, ctx.mode), ctx)


def build_runner_cfg(ctx: ProtocolContext) -> dict:
    """Complete mmengine Runner config (train on ``train_split``, test on ``eval_split``):
    the protocol template filled in for the run, then the task's and the run's
    ``cfg_options`` merged (unknown keys raise).

    Args:
        ctx (ProtocolContext): The context.

    Returns:
        dict: The config (:func:`build_protocol_runner` builds its Runner).
    """
    cfg = load_template(ctx.task.family, ctx.mode)
    cfg['work_dir'] = ctx.work_dir
    fill_model(cfg['model'], ctx)
    fill_data(cfg, ctx)
    _fill_evaluator(cfg, ctx)
    _fill_schedule(cfg, ctx)
    _fill_hooks(cfg, ctx)
    _fill_runtime(cfg, ctx, find_unused_parameters=ctx.mode == 'probe')
    return _merge_cfg_options(cfg, ctx)


def _merge_cfg_options(cfg: dict, ctx: ProtocolContext) -> dict:
    """``cfg`` with the task's, then the run's ``cfg_options`` merged in (checked)."""
    for options in (ctx.task.cfg_options, ctx.cfg_options):  # the task's, then the run's
        if options:
            from mmengine.config import Config
            merged = Config(cfg)
            merge_cfg_options(merged, copy.deepcopy(options))
            cfg = merged.to_dict()
    return cfg


def write_run_config(cfg: dict) -> str:
    """Write a Runner config as ``<work_dir>/run_config.py`` (main process only).

    Args:
        cfg (dict | Config): The config (with ``work_dir``).

    Returns:
        str: The file's path.

    Example:
        >>> path = write_run_config(build_runner_cfg(ctx))  # doctest: +SKIP
        >>> Config.fromfile(path).to_dict() == build_runner_cfg(ctx)  # doctest: +SKIP
        True
    """
    from mmengine.config import Config
    from mmengine.dist import is_main_process
    cfg = cfg if isinstance(cfg, Config) else Config(copy.deepcopy(cfg))
    path = osp.join(cfg['work_dir'], RUN_CONFIG_NAME)
    if is_main_process():
        os.makedirs(cfg['work_dir'], exist_ok=True)
        cfg.dump(path)
    return path


#: Runners built in this process (:func:`build_protocol_runner` names each one apart).
_RUNNER_COUNT = itertools.count()


def build_protocol_runner(cfg: dict):
    """The mmengine Runner of a protocol config, after writing the config it runs as
    ``<work_dir>/run_config.py`` (GV-B suite runs, the paradigm's downstream runs, OTA).

    Without an ``experiment_name`` the Runner gets one of its own: mmengine names its
    logger, message hub and visualizer after the experiment, by default the second the
    Runner was built, so two tiny runs started within one second (a grid's points one
    after another) would share them, and one would write its ``vis_data`` into the
    other's log folder.

    Args:
        cfg (dict): A Runner config (:func:`build_runner_cfg`, OTA's distillation).

    Returns:
        mmengine.runner.Runner: The Runner.
    """
    from mmengine.config import Config
    from mmengine.runner import Runner
    config = Config(cfg)
    write_run_config(config)
    if not config.get('experiment_name'):  # mmengine appends the timestamp
        config = Config(dict(config.to_dict(), experiment_name=(
            f'{osp.basename(config.work_dir)}_{os.getpid()}_{next(_RUNNER_COUNT)}')))
    return Runner.from_cfg(config)
