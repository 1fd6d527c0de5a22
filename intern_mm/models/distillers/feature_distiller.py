"""Feature distillation from a frozen teacher backbone into a student backbone."""
import copy
import logging
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement

from intern_mm.registry import MODELS
from ..backbones.frozen_backbone import FrozenBackbone
from ..utils import describe_backbone_outputs, load_backbone_weights
from .feature_connector import FeatureConnector

__all__ = ['FeatureDistiller']

_IMAGENET_PREPROCESSOR = dict(
    type='mmpretrain.ClsDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)


def _as_tuple(feats) -> tuple:
    return (feats, ) if isinstance(feats, torch.Tensor) else tuple(feats)


@MODELS.register_module()
class FeatureDistiller(BaseModel):
    """Distil a frozen teacher backbone's multi-level features into a student backbone.

    * The **teacher** is wrapped in :class:`~intern_mm.models.backbones.FrozenBackbone`
      (``requires_grad=False``, always in eval mode, forward under ``no_grad``) and its
      weights are loaded, strictly, from ``teacher_checkpoint`` (a full-model checkpoint
      with ``backbone.*`` keys or a backbone-only one) when the distiller is built. The
      distiller's :meth:`init_weights` never touches it.
    * The **student** is any backbone config; it trains.
    * Output ``i`` of the student is paired with output ``i`` of the teacher (both must
      return the same number of outputs); one :class:`FeatureConnector` per level maps
      the student's channels onto the teacher's (1x1 conv + BN, bilinear resize when the
      strides differ). The channels are found by a dummy forward of both backbones
      unless given.
    * The loss of level ``i`` is ``level_weights[i] * loss(connector_i(s_i), t_i)``
      (:class:`FeatureDistillLoss`), reported as ``loss_feat_<i>``.
    * ``batch_augments`` (mmpretrain's ``RandomBatchAugment`` config, e.g. Mixup /
      CutMix) mixes the training images; teacher and student see the same mixed
      images, so no labels are needed.

    Checkpoints hold ``student.*``, ``connectors.*`` and ``teacher.module.*``; the
    student loads from them with ``init_cfg=dict(type='Pretrained', checkpoint=...,
    prefix='student.')`` or, after :func:`export_student`, with ``prefix='backbone.'``.

    Args:
        student (dict): Student backbone config (e.g. ``dict(type='MetaNet',
            arch=..., out_indices=(0, 1, 2, 3))``).
        teacher (dict): Teacher backbone config with the same number of outputs.
        teacher_checkpoint (str, optional): Teacher weights. Defaults to None (the
            teacher's own ``init_cfg`` or random init; only useful in tests).
        loss (dict): Feature loss config. Defaults to
            ``dict(type='FeatureDistillLoss', mode='norm_mse')``.
        level_weights (Sequence[float], optional): Weight of each level. Defaults to 1.0
            for every level.
        student_channels (Sequence[int], optional): Student output channels (skips the
            dummy forward). Defaults to None.
        teacher_channels (Sequence[int], optional): Teacher output channels. Defaults to
            None.
        probe_size (int): Side of the dummy input used to find the channels. Defaults
            to 64.
        batch_augments (dict, optional): ``RandomBatchAugment`` config applied to the
            training images. Defaults to None.
        data_preprocessor (dict, optional): Defaults to mmpretrain's
            ``ClsDataPreprocessor`` with ImageNet mean / std and BGR -> RGB.
        init_cfg (dict, optional): Initialisation config. Defaults to None.

    Example:
        >>> distiller = FeatureDistiller(
        ...     student=dict(type='mmpretrain.ResNet', depth=18, base_channels=8,
        ...                  stem_channels=8, out_indices=(2, 3)),
        ...     teacher=dict(type='MetaNet', arch='tiny', out_indices=(2, 3)))
        >>> losses = distiller(torch.rand(2, 3, 64, 64), mode='loss')
        >>> sorted(losses)
        ['loss_feat_0', 'loss_feat_1']
    """

    def __init__(self,
                 student: dict,
                 teacher: dict,
                 teacher_checkpoint: Optional[str] = None,
                 loss: dict = dict(type='FeatureDistillLoss', mode='norm_mse'),
                 level_weights: Optional[Sequence[float]] = None,
                 student_channels: Optional[Sequence[int]] = None,
                 teacher_channels: Optional[Sequence[int]] = None,
                 probe_size: int = 64,
                 batch_augments: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=copy.deepcopy(data_preprocessor or _IMAGENET_PREPROCESSOR),
            init_cfg=init_cfg)
        self.student = MODELS.build(copy.deepcopy(student))
        self.teacher = FrozenBackbone(copy.deepcopy(teacher))
        # mmengine logs every initialised parameter at INFO level: keep warnings only
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(max(level, logging.WARNING))
        try:
            self.teacher.init_weights()
        finally:
            logger.setLevel(level)
        self.teacher_checkpoint = teacher_checkpoint
        if teacher_checkpoint:
            load_backbone_weights(self.teacher.module, teacher_checkpoint)
        self.teacher.freeze()
        if student_channels is None:
            student_channels = [c for c, _ in describe_backbone_outputs(self.student,
                                                                     probe_size)]
        if teacher_channels is None:
            teacher_channels = [c for c, _ in describe_backbone_outputs(self.teacher.module,
                                                                     probe_size)]
        if len(student_channels) != len(teacher_channels):
            raise ValueError(f'the student returns {len(student_channels)} outputs and the '
                             f'teacher {len(teacher_channels)}: set their out_indices so '
                             'that output i of both is the level to imitate')
        num_levels = len(teacher_channels)
        if level_weights is None:
            level_weights = [1.0] * num_levels
        if len(level_weights) != num_levels:
            raise ValueError(f'level_weights has {len(level_weights)} entries for '
                             f'{num_levels} distilled levels')
        self.level_weights = [float(w) for w in level_weights]
        self.connectors = nn.ModuleList(
            FeatureConnector(s, t) for s, t in zip(student_channels, teacher_channels))
        self.distill_loss = MODELS.build(copy.deepcopy(loss))
        self.batch_augments = None
        if batch_augments is not None:
            from mmpretrain.models.utils import RandomBatchAugment
            self.batch_augments = RandomBatchAugment(**copy.deepcopy(batch_augments))

    @property
    def num_levels(self) -> int:
        """Number of distilled levels."""
        return len(self.connectors)

    def init_weights(self) -> None:
        """Initialise the student and the connectors; the teacher keeps its weights."""
        for module in (self.student, *self.connectors):
            if hasattr(module, 'init_weights'):
                module.init_weights()
        self._is_init = True

    def teacher_features(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """The frozen teacher's outputs (no autograd graph)."""
        return _as_tuple(self.teacher(inputs))

    def student_features(self, inputs: torch.Tensor) -> List[torch.Tensor]:
        """The student's outputs mapped by the connectors (before resizing)."""
        feats = _as_tuple(self.student(inputs))
        return [conn(f) for conn, f in zip(self.connectors, feats)]

    def _pairs(self, inputs: torch.Tensor):
        t_feats = self.teacher_features(inputs)
        s_feats = _as_tuple(self.student(inputs))
        if len(s_feats) != self.num_levels or len(t_feats) != self.num_levels:
            raise RuntimeError(f'expected {self.num_levels} outputs from student and '
                               f'teacher, got {len(s_feats)} and {len(t_feats)}')
        for conn, s, t in zip(self.connectors, s_feats, t_feats):
            size = t.shape[-2:] if t.dim() == 4 else None
            yield conn(s, size), t

    def loss(self, inputs: torch.Tensor,
             data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        """Weighted feature losses, one per level (``loss_feat_<i>``)."""
        if self.training and self.batch_augments is not None:
            inputs, _ = self.batch_augments(inputs, inputs.new_ones(inputs.size(0), 1))
        return {
            f'loss_feat_{i}': w * self.distill_loss(s, t)
            for i, ((s, t), w) in enumerate(zip(self._pairs(inputs), self.level_weights))
        }

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[list] = None) -> List[BaseDataElement]:
        """Per image and level: cosine similarity of the connected student and teacher.

        Returns:
            list[BaseDataElement]: One element per image with ``feat_cosine`` (a
            ``(num_levels, )`` tensor: mean over positions of the channel-vector cosine
            similarity).
        """
        sims = []
        for s, t in self._pairs(inputs):
            sim = nn.functional.cosine_similarity(s, t, dim=1, eps=1e-6)
            sims.append(sim.flatten(1).mean(1) if sim.dim() > 1 else sim)
        sims = torch.stack(sims, dim=1)
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(inputs.size(0))]
        for sample, sim in zip(data_samples, sims):
            sample.set_field(sim.cpu(), 'feat_cosine')
        return data_samples

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor') -> Union[Dict[str, torch.Tensor], list, tuple]:
        """``'loss'``: feature losses; ``'predict'``: per-image similarities;
        ``'tensor'``: the student's raw outputs."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return _as_tuple(self.student(inputs))
        raise RuntimeError(f'invalid mode "{mode}": expected loss, predict or tensor')
