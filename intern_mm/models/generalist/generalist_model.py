"""Up-G: one backbone, the stock mmpretrain / mmdet / mmseg heads, all losses summed."""
import copy
import functools
from collections import OrderedDict
from typing import Dict, List, Optional, Union

import torch
from mmengine.config import ConfigDict
from mmengine.model import BaseModel
from torch import nn

from intern_mm.registry import MODELS
from intern_mm.models.backbones.task_norm import TaskBatchNorm2d
from .multi_task_data_preprocessor import MultiTaskDataPreprocessor

__all__ = ['GeneralistModel']

#: Registry scope of the stock task models, from their type prefix.
_SCOPES = ('mmpretrain', 'mmdet', 'mmseg', 'intern_mm')


def _scale(value, weight: float):
    if isinstance(value, torch.Tensor):
        return value * weight
    if isinstance(value, (list, tuple)):
        return type(value)(v * weight for v in value)
    raise TypeError(f'cannot weight a loss of type {type(value).__name__}')


@MODELS.register_module()
class GeneralistModel(BaseModel):
    """The Up-G generalist: a shared (Central) backbone routed to per-task stock models.

    Each entry of ``tasks`` is a stock OpenMMLab model config *without* its backbone,
    with a scoped type (under ``default_scope='intern_mm'`` its children need scoped
    types too, or put ``_scope_='mmdet'`` in the task dict)
    (``mmpretrain.ImageClassifier``, ``mmdet.FasterRCNN``, ``mmseg.EncoderDecoder``,
    or any model whose ``loss`` / ``predict`` call ``extract_feat``) plus
    ``feature_indices``: which outputs of the shared backbone its neck / head consumes.
    The task model is built with a parameter-free
    :class:`~intern_mm.models.generalist.FeatureSelector` as backbone and receives the
    shared backbone's features in place of the images, so its heads, data samples,
    losses and post-processing are exactly the stock ones.

    Training takes ``{task: batch}`` (see
    :class:`~intern_mm.engine.runner.MultiTaskIterBasedTrainLoop`): every task's batch
    runs through its own data preprocessor, the shared backbone (with the task's BN set
    when the backbone has task-specific BN, see ``task_bn``) and its task model; the
    losses are weighted by ``task_loss_weights`` and returned together with the task as
    prefix (``cls.loss``, ``det.loss_rpn_cls``, ``seg.decode.loss_ce``), so
    :meth:`parse_losses` sums them into one backward pass: every trainable parameter gets
    a gradient in every step (DDP-friendly). Prediction takes one task at a time
    (``{task: batch}``, as :class:`~intern_mm.engine.runner.MultiTaskValLoop` feeds it)
    and returns the task model's stock data samples, evaluated by the task's metric.

    A task model whose inputs are not one image tensor (``intern_mm.DeCLIP``: image and
    text views, e.g. to keep Up-A's image-text objective in Up-G) takes ``feed='images'``:
    it gets its own preprocessed inputs and its backbone is a
    :class:`~intern_mm.models.generalist.SharedBackboneView` of the shared backbone.

    The shared backbone is at attribute ``backbone`` (checkpoint keys ``backbone.*``),
    the task models at ``tasks.<task>``. See :mod:`intern_mm.models.generalist.export`
    for the ``cls-bn`` / ``det-bn`` / plain-backbone exports.

    Args:
        backbone (dict): Shared backbone config, usually ``CentralModel`` with
            ``out_indices=(0, 1, 2, 3, 4)``.
        tasks (dict[str, dict]): ``{task: task model config}``; each has a scoped
            ``type``, ``feature_indices`` and optionally ``feed`` (``'features'``,
            the default, or ``'images'``).
        task_bn (dict[str, str], optional): ``{task: BN set}`` for a backbone with
            task-specific BN (``bn_tasks``); the default maps a task to the BN set of the
            same name, else to the first set (the release uses ``det`` BN for seg).
        task_loss_weights (dict[str, float], optional): Loss weight per task (default 1);
            a :class:`~intern_mm.engine.hooks.LossWeightScheduleHook` may change them.
        data_preprocessor (dict | nn.Module, optional): Defaults to a
            :class:`MultiTaskDataPreprocessor` over the task models' own preprocessors.
        touch_all_params (bool): Add ``zero.loss = 0 * sum(trainable params)`` so that
            parameters no task uses in a step (e.g. the det BN set of the main stream's
            1280-d head, which only the cls task reads, on cls BN) still get a (zero)
            gradient: DDP then needs no ``find_unused_parameters``. Such parameters
            see weight decay like the others. Defaults to True.
        init_cfg (dict, optional): Initialisation config.

    Example:
        >>> model = GeneralistModel(
        ...     backbone=dict(type='CentralModel', main=dict(type='MetaNet', arch='tiny'),
        ...                   out_indices=(0, 1, 2, 3, 4), bn_tasks=('cls', 'det')),
        ...     tasks=dict(cls=dict(
        ...         type='mmpretrain.ImageClassifier', feature_indices=(4, ),
        ...         head=dict(type='LinearClsHead', num_classes=8, in_channels=1280))))
        >>> sorted(model.tasks)
        ['cls']
    """

    def __init__(self,
                 backbone: dict,
                 tasks: Dict[str, dict],
                 task_bn: Optional[Dict[str, str]] = None,
                 task_loss_weights: Optional[Dict[str, float]] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 touch_all_params: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.touch_all_params = touch_all_params
        if not tasks:
            raise ValueError('GeneralistModel needs at least one task')
        self.backbone = MODELS.build(backbone)
        self.tasks = nn.ModuleDict()
        self.feature_indices: Dict[str, tuple] = {}
        self.image_fed: List[str] = []
        for task, cfg in tasks.items():
            self.tasks[task] = self._build_task(task, cfg)
        for task in self.image_fed:
            self.tasks[task].backbone.bind(functools.partial(self.extract_feat, task=task))

        bn_sets = getattr(self.backbone, 'bn_tasks', None)
        self.task_bn: Dict[str, Optional[str]] = {}
        if bn_sets:
            task_bn = dict(task_bn or {})
            unknown = sorted(set(task_bn) - set(tasks))
            if unknown:
                raise KeyError(f'task_bn names unknown tasks {unknown} (tasks: {list(tasks)})')
            for task in tasks:
                bn = task_bn.get(task, task if task in bn_sets else bn_sets[0])
                if bn not in bn_sets:
                    raise KeyError(f'task_bn[{task!r}] = {bn!r} is not one of the backbone\'s '
                                   f'bn_tasks {tuple(bn_sets)}')
                self.task_bn[task] = bn
        elif task_bn:
            raise ValueError('task_bn is given but the backbone has no task-specific BN '
                             '(set bn_tasks on the CentralModel)')

        weights = dict(task_loss_weights or {})
        unknown = sorted(set(weights) - set(tasks))
        if unknown:
            raise KeyError(f'task_loss_weights names unknown tasks {unknown} '
                           f'(tasks: {list(tasks)})')
        self.task_loss_weights: Dict[str, float] = {
            t: float(weights.get(t, 1.0)) for t in tasks}

        if data_preprocessor is None:
            data_preprocessor = MultiTaskDataPreprocessor(
                {t: m.data_preprocessor for t, m in self.tasks.items()})
        elif isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        self.data_preprocessor = data_preprocessor

    def _build_task(self, task: str, cfg: dict) -> nn.Module:
        cfg = ConfigDict(copy.deepcopy(dict(cfg)))  # mmdet reads train_cfg.rpn etc.
        if 'backbone' in cfg:
            raise KeyError(f'task {task!r}: remove "backbone" from the task model config; '
                           'the generalist\'s shared backbone feeds every task')
        if 'feature_indices' not in cfg:
            raise KeyError(f'task {task!r}: "feature_indices" (which shared-backbone outputs '
                           'the task head consumes) is required')
        indices = cfg.pop('feature_indices')
        indices = (indices, ) if isinstance(indices, int) else tuple(indices)
        self.feature_indices[task] = indices
        feed = cfg.pop('feed', 'features')
        if feed not in ('features', 'images'):
            raise ValueError(f'task {task!r}: feed must be "features" or "images", got '
                             f'{feed!r}')
        type_name = str(cfg.get('type', ''))
        scope = type_name.split('.', 1)[0] if '.' in type_name else cfg.get('_scope_')
        if scope not in _SCOPES:
            raise ValueError(f'task {task!r}: the model type must carry its scope, e.g. '
                             f'"mmdet.FasterRCNN" (or set _scope_), got {type_name!r}')
        if feed == 'images':
            self.image_fed.append(task)
            cfg['backbone'] = dict(type='intern_mm.SharedBackboneView', indices=indices)
        else:
            cfg['backbone'] = dict(type='intern_mm.FeatureSelector', indices=indices)
        return MODELS.build(cfg)

    # ------------------------------------------------------------------ features
    def _select_bn(self, task: str) -> None:
        bn = self.task_bn.get(task)
        if bn is not None:
            self.backbone.task = bn

    def extract_feat(self, inputs: torch.Tensor, task: str) -> tuple:
        """Shared-backbone features of ``inputs`` with ``task``'s BN set."""
        if task not in self.tasks:
            raise KeyError(f'unknown task {task!r} (tasks: {list(self.tasks)})')
        self._select_bn(task)
        feats = self.backbone(inputs)
        return tuple(feats) if isinstance(feats, (list, tuple)) else (feats, )

    # ------------------------------------------------------------------- forward
    def forward(self,
                inputs: Dict[str, torch.Tensor],
                data_samples: Optional[Dict[str, list]] = None,
                mode: str = 'tensor'):
        """Multi-task forward.

        Args:
            inputs (dict[str, Tensor]): ``{task: images}``.
            data_samples (dict[str, list], optional): ``{task: data samples}``.
            mode (str): ``'loss'`` (every task, weighted, task-prefixed loss dict),
                ``'predict'`` (exactly one task; its stock data samples) or ``'tensor'``
                (``{task: shared-backbone features}``; a ``feed='images'`` task: its
                model's tensor output).

        Returns:
            dict | list: See ``mode``.
        """
        if not isinstance(inputs, dict):
            raise TypeError('GeneralistModel expects inputs as {task: tensor}; feed it '
                            'through MultiTaskDataPreprocessor / the multi-task loops')
        data_samples = data_samples or {}
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            if len(inputs) != 1:
                raise ValueError('predict takes one task per batch, got '
                                 f'{sorted(inputs)}')
            task, x = next(iter(inputs.items()))
            return self.predict(task, x, data_samples.get(task))
        if mode == 'tensor':
            return {t: self.tasks[t](x, mode='tensor') if t in self.image_fed
                    else self.extract_feat(x, t) for t, x in inputs.items()}
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, predict and tensor')

    def loss(self, inputs: Dict[str, torch.Tensor],
             data_samples: Dict[str, list]) -> Dict[str, torch.Tensor]:
        """Weighted losses of every task in the batch, keys prefixed with the task."""
        losses: Dict[str, object] = OrderedDict()
        for task, x in inputs.items():
            if task in self.image_fed:  # the task model calls the shared backbone itself
                task_losses = self.tasks[task].loss(x, data_samples.get(task))
            else:
                task_losses = self.tasks[task].loss(self.extract_feat(x, task),
                                                    data_samples.get(task))
            weight = self.task_loss_weights[task]
            for key, value in task_losses.items():
                losses[f'{task}.{key}'] = _scale(value, weight) if 'loss' in key else value
        if self.touch_all_params:
            params = [p for p in self.parameters() if p.requires_grad]
            if params:
                losses['zero.loss'] = sum(p.sum() for p in params) * 0.
        return losses

    def predict(self, task: str, inputs: torch.Tensor, data_samples: Optional[list] = None):
        """Predictions of one task (the task model's stock data samples)."""
        if task in self.image_fed:
            return self.tasks[task].predict(inputs, data_samples)
        return self.tasks[task].predict(self.extract_feat(inputs, task), data_samples)

    @property
    def task_names(self) -> List[str]:
        """Task names."""
        return list(self.tasks)

    def has_task_bn(self) -> bool:
        """Whether the shared backbone holds task-specific BN sets."""
        return any(isinstance(m, TaskBatchNorm2d) for m in self.backbone.modules())
