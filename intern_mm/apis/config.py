"""Config handling shared by ``tools/train.py``, ``tools/test.py`` and the pipelines."""
import os.path as osp
from argparse import Namespace

from mmengine.config import Config

from intern_mm.utils.config import UnknownConfigKeyError, merge_cfg_options

__all__ = ['merge_cfg_options', 'build_cfg_from_args', 'UnknownConfigKeyError']


def build_cfg_from_args(args: Namespace, mode: str = 'train') -> Config:
    """Load ``args.config`` and apply the usual OpenMMLab command-line switches.

    Handles ``--cfg-options``, ``--work-dir`` (default ``./work_dirs/<config name>``),
    ``--launcher``, and for training ``--resume``, ``--amp``, ``--no-validate``,
    ``--auto-scale-lr``; for testing ``checkpoint``.

    Args:
        args (Namespace): Parsed command-line arguments.
        mode (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.

    Returns:
        Config: The ready-to-run config.

    Raises:
        FileNotFoundError: If the config (or test checkpoint) file does not exist.
    """
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file {args.config} does not exist')
    cfg = Config.fromfile(args.config)
    if getattr(args, 'cfg_options', None):
        merge_cfg_options(cfg, args.cfg_options)
    cfg.launcher = args.launcher
    if getattr(args, 'work_dir', None):
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    if mode == 'train':
        if getattr(args, 'amp', False):
            _enable_amp(cfg)
        if getattr(args, 'auto_scale_lr', False):
            if 'auto_scale_lr' not in cfg:
                raise KeyError('--auto-scale-lr needs `auto_scale_lr=dict(base_batch_size=...)` '
                               'in the config')
            cfg.auto_scale_lr.enable = True
        if getattr(args, 'no_validate', False):
            cfg.val_cfg = None
            cfg.val_dataloader = None
            cfg.val_evaluator = None
        resume = getattr(args, 'resume', None)
        if resume == 'auto':
            cfg.resume = True
            cfg.load_from = None
        elif resume is not None:
            if not osp.isfile(resume):
                raise FileNotFoundError(f'--resume checkpoint {resume} does not exist')
            cfg.resume = True
            cfg.load_from = resume
    elif mode == 'test':
        if not osp.isfile(args.checkpoint):
            raise FileNotFoundError(f'checkpoint file {args.checkpoint} does not exist')
        cfg.load_from = args.checkpoint
    else:
        raise ValueError(f'mode must be "train" or "test", got {mode!r}')
    return cfg


def _enable_amp(cfg: Config) -> None:
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if optim_wrapper == 'AmpOptimWrapper':
        return
    if optim_wrapper not in ('OptimWrapper', 'mmengine.OptimWrapper'):
        raise ValueError(f'--amp only works with OptimWrapper, the config uses {optim_wrapper}')
    from mmengine.device import is_cuda_available, is_mlu_available, is_npu_available
    if not (is_cuda_available() or is_npu_available() or is_mlu_available()):
        raise RuntimeError('--amp needs a CUDA, NPU or MLU device: mmengine\'s '
                           'AmpOptimWrapper does not train on the CPU')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
