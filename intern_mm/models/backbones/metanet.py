"""MetaNet (GV-A): the UniNet-style conv/attention hybrid backbone of INTERN."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule

from intern_mm.registry import MODELS
from intern_mm.utils.checkpoint import strip_backbone_prefix
from .attention_blocks import MetaAttentionBlock
from .channels_last import build_map_activation, spatial_mean
from .expert import PyramidExpert
from .freezing import FreezeStagesMixin
from .mbconv import FusedMBConv, MBConv
from .reparam import fuse_conv_act, fuse_conv_bn

__all__ = ['MetaNet']

#: Stage strides of every MetaNet (the stem adds a further 2).
STAGE_STRIDES = (1, 2, 2, 2, 1, 2)
#: Stages whose outputs are the four pyramid levels (strides 4, 8, 16, 32).
OUT_STAGES = (1, 2, 4, 5)
#: Width of the pooled classification feature (out index 4).
HEAD_CHANNELS = 1280
#: Block type of each of the six stages per ``mtb_type``.
STAGE_BLOCKS = {
    4: ('mbconv', ) * 4 + ('mhsa', ) * 2,
    15: ('fused', ) * 2 + ('mbconv', ) * 2 + ('xca', ) * 2,
}
ARCH_KEYS = ('repeats', 'expansion', 'channels', 'mtb_type', 'head_dim', 'stem_dim')


@MODELS.register_module()
class MetaNet(FreezeStagesMixin, BaseModule, PyramidExpert):
    """MetaNet, the GV-A backbone of INTERN (arXiv 2111.08687), MN-B4 / MN-B15.

    A six-stage hybrid (stage strides ``[1, 2, 2, 2, 1, 2]``) after a 3x3 stride-2
    conv + BN + GELU stem. ``mtb_type=4`` (MN-B4): MBConv x4 stages + multi-head
    self-attention x2 stages; ``mtb_type=15`` (MN-B15): FusedMBConv x2 + MBConv x2 +
    cross-covariance attention x2. Conv blocks are pre-norm inverted residuals with a
    hard-sigmoid SE and a zero-initialised last BN; attention blocks use a depthwise conv
    positional encoding and layer scale; blocks that change resolution or width use a
    3x3 max-pool + 1x1 conv shortcut. Module names reproduce the original
    implementation's state-dict keys (``stem.*``, ``blocks.<i>.*``, ``head.*``), so the
    released checkpoints load directly (see ``tools/model_converters/gvb2intern.py``).
    Checkpoints whose keys carry a ``backbone.`` prefix (the converter's output) load
    with or without ``prefix='backbone.'`` in a ``Pretrained`` init_cfg.

    Output levels (``out_indices``):

    * 0..3: NCHW maps after stages 1, 2, 4, 5 (strides 4, 8, 16, 32);
    * 4: the pooled ``(N, 1280)`` classification feature (last stage -> 1x1 conv to
      1280 -> BN -> GELU -> global average pool). The 1280-d head is only built when
      4 is requested (its checkpoint keys are otherwise reported as unexpected).

    Architectures (``arch``): ``'mn-b4'`` (30.4M parameters with the head),
    ``'mn-b15'`` (1.0B), and ``'tiny'`` — an intern_mm-only architecture for fast CPU
    demos and tests (channels 16/24/32/48/48/64, one block per stage), **not** an
    original INTERN architecture. A dict with the keys ``repeats``, ``expansion``,
    ``channels`` (six entries each), ``mtb_type`` (4 or 15), ``head_dim`` and
    ``stem_dim`` defines a custom one.

    Args:
        arch (str | dict): Architecture name or dict. Defaults to ``'mn-b4'``.
        out_indices (Sequence[int]): Output levels, see above. Defaults to
            ``(0, 1, 2, 3)``.
        frozen_stages (int): ResNet convention over the six stages: -1 freezes nothing,
            0 the stem, ``k`` the stem and the first ``k`` stages; ``6`` freezes the
            whole backbone including the 1280-d head. Frozen modules are put in eval
            mode with ``requires_grad=False``, re-applied by :meth:`train`.
            Defaults to -1.
        norm_eval (bool): Keep every BatchNorm in eval mode while training (statistics
            fixed). Defaults to False.
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        drop_path_rate (float): Stochastic depth, increasing linearly from 0 over the
            blocks to this value. Defaults to 0.
        drop_rate (float): Dropout after attention projections and MLPs. Defaults to 0.
        layer_scale_init (float): Initial layer-scale value. Defaults to 1e-6.
        deploy (bool): Build the deploy-time structure of :meth:`switch_to_deploy`
            directly (for checkpoints saved after the switch). Defaults to False.
        norm_cfg (dict): Config of every norm layer of the stem, the conv blocks and
            the head (mmcv's ``build_norm_layer``: ``'BN'``, ``'SyncBN'``,
            ``dict(type='GN', num_groups=8)``, ...); the attention blocks keep their
            LayerNorms. Defaults to ``dict(type='BN')``.
        act_cfg (dict): Config of every activation of the stem, the conv blocks, the
            attention MLPs and the head (mmcv's ``build_activation_layer``; a GELU on
            feature maps is built as :class:`~.channels_last.ChannelsLastGELU`). The SE
            gates keep their ReLU / hard sigmoid. Defaults to ``dict(type='GELU')``.
        init_cfg (dict | list[dict], optional): Initialisation config, e.g.
            ``dict(type='Pretrained', checkpoint='x.pth', prefix='backbone.')``.
            Defaults to truncated-normal Linear and unit LayerNorm init.

    Example:
        >>> import torch
        >>> from intern_mm.models import MetaNet
        >>> model = MetaNet(arch='tiny', out_indices=(0, 1, 2, 3, 4)).eval()
        >>> outs = model(torch.rand(2, 3, 64, 64))
        >>> [tuple(o.shape) for o in outs]
        [(2, 24, 16, 16), (2, 32, 8, 8), (2, 48, 4, 4), (2, 64, 2, 2), (2, 1280)]
        >>> model.out_channels
        [24, 32, 48, 64, 1280]
    """

    arch_zoo: Dict[str, dict] = {
        'mn-b4':
        dict(
            repeats=[2, 3, 6, 6, 6, 12],
            expansion=[1, 4, 6, 3, 2, 5],
            channels=[32, 64, 128, 192, 192, 384],
            mtb_type=4,
            head_dim=48,
            stem_dim=32),
        'mn-b15':
        dict(
            repeats=[4, 6, 12, 12, 12, 24],
            expansion=[1, 4, 6, 3, 2, 5],
            channels=[128, 256, 512, 768, 768, 1536],
            mtb_type=15,
            head_dim=64,
            stem_dim=96),
        # intern_mm-only: not an original INTERN architecture. Fast on CPU at 64x64.
        'tiny':
        dict(
            repeats=[1, 1, 1, 1, 1, 1],
            expansion=[1, 4, 6, 3, 2, 5],
            channels=[16, 24, 32, 48, 48, 64],
            mtb_type=4,
            head_dim=16,
            stem_dim=16),
    }
    num_stages = len(STAGE_STRIDES)
    #: Strides of the four pyramid levels (out indices 0..3).
    level_strides = (4, 8, 16, 32)

    def __init__(self,
                 arch: Union[str, dict] = 'mn-b4',
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 drop_path_rate: float = 0.,
                 drop_rate: float = 0.,
                 layer_scale_init: float = 1e-6,
                 deploy: bool = False,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU'),
                 init_cfg: Optional[Union[dict, List[dict]]] = [
                     dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
                     dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
                 ]) -> None:
        super().__init__(init_cfg=init_cfg)
        self.arch_settings = self._parse_arch(arch)
        if isinstance(out_indices, int):
            out_indices = (out_indices, )
        out_indices = tuple(out_indices)
        if not out_indices or any(i not in range(5) for i in out_indices):
            raise ValueError(f'out_indices must be a non-empty subset of 0..4 '
                             f'(4 = pooled 1280-d feature), got {out_indices}')
        if len(set(out_indices)) != len(out_indices):
            raise ValueError(f'out_indices has duplicates: {out_indices}')
        self.check_frozen_stages(frozen_stages)
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.norm_cfg = copy.deepcopy(norm_cfg)
        self.act_cfg = copy.deepcopy(act_cfg)

        channels = self.arch_settings['channels']
        self.stem = self._conv_norm_act(3, self.arch_settings['stem_dim'], 3, stride=2)
        #: ``[start, end)`` block indices of each stage.
        self.stage_ranges: List[Tuple[int, int]] = []
        self.blocks = nn.Sequential(
            *self._build_blocks(drop_path_rate, drop_rate, layer_scale_init))
        self.head = (self._conv_norm_act(channels[-1], HEAD_CHANNELS, 1)
                     if 4 in out_indices else None)
        if deploy:
            self.switch_to_deploy()

        #: Channels of the four pyramid levels.
        self.level_channels = [channels[s] for s in OUT_STAGES]
        self._freeze_stages()

    def _conv_norm_act(self, in_channels: int, out_channels: int, kernel_size: int,
                       stride: int = 1) -> nn.Sequential:
        """Conv (no bias) -> norm -> activation: the stem and the 1280-d head."""
        return nn.Sequential(
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size=kernel_size,
                stride=stride,
                padding=kernel_size // 2,
                bias=False),
            build_norm_layer(self.norm_cfg, out_channels)[1],
            build_map_activation(self.act_cfg))

    def _build_blocks(self, drop_path_rate: float, drop_rate: float,
                      layer_scale_init: float) -> List[nn.Module]:
        """The blocks of the six stages (fills :attr:`stage_ranges`)."""
        arch = self.arch_settings
        channels = arch['channels']
        total = sum(arch['repeats'])
        # Linearly increasing stochastic depth (plain Python: works on the meta device).
        dpr = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]
        blocks = []
        cin = arch['stem_dim']
        for stage, kind in enumerate(STAGE_BLOCKS[arch['mtb_type']]):
            start = len(blocks)
            for i in range(arch['repeats'][stage]):
                stride = STAGE_STRIDES[stage] if i == 0 else 1
                kwargs = dict(
                    stride=stride,
                    expansion=arch['expansion'][stage],
                    drop_path=dpr[len(blocks)],
                    act_cfg=self.act_cfg)
                if kind == 'mbconv':
                    block = MBConv(cin, channels[stage], norm_cfg=self.norm_cfg, **kwargs)
                elif kind == 'fused':
                    block = FusedMBConv(cin, channels[stage], norm_cfg=self.norm_cfg, **kwargs)
                else:
                    block = MetaAttentionBlock(
                        cin,
                        channels[stage],
                        head_dim=arch['head_dim'],
                        attn_type=kind,
                        drop=drop_rate,
                        layer_scale_init=layer_scale_init,
                        **kwargs)
                blocks.append(block)
                cin = channels[stage]
            self.stage_ranges.append((start, len(blocks)))
        return blocks

    @classmethod
    def _parse_arch(cls, arch: Union[str, dict]) -> dict:
        if isinstance(arch, str):
            if arch not in cls.arch_zoo:
                raise KeyError(f'Unknown MetaNet arch {arch!r}; choose one of '
                               f'{sorted(cls.arch_zoo)} or pass a dict with keys '
                               f'{list(ARCH_KEYS)}')
            return copy.deepcopy(cls.arch_zoo[arch])
        if not isinstance(arch, dict):
            raise TypeError(f'arch must be a str or dict, got {type(arch).__name__}')
        missing = [k for k in ARCH_KEYS if k not in arch]
        unknown = [k for k in arch if k not in ARCH_KEYS and k != 'strides']
        if missing or unknown:
            raise KeyError(f'MetaNet arch dict: missing keys {missing}, unknown keys '
                           f'{unknown}; required keys are {list(ARCH_KEYS)}')
        arch = copy.deepcopy(dict(arch))
        strides = arch.pop('strides', STAGE_STRIDES)
        if list(strides) != list(STAGE_STRIDES):
            raise ValueError(f'MetaNet strides are always {list(STAGE_STRIDES)}, '
                             f'got {list(strides)}')
        for key in ('repeats', 'expansion', 'channels'):
            if len(arch[key]) != len(STAGE_STRIDES):
                raise ValueError(f'arch[{key!r}] needs {len(STAGE_STRIDES)} entries, '
                                 f'got {arch[key]}')
        if arch['mtb_type'] not in STAGE_BLOCKS:
            raise ValueError(f'mtb_type must be one of {sorted(STAGE_BLOCKS)}, '
                             f'got {arch["mtb_type"]}')
        if any(r < 1 for r in arch['repeats']):
            raise ValueError(f'every stage needs at least one block: {arch["repeats"]}')
        return arch

    @property
    def out_channels(self) -> List[int]:
        """Channels of each requested output, in ``out_indices`` order."""
        chans = self.level_channels + [HEAD_CHANNELS]
        return [chans[i] for i in self.out_indices]

    def _level_block_range(self, level: int) -> Tuple[int, int]:
        first_stage = 0 if level == 0 else OUT_STAGES[level - 1] + 1
        return self.stage_ranges[first_stage][0], self.stage_ranges[OUT_STAGES[level]][1]

    def forward_level(self, x: torch.Tensor, level: int) -> torch.Tensor:
        """Run the blocks that produce pyramid level ``level`` from the previous one.

        Level 0 starts from the image (stem included). Used by :class:`CentralModel`
        to run a MetaNet stage by stage.

        Args:
            x (torch.Tensor): The image (level 0) or the previous level's map.
            level (int): 0..3 (strides 4, 8, 16, 32).

        Returns:
            torch.Tensor: The level's NCHW map.
        """
        if level == 0:
            x = self.stem(x)
        start, end = self._level_block_range(level)
        for block in self.blocks[start:end]:
            if self.with_cp and torch.is_grad_enabled():
                x = cp.checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return x

    @property
    def head_channels(self) -> int:
        """Width of the pooled classification feature (out index 4)."""
        return HEAD_CHANNELS

    def level_stage(self, level: int) -> int:
        """The ``frozen_stages`` value whose last stage produces ``level`` (2, 3, 5, 6)."""
        return OUT_STAGES[level] + 1

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled 1280-d feature from the last level's map: 1x1 conv, BN, GELU, GAP."""
        if self.head is None:
            raise RuntimeError('MetaNet was built without the 1280-d head: add 4 to '
                               'out_indices')
        return spatial_mean(self.head(x))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Forward images ``(N, 3, H, W)``.

        Returns:
            tuple[torch.Tensor]: One tensor per ``out_indices`` entry.
        """
        last = max(i if i < 4 else 3 for i in self.out_indices)
        feats = []
        for level in range(last + 1):
            x = self.forward_level(x, level)
            feats.append(x)
        if 4 in self.out_indices:
            feats.append(self.forward_head(x))
        return tuple(feats[i] if i < 4 else feats[-1] for i in self.out_indices)

    #: Whether :meth:`switch_to_deploy` has run.
    deploy = False

    def switch_to_deploy(self) -> None:
        """Re-parameterise for inference (mmpretrain's RepVGG / MobileOne convention).

        Exact rewrites with the current weights and BN running statistics: every
        conv -> BN pair is fused (stem, blocks, head), MBConv's pre-norm BN is folded
        into its 1x1 expansion conv, every conv -> GELU / ReLU pair becomes one fused
        CPU kernel (:class:`~.reparam.ConvAct`), and attention blocks fold their
        positional-encoding residual and layer scales (a ``norm_cfg`` other than BN /
        SyncBN, e.g. GN, stays unfolded). Eval-mode outputs stay equal up to float
        rounding; the state dict loses the folded BN / layer-scale entries, so load (eager)
        checkpoints *before* the switch, or build with ``deploy=True`` to load
        checkpoints saved after it. Idempotent.

        Example:
            >>> model = MetaNet(arch='tiny').eval()
            >>> x = torch.rand(1, 3, 64, 64)
            >>> ref = model(x)[-1]
            >>> model.switch_to_deploy()
            >>> torch.allclose(model(x)[-1], ref, rtol=1e-4, atol=1e-5)
            True
        """
        if self.deploy:
            return
        fuse_conv_act(fuse_conv_bn(self.stem))
        for block in self.blocks:
            block.switch_to_deploy()
        if self.head is not None:
            fuse_conv_act(fuse_conv_bn(self.head))
        self.deploy = True

    @property
    def num_freeze_stages(self) -> int:
        """``frozen_stages`` = 6 freezes the six stages and the 1280-d head."""
        return self.num_stages

    def stage_modules(self, stage: int) -> List[nn.Module]:
        """Freeze contract: 0 = stem, 1..6 = stage blocks (6 with the 1280-d head)."""
        if stage == 0:
            return [self.stem]
        start, end = self.stage_ranges[stage - 1]
        modules = list(self.blocks[start:end])
        if stage == self.num_stages and self.head is not None:
            modules.append(self.head)
        return modules

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        strip_backbone_prefix(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
