"""CentralModel: INTERN's Up-G generalist backbone (main expert + detached auxiliary expert)."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.runner.checkpoint import _load_checkpoint
from torch.nn.modules.batchnorm import _BatchNorm

from intern_mm.registry import MODELS
from intern_mm.utils import register_in_openmmlab
from .metanet import OUT_STAGES, strip_backbone_prefix
from .reparam import fuse_conv_bn
from .task_norm import TaskBatchNorm2d, convert_to_task_bn, set_bn_task
from .transfer_layer import TransferLayer

__all__ = ['CentralModel', 'expert_level_info', 'expert_forward_level', 'expert_forward_head']

#: Main-stream levels (strides 4, 8, 16) that receive transfer-layer outputs.
TRANS_LEVELS = (0, 1, 2)


def _is_resnet(backbone: nn.Module) -> bool:
    return hasattr(backbone, 'res_layers') and hasattr(backbone, 'maxpool')


def expert_level_info(backbone: nn.Module) -> Tuple[List[int], List[int]]:
    """Channels and strides of the four pyramid levels of an expert backbone.

    Supports :class:`MetaNet` (``level_channels`` / ``level_strides``) and
    mmpretrain / mmdet ``ResNet``-style backbones (``res_layers``).

    Args:
        backbone (nn.Module): The expert.

    Returns:
        tuple[list[int], list[int]]: Channels and strides of levels 0..3.
    """
    if hasattr(backbone, 'forward_level'):
        return list(backbone.level_channels), list(backbone.level_strides)
    if _is_resnet(backbone):
        channels, strides, stride = [], [], 4
        for i, name in enumerate(backbone.res_layers):
            layer = getattr(backbone, name)
            channels.append(layer[-1].out_channels)
            stride *= backbone.strides[i]
            strides.append(stride)
        return channels, strides
    raise TypeError(f'{type(backbone).__name__} is not a supported CentralModel expert: '
                    'use MetaNet or a ResNet (mmpretrain / mmdet)')


def expert_forward_level(backbone: nn.Module, x: torch.Tensor, level: int) -> torch.Tensor:
    """Run the part of an expert that produces ``level`` (0 starts from the image)."""
    if hasattr(backbone, 'forward_level'):
        return backbone.forward_level(x, level)
    if level == 0:
        if backbone.deep_stem:
            x = backbone.stem(x)
        else:
            x = backbone.relu(backbone.norm1(backbone.conv1(x)))
        x = backbone.maxpool(x)
    return getattr(backbone, backbone.res_layers[level])(x)


def expert_forward_head(backbone: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Pooled classification feature from the last level (MetaNet: 1280-d head + GAP;
    ResNet: global average pooling)."""
    if hasattr(backbone, 'forward_head'):
        return backbone.forward_head(x)
    return F.adaptive_avg_pool2d(x, 1).flatten(1)


def _expert_head_channels(backbone: nn.Module, channels: List[int]) -> int:
    return 1280 if hasattr(backbone, 'forward_head') else channels[-1]


def _level_stage(backbone: nn.Module, level: int) -> int:
    """Index (frozen_stages convention, 1-based) of the stage that ends ``level``."""
    if hasattr(backbone, 'forward_level'):
        return OUT_STAGES[level] + 1
    return level + 1


