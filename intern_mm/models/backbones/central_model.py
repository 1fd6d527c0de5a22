"""CentralModel: INTERN's Up-G generalist backbone (main expert + detached auxiliary expert)."""
import copy
import inspect
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModule

from intern_mm.registry import MODELS
from intern_mm.utils.checkpoint import (load_state_dict_diff, read_state_dict, select_prefix,
                                        strip_backbone_prefix)
from .expert import as_expert
from .freezing import FreezeStagesMixin, freeze_contract, freeze_module
from .reparam import fuse_conv_act, fuse_conv_bn
from .task_norm import TaskBatchNorm2d, convert_to_task_bn, freeze_bn_task, set_bn_task
from .transfer_layer import TransferLayer

__all__ = ['CentralModel']

#: Main-stream levels (strides 4, 8, 16) that receive transfer-layer outputs.
TRANS_LEVELS = (0, 1, 2)


@MODELS.register_module()
class CentralModel(FreezeStagesMixin, BaseModule):
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
    of weights. With ``bn_tasks=('cls', 'det')`` every BN (``norm_cfg`` ``'BN'`` or
    ``'SyncBN'``) holds one parameter set per task and :attr:`task` selects the one in
    use (checkpoints with plain BNs load into every task's set). The BNs are built
    from ``norm_cfg`` and then converted to
    :class:`~.task_norm.TaskBatchNorm2d` (``docs/backbones.md`` says why task BN is
    not a ``norm_cfg`` type). ``tools/model_converters/gvb2intern.py SRC DST
    --det-bn DET`` merges both released files into one checkpoint.

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
        frozen_stages (int): Passed to the main expert, in its own convention (the
            freeze contract of ``docs/backbones.md``: MetaNet 0..6, ResNet 0..4); a
            transfer layer is frozen together with the main stage that ends the level
            it feeds (``level_stage``: MetaNet 2, 3, 5; ResNet 1, 2, 3). Defaults to -1.
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
        norm_cfg (dict): Config of the transfer layers' norms, and the ``norm_cfg``
            of both experts unless their configs set their own (e.g.
            ``dict(type='SyncBN')`` for the whole model; experts whose class takes no
            ``norm_cfg`` are built as configured). Defaults to ``dict(type='BN')``.
        act_cfg (dict): Config of the transfer layers' activations (the experts'
            activations are set in their configs: MetaNet's default is GELU).
            Defaults to ``dict(type='ReLU')``.
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
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
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
        self.norm_cfg = copy.deepcopy(norm_cfg)
        self.act_cfg = copy.deepcopy(act_cfg)

        main_cfg, aux_cfg = self._expert_cfgs(main, aux)
        self.main = MODELS.build(main_cfg)
        self.aux = MODELS.build(aux_cfg)

        # The experts' interface (MetaNet natively, ResNet through its adapter); a plain
        # dict so that the views add no state-dict keys.
        self._experts = dict(main=as_expert(self.main), aux=as_expert(self.aux))
        main_channels = self._experts['main'].level_channels
        main_strides = self._experts['main'].level_strides
        aux_channels = self._experts['aux'].level_channels
        aux_strides = self._experts['aux'].level_strides
        self.level_channels = list(main_channels)
        self.level_strides = list(main_strides)
        self.head_channels = self._experts['main'].head_channels
        self.trans = self._transfer_layers(aux_channels, aux_strides, main_channels,
                                           main_strides)
        self.reverse_transfer = reverse_transfer
        if reverse_transfer:
            self.reverse_trans = self._transfer_layers(main_channels, main_strides,
                                                       aux_channels, aux_strides)

        self._init_task_bn(bn_tasks, task)
        self._freeze_stages()

    def _expert_cfgs(self, main: dict, aux: Optional[dict]) -> Tuple[dict, dict]:
        """The experts' configs: ``aux`` defaults to ``main``, both get this model's
        ``norm_cfg`` unless they set one, the main expert its ``out_indices``,
        ``frozen_stages`` and ``norm_eval``."""
        main_cfg = copy.deepcopy(main)
        aux_cfg = copy.deepcopy(aux if aux is not None else main)
        for cfg in (main_cfg, aux_cfg):
            if self._takes_norm_cfg(cfg):
                cfg.setdefault('norm_cfg', copy.deepcopy(self.norm_cfg))
        is_metanet = self._is_metanet_cfg(main_cfg)
        main_cfg.update(
            out_indices=self.out_indices if is_metanet else (0, 1, 2, 3),
            frozen_stages=self.frozen_stages,
            norm_eval=self.norm_eval)
        if not self._is_metanet_cfg(aux_cfg):
            aux_cfg.setdefault('out_indices', (0, 1, 2, 3))
        return main_cfg, aux_cfg

    def _init_task_bn(self, bn_tasks: Optional[Sequence[str]], task: Optional[str]) -> None:
        """Convert every BN to a :class:`~.task_norm.TaskBatchNorm2d` (``bn_tasks``)."""
        self.bn_tasks = tuple(bn_tasks) if bn_tasks else None
        if self.bn_tasks:
            convert_to_task_bn(self, self.bn_tasks)
            if not any(isinstance(m, TaskBatchNorm2d) for m in self.modules()):
                raise ValueError(f'bn_tasks needs BatchNorm layers (norm_cfg type \'BN\' '
                                 f'or \'SyncBN\'); this model has none '
                                 f'(norm_cfg={self.norm_cfg})')
            self.task = task or self.bn_tasks[0]
        elif task is not None:
            raise ValueError('task is only meaningful with bn_tasks')

    def _transfer_layers(self, src_channels: Sequence[int], src_strides: Sequence[int],
                         dst_channels: Sequence[int],
                         dst_strides: Sequence[int]) -> nn.ModuleDict:
        """``layer<k+1>``: the sum of transfers from source levels ``0..k`` into level k."""
        return nn.ModuleDict({
            f'layer{k + 1}': TransferLayer(
                src_channels[:k + 1],
                src_strides[:k + 1],
                dst_channels[k],
                dst_strides[k],
                norm_cfg=self.norm_cfg,
                act_cfg=self.act_cfg)
            for k in TRANS_LEVELS
        })

    @staticmethod
    def _takes_norm_cfg(cfg: dict) -> bool:
        """Whether the expert class of ``cfg`` has a ``norm_cfg`` argument (MetaNet,
        ResNet; a custom :class:`~.expert.PyramidExpert` may not)."""
        t = cfg.get('type')
        cls = t if inspect.isclass(t) else MODELS.get(t)
        return cls is not None and 'norm_cfg' in inspect.signature(cls).parameters

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

    @property
    def num_freeze_stages(self) -> int:
        """The main expert's largest ``frozen_stages``."""
        return freeze_contract(self.main).num_freeze_stages

    def stage_modules(self, stage: int) -> List[nn.Module]:
        """Freeze contract: the main expert's stage plus the transfer layers into the
        levels that stage ends."""
        main = self._experts['main']
        trans = [
            self.trans[f'layer{k + 1}'] for k in TRANS_LEVELS if main.level_stage(k) == stage
        ]
        return freeze_contract(self.main).stage_modules(stage) + trans

    def set_frozen_stages(self, frozen_stages: int) -> None:
        """Set ``frozen_stages`` here and in the main expert."""
        freeze_contract(self.main).set_frozen_stages(frozen_stages)
        self.frozen_stages = frozen_stages

    def norm_eval_modules(self) -> List[nn.Module]:
        """``norm_eval`` covers the main stream and the transfer layers."""
        return [self.main, self.trans]

    def _freeze_stages(self) -> None:
        super()._freeze_stages()
        if self.freeze_aux:
            freeze_module(self.aux)
        if self.reverse_transfer:
            freeze_module(self.reverse_trans)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        strip_backbone_prefix(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward_aux(self, x: torch.Tensor, num_levels: int = 3) -> List[torch.Tensor]:
        """Detached auxiliary-expert features of levels ``0..num_levels-1``."""
        feats = []
        with torch.no_grad():
            for level in range(num_levels):
                x = self._experts['aux'].forward_level(x, level)
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
            y = self._experts['main'].forward_level(y, level)
            if level in TRANS_LEVELS:
                y = y + self.trans[f'layer{level + 1}'](aux_feats, y.shape[-2:])
            feats.append(y)
        if 4 in self.out_indices:
            feats.append(self._experts['main'].forward_head(y))
        return tuple(feats[i] if i < 4 else feats[-1] for i in self.out_indices)

    #: Whether :meth:`switch_to_deploy` has run.
    deploy = False

    def switch_to_deploy(self, task: Optional[str] = None) -> None:
        """Re-parameterise both streams and the transfer layers for inference.

        MetaNet experts run :meth:`MetaNet.switch_to_deploy`; other experts (ResNet) and
        the transfer layers get every conv -> BN pair fused (and conv -> ReLU pairs run
        as one kernel, :class:`~.reparam.ConvAct`). With task-specific BN the
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
            freeze_bn_task(self, self.task)
        elif task is not None:
            raise ValueError('task is only meaningful with bn_tasks')
        for expert in self._experts.values():
            expert.switch_to_deploy()
        fuse_conv_act(fuse_conv_bn(self.trans))
        if self.reverse_transfer:
            fuse_conv_act(fuse_conv_bn(self.reverse_trans))
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
            RuntimeError: If a key of the checkpoint has another shape than the model's.
        """
        report = {}
        for name, ckpt in (('main', main_ckpt), ('aux', aux_ckpt or main_ckpt)):
            state = self._expert_state_dict(ckpt, prefix, map_location)
            diff = load_state_dict_diff(getattr(self, name), state)
            if diff.missing:
                raise KeyError(f'{name} expert checkpoint lacks {len(diff.missing)} '
                               f'keys of this model: {diff.missing}')
            if diff.mismatched:
                raise RuntimeError(f'{name} expert checkpoint does not match this model: '
                                   f'{diff.summary()}')
            if diff.unexpected:
                print_log(f'CentralModel.load_experts: {name} ignored unexpected keys '
                          f'{diff.unexpected}', logger='current')
            report[name] = dict(unexpected_keys=diff.unexpected)
        return report

    @staticmethod
    def _expert_state_dict(ckpt: Union[str, dict], prefix: str,
                           map_location: str) -> Dict[str, torch.Tensor]:
        state = read_state_dict(ckpt, map_location=map_location)
        if not prefix:
            return state
        selected = select_prefix(state, prefix)
        if not selected:
            raise KeyError(f'no key starts with {prefix!r} in the expert checkpoint '
                           f'(first keys: {list(state)[:5]})')
        return selected