@MODELS.register_module()
class CentralModel(BaseModule):
    """Up-G generalist backbone of INTERN (the released ``Central_Model``).

    Two expert backbones: the **main** stream (``gv_global`` in the release, the
    classification expert) and the **auxiliary** stream (``gv_patch``, the detection
    expert). The auxiliary stream runs up to its stride-16 level; its features are
    detached (it is computed without autograd). After each of the main stream's
    stride-4/8/16 levels ``k`` the sum of :class:`TransferLayer` outputs of the
    auxiliary levels ``j <= k`` is added, and the sum feeds the next main stage. The
    transfer layers start at zero output (BN gamma = beta = 0), so an untrained
    generalist equals its main expert.

    Outputs follow the experts' convention (``out_indices`` 0..3 = strides 4/8/16/32,
    4 = pooled classification feature: 1280-d for MetaNet, last-stage channels for
    ResNet); the release's detection variant returns ``(0, 1, 2, 3)``, the
    classification variant ``(4, )``.

    Task-specific BN: the release ships ``cls-bn`` and ``det-bn`` variants of one set
    of weights. With ``bn_tasks=('cls', 'det')`` every BN holds one parameter set per
    task and :attr:`task` selects the one in use (checkpoints with plain BNs load into
    every task's set). ``tools/model_converters/gvb2intern.py SRC DST --det-bn DET``
    merges both released files into one checkpoint.

    State-dict layout: ``main.*`` and ``aux.*`` (the experts' own keys) and
    ``trans.layer<k>.convs.layer<j>.*`` (transfer layer into main level ``k`` from
    auxiliary level ``j``; 1-based). The converter maps the original
    ``model.backbone.gv_global.*`` / ``model.backbone.gv_patch.*`` /
    ``model.trans.gv_global.gv_patch.*`` onto these.

    The release also builds transfer layers in the reverse direction (from the main
    stream into the auxiliary one, ``model.trans.gv_patch.gv_global.*``) that its
    forward never calls. ``reverse_transfer=True`` keeps them as ``reverse_trans.*``,
    frozen (``requires_grad=False``, eval mode) and unused, exactly as in the release,
    so released checkpoints load with zero missing / unexpected keys (central MN-B4:
    61,853,248 parameters). They are frozen so that DDP needs no
    ``find_unused_parameters``. Keys with a leading
    ``backbone.`` (the converter's output) load with or without a ``prefix`` in the
    ``Pretrained`` init_cfg.

    Args:
        main (dict): Config of the main expert, e.g. ``dict(type='MetaNet',
            arch='mn-b4')`` or ``dict(type='mmpretrain.ResNet', depth=50)``. Its
            ``out_indices``, ``frozen_stages`` and ``norm_eval`` are set from this
            module's arguments. It may carry its own ``init_cfg`` (e.g. a Pretrained
            expert checkpoint).
        aux (dict, optional): Config of the auxiliary expert. Defaults to a copy of
            ``main``.
        out_indices (Sequence[int]): Outputs, see above. Defaults to ``(0, 1, 2, 3)``.
        frozen_stages (int): Passed to the main expert (its own convention: MetaNet
            stages 0..6, ResNet 0..4); a transfer layer is frozen together with the main
            stage it feeds. Defaults to -1.
        norm_eval (bool): Keep the BNs of the main stream and transfer layers in eval
            mode while training. Defaults to False.
        freeze_aux (bool): Keep the auxiliary expert in eval mode with
            ``requires_grad=False``. Its features are always detached, so with False
            only its BN statistics adapt (and DDP then needs
            ``find_unused_parameters=True``). Defaults to True.
        bn_tasks (Sequence[str], optional): Task-specific BN sets, e.g.
            ``('cls', 'det')``. Defaults to None (one BN).
        task (str, optional): Active BN task. Defaults to ``bn_tasks[0]``.
        reverse_transfer (bool): Also hold the release's unused reverse-direction
            transfer layers (``reverse_trans.*``, frozen, never called), for released
            Up-G checkpoints. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialisation config, e.g. a converted
            Up-G checkpoint: ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.

    Example:
        >>> import torch
        >>> from intern_mm.models import CentralModel
        >>> model = CentralModel(main=dict(type='MetaNet', arch='tiny'),
        ...                      out_indices=(0, 1, 2, 3, 4)).eval()
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 64, 64))]
        [(1, 24, 16, 16), (1, 32, 8, 8), (1, 48, 4, 4), (1, 64, 2, 2), (1, 1280)]
        >>> # Build the generalist from two trained Up-E experts:
        >>> # model.load_experts('work_dirs/cls_expert.pth', 'work_dirs/det_expert.pth')
    """

    def __init__(self,
                 main: dict,
                 aux: Optional[dict] = None,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 freeze_aux: bool = True,
                 bn_tasks: Optional[Sequence[str]] = None,
                 task: Optional[str] = None,
                 reverse_transfer: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(out_indices, int):
            out_indices = (out_indices, )
        out_indices = tuple(out_indices)
        if not out_indices or any(i not in range(5) for i in out_indices):
            raise ValueError(f'out_indices must be a non-empty subset of 0..4, '
                             f'got {out_indices}')
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.freeze_aux = freeze_aux

        main_cfg = copy.deepcopy(main)
        aux_cfg = copy.deepcopy(aux if aux is not None else main)
        is_metanet = self._is_metanet_cfg(main_cfg)
        main_cfg.update(
            out_indices=out_indices if is_metanet else (0, 1, 2, 3),
            frozen_stages=frozen_stages,
            norm_eval=norm_eval)
        if not self._is_metanet_cfg(aux_cfg):
            aux_cfg.setdefault('out_indices', (0, 1, 2, 3))
        self.main = MODELS.build(main_cfg)
        self.aux = MODELS.build(aux_cfg)

        main_channels, main_strides = expert_level_info(self.main)
        aux_channels, aux_strides = expert_level_info(self.aux)
        self.level_channels = main_channels
        self.level_strides = main_strides
        self.head_channels = _expert_head_channels(self.main, main_channels)
        self.trans = nn.ModuleDict()
        for k in TRANS_LEVELS:
            self.trans[f'layer{k + 1}'] = TransferLayer(
                aux_channels[:k + 1], aux_strides[:k + 1], main_channels[k],
                main_strides[k])
        self.reverse_transfer = reverse_transfer
        if reverse_transfer:
            self.reverse_trans = nn.ModuleDict()
            for k in TRANS_LEVELS:
                self.reverse_trans[f'layer{k + 1}'] = TransferLayer(
                    main_channels[:k + 1], main_strides[:k + 1], aux_channels[k],
                    aux_strides[k])

        self.bn_tasks = tuple(bn_tasks) if bn_tasks else None
        if self.bn_tasks:
            convert_to_task_bn(self, self.bn_tasks)
            self.task = task or self.bn_tasks[0]
        elif task is not None:
            raise ValueError('task is only meaningful with bn_tasks')
        self._freeze()

    @staticmethod
    def _is_metanet_cfg(cfg: dict) -> bool:
        t = cfg.get('type')
        return t is not None and (t in ('MetaNet', 'intern_mm.MetaNet')
                                  or getattr(t, '__name__', '') == 'MetaNet')

    @property
    def out_channels(self) -> List[int]:
        """Channels of each requested output, in ``out_indices`` order."""
        chans = self.level_channels + [self.head_channels]
        return [chans[i] for i in self.out_indices]

    @property
    def task(self) -> Optional[str]:
        """Active BN task (None without ``bn_tasks``)."""
        return getattr(self, '_task', None)

    @task.setter
    def task(self, value: str) -> None:
        if not self.bn_tasks:
            raise ValueError('This CentralModel has no task-specific BN (bn_tasks=None)')
        if value not in self.bn_tasks:
            raise KeyError(f'Unknown BN task {value!r}; choose one of {self.bn_tasks}')
        if self.deploy and value != self._task:
            raise ValueError(f'this CentralModel was switched to deploy for BN task '
                             f'{self._task!r}; build and load it again for {value!r}')
        set_bn_task(self, value)
        self._task = value

    def _frozen_trans(self) -> List[nn.Module]:
        return [
            self.trans[f'layer{k + 1}'] for k in TRANS_LEVELS
            if self.frozen_stages >= _level_stage(self.main, k)
        ]

    def _freeze(self) -> None:
        modules = self._frozen_trans()
        if self.freeze_aux:
            modules.append(self.aux)
        if self.reverse_transfer:
            modules.append(self.reverse_trans)
        for m in modules:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        strip_backbone_prefix(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def train(self, mode: bool = True) -> 'CentralModel':
        """Set train mode, re-applying the frozen parts and ``norm_eval``."""
        super().train(mode)
        self._freeze()
        if mode and self.norm_eval:
            for m in self.trans.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def forward_aux(self, x: torch.Tensor, num_levels: int = 3) -> List[torch.Tensor]:
        """Detached auxiliary-expert features of levels ``0..num_levels-1``."""
        feats = []
        with torch.no_grad():
            for level in range(num_levels):
                x = expert_forward_level(self.aux, x, level)
                feats.append(x.detach())
        return feats

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Forward images ``(N, 3, H, W)``.

        Returns:
            tuple[torch.Tensor]: One tensor per ``out_indices`` entry.
        """
        last = 3 if 4 in self.out_indices else max(self.out_indices)
        aux_feats = self.forward_aux(x, min(last, TRANS_LEVELS[-1]) + 1)
        feats = []
        y = x
        for level in range(last + 1):
            y = expert_forward_level(self.main, y, level)
            if level in TRANS_LEVELS:
                y = y + self.trans[f'layer{level + 1}'](aux_feats, y.shape[-2:])
            feats.append(y)
        if 4 in self.out_indices:
            feats.append(expert_forward_head(self.main, y))
        return tuple(feats[i] if i < 4 else feats[-1] for i in self.out_indices)

    #: Whether :meth:`switch_to_deploy` has run.
    deploy = False

    def switch_to_deploy(self, task: Optional[str] = None) -> None:
        """Re-parameterise both streams and the transfer layers for inference.

        MetaNet experts run :meth:`MetaNet.switch_to_deploy`; other experts (ResNet) and
        the transfer layers get every conv -> BN pair fused. With task-specific BN the
        model is deployed for one task: its BN parameters are folded and the others
        dropped, so :attr:`task` can no longer change. Eval-mode outputs stay equal up
        to float rounding. Load checkpoints *before* the switch. Idempotent.

        Args:
            task (str, optional): BN task to deploy (``bn_tasks`` only). Defaults to
                the active :attr:`task`.

        Example:
            >>> model = CentralModel(main=dict(type='MetaNet', arch='tiny'),
            ...                      bn_tasks=('cls', 'det')).eval()
            >>> model.switch_to_deploy(task='det')
            >>> model.task
            'det'
        """
        if self.deploy:
            if task is not None and task != self.task:
                raise ValueError(f'already deployed for BN task {self.task!r}, not {task!r}')
            return
        if self.bn_tasks:
            self.task = task or self.task  # validates the name
            _select_task_bn(self, self.task)
        elif task is not None:
            raise ValueError('task is only meaningful with bn_tasks')
        for expert in (self.main, self.aux):
            if hasattr(expert, 'switch_to_deploy'):
                expert.switch_to_deploy()
            else:
                fuse_conv_bn(expert)
        fuse_conv_bn(self.trans)
        if self.reverse_transfer:
            fuse_conv_bn(self.reverse_trans)
        self.deploy = True

    def load_experts(self,
                     main_ckpt: Union[str, dict],
                     aux_ckpt: Optional[Union[str, dict]] = None,
                     prefix: str = 'backbone.',
                     map_location: str = 'cpu') -> Dict[str, Dict[str, List[str]]]:
        """Load trained expert backbones (Up-E) into the two streams.

        Args:
            main_ckpt (str | dict): Checkpoint path (any mmengine-loadable URI) or
                state dict of the main (classification) expert.
            aux_ckpt (str | dict, optional): Same for the auxiliary (detection) expert.
                Defaults to ``main_ckpt``.
            prefix (str): Key prefix of the backbone inside the checkpoints (stripped;
                other keys are ignored). ``''`` takes every key. Defaults to
                ``'backbone.'``.
            map_location (str): Device to load to. Defaults to ``'cpu'``.

        Returns:
            dict: ``{'main': {...}, 'aux': {...}}`` with the ``unexpected_keys`` each
            load ignored (e.g. an expert's 1280-d head when this model does not use it).

        Raises:
            KeyError: If the prefix matches nothing or a stream's parameters are
                missing from its checkpoint (the message lists them).
        """
        report = {}
        for name, ckpt in (('main', main_ckpt), ('aux', aux_ckpt or main_ckpt)):
            state = self._expert_state_dict(ckpt, prefix, map_location)
            result = getattr(self, name).load_state_dict(state, strict=False)
            if result.missing_keys:
                raise KeyError(f'{name} expert checkpoint lacks {len(result.missing_keys)} '
                               f'keys of this model: {result.missing_keys}')
            if result.unexpected_keys:
                print_log(f'CentralModel.load_experts: {name} ignored unexpected keys '
                          f'{result.unexpected_keys}', logger='current')
            report[name] = dict(unexpected_keys=list(result.unexpected_keys))
        return report

    @staticmethod
    def _expert_state_dict(ckpt: Union[str, dict], prefix: str,
                           map_location: str) -> Dict[str, torch.Tensor]:
        if isinstance(ckpt, str):
            ckpt = _load_checkpoint(ckpt, map_location=map_location)
        if not isinstance(ckpt, dict):
            raise TypeError(f'expected a checkpoint dict, got {type(ckpt).__name__}')
        state = ckpt.get('state_dict', ckpt)
        state = {(k[7:] if k.startswith('module.') else k): v for k, v in state.items()}
        if not prefix:
            return state
        selected = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not selected:
            raise KeyError(f'no key starts with {prefix!r} in the expert checkpoint '
                           f'(first keys: {list(state)[:5]})')
        return selected


def _select_task_bn(module: nn.Module, task: str) -> None:
    """Replace every :class:`TaskBatchNorm2d` in ``module`` by its ``task`` BN."""
    for name, child in module.named_children():
        if isinstance(child, TaskBatchNorm2d):
            setattr(module, name, child.bns[task])
        else:
            _select_task_bn(child, task)


register_in_openmmlab(CentralModel)
