"""Freeze / unfreeze parameters on a schedule (epochs or iterations)."""
import fnmatch
from typing import Dict, List, Optional, Sequence

from mmengine.hooks import Hook
from mmengine.logging import print_log
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from intern_mm.registry import HOOKS
from ._schedule_utils import current_step, unwrap_model

__all__ = ['FreezeScheduleHook']


@HOOKS.register_module()
class FreezeScheduleHook(Hook):
    """Freeze and unfreeze parameters by name pattern at given epochs / iterations.

    The schedule is a list of events ``dict(begin=STEP, freeze=[...], unfreeze=[...])``.
    Patterns are :mod:`fnmatch` globs over parameter names of the bare model
    (``'backbone.*'``, ``'backbone.stages.[01].*'``, ``'*.bn*.weight'``). The trainable
    state at step ``t`` is the state found at ``before_train`` with every event whose
    ``begin <= t`` applied in order, later events winning.

    Robustness:

    * **model.train()**: backbones such as ResNet / MetaNet re-apply ``frozen_stages``
      (``requires_grad=False`` + ``eval()``) in ``train()``, and ``IterBasedTrainLoop``
      calls ``model.train()`` every iteration. The hook therefore re-applies the scheduled
      state in every ``before_train_iter`` (after ``model.train()``), which is cheap: the
      parameter lists are resolved once per event.
    * **resume**: the state is a pure function of the current epoch / iteration, so after
      resuming ``before_train`` replays every event up to the resumed step (in the spirit
      of mmpretrain's ``SwitchRecipeHook``).
    * **optimizer**: the optimizer is built before hooks run. Every parameter the schedule
      ever trains must therefore already be in the optimizer; ``before_train`` checks this
      and raises naming the missing parameters (build the model unfrozen, e.g.
      ``frozen_stages=-1``, and freeze it with this hook instead).
    * **BatchNorm**: with ``freeze_norm=True`` a BN layer whose parameters are all frozen
      by the schedule is put in ``eval()`` mode too, so its running statistics stay fixed.
    * **DDP**: parameters frozen after DDP wrapped the model produce no gradient; use
      ``model_wrapper_cfg=dict(type='MMDistributedDataParallel',
      find_unused_parameters=True)``.

    Args:
        schedule (Sequence[dict]): Events ``dict(begin=int, freeze=list[str],
            unfreeze=list[str])``; at least one of ``freeze`` / ``unfreeze``.
        by_epoch (bool): Whether ``begin`` counts epochs (else iterations).
            Defaults to False.
        freeze_norm (bool): Put fully frozen BatchNorm layers in eval mode.
            Defaults to True.
        strict (bool): Raise when a pattern matches no parameter. Defaults to True.

    Example:
        >>> custom_hooks = [
        ...     dict(type='FreezeScheduleHook',
        ...          schedule=[dict(begin=0, freeze=['backbone.*']),
        ...                    dict(begin=200, unfreeze=['backbone.stages.3.*'])])]
    """

    priority = 'NORMAL'

    def __init__(self,
                 schedule: Sequence[dict],
                 by_epoch: bool = False,
                 freeze_norm: bool = True,
                 strict: bool = True) -> None:
        if not schedule:
            raise ValueError('FreezeScheduleHook: the schedule is empty')
        events = []
        for event in schedule:
            if not isinstance(event, dict):
                raise TypeError(f'FreezeScheduleHook: each event must be a dict, got {event!r}')
            unknown = set(event) - {'begin', 'freeze', 'unfreeze'}
            if unknown:
                raise KeyError(f'FreezeScheduleHook: unknown event keys {sorted(unknown)} '
                               "(allowed: 'begin', 'freeze', 'unfreeze')")
            if 'begin' not in event:
                raise KeyError(f'FreezeScheduleHook: event {event!r} has no "begin"')
            begin = event['begin']
            if int(begin) != begin or begin < 0:
                raise ValueError(f'FreezeScheduleHook: "begin" must be a non-negative '
                                 f'integer, got {begin!r}')
            freeze = self._as_list(event.get('freeze', []))
            unfreeze = self._as_list(event.get('unfreeze', []))
            if not freeze and not unfreeze:
                raise ValueError(f'FreezeScheduleHook: event {event!r} freezes and '
                                 'unfreezes nothing')
            events.append(dict(begin=int(begin), freeze=freeze, unfreeze=unfreeze))
        # stable sort: events with the same ``begin`` keep their order
        self.events = sorted(events, key=lambda e: e['begin'])
        self.by_epoch = by_epoch
        self.freeze_norm = freeze_norm
        self.strict = strict
        self._initial: Optional[Dict[str, bool]] = None
        self._applied_index = -2  # number of events applied (-2: never resolved)
        self._frozen: List[nn.Parameter] = []
        self._trainable: List[nn.Parameter] = []
        self._frozen_norms: List[nn.Module] = []

    @staticmethod
    def _as_list(patterns) -> List[str]:
        if isinstance(patterns, str):
            return [patterns]
        return list(patterns)

    # ----------------------------------------------------------------- state logic
    def state_at(self, step: int) -> Dict[str, bool]:
        """The ``requires_grad`` flag of every parameter at ``step``.

        Args:
            step (int): Epoch or iteration (0-based).

        Returns:
            dict[str, bool]: Parameter name -> trainable.
        """
        assert self._initial is not None, 'call before_train first'
        state = dict(self._initial)
        for event in self.events:
            if event['begin'] > step:
                break
            for flag, key in ((False, 'freeze'), (True, 'unfreeze')):
                for pattern in event[key]:
                    for name in fnmatch.filter(state.keys(), pattern):
                        state[name] = flag
        return state

    def _num_applied(self, step: int) -> int:
        return sum(1 for e in self.events if e['begin'] <= step)

    def _resolve(self, model: nn.Module, step: int, log: bool) -> None:
        state = self.state_at(step)
        params = dict(model.named_parameters())
        self._frozen = [params[n] for n, f in state.items() if not f]
        self._trainable = [params[n] for n, f in state.items() if f]
        self._frozen_norms = []
        if self.freeze_norm:
            frozen_names = {n for n, f in state.items() if not f}
            for mod_name, module in model.named_modules():
                if not isinstance(module, _BatchNorm):
                    continue
                names = [f'{mod_name}.{n}' if mod_name else n
                         for n, _ in module.named_parameters(recurse=False)]
                if names and all(n in frozen_names for n in names):
                    self._frozen_norms.append(module)
        self._applied_index = self._num_applied(step)
        if log:
            unit = 'epoch' if self.by_epoch else 'iter'
            print_log(
                f'FreezeScheduleHook: at {unit} {step} ({self._applied_index} event(s) '
                f'applied): {len(self._trainable)} trainable / {len(self._frozen)} frozen '
                'parameter tensors',
                logger='current')

    def _apply(self) -> None:
        for param in self._frozen:
            if param.requires_grad:
                param.requires_grad_(False)
            param.grad = None
        for param in self._trainable:
            if not param.requires_grad:
                param.requires_grad_(True)
        for module in self._frozen_norms:
            module.eval()

    # ----------------------------------------------------------------------- hooks
    def before_train(self, runner) -> None:
        """Record the initial flags, check the optimizer and replay the schedule."""
        model = unwrap_model(runner.model)
        if self._initial is None:
            self._initial = {n: p.requires_grad for n, p in model.named_parameters()}
        if self.strict:
            for event in self.events:
                for key in ('freeze', 'unfreeze'):
                    for pattern in event[key]:
                        if not fnmatch.filter(self._initial.keys(), pattern):
                            raise ValueError(
                                f'FreezeScheduleHook: pattern {pattern!r} ({key} at '
                                f'{event["begin"]}) matches no parameter of '
                                f'{type(model).__name__}')
        self._check_optimizer(runner, model)
        self._resolve(model, current_step(runner, self.by_epoch), log=True)
        self._apply()

    def _check_optimizer(self, runner, model: nn.Module) -> None:
        ever_trained = set()
        steps = [0] + [e['begin'] for e in self.events]
        for step in steps:
            ever_trained.update(n for n, f in self.state_at(step).items() if f)
        optim_wrapper = getattr(runner, 'optim_wrapper', None)
        if optim_wrapper is None or not hasattr(optim_wrapper, 'param_groups'):
            return
        in_optim = {id(p) for group in optim_wrapper.param_groups for p in group['params']}
        params = dict(model.named_parameters())
        missing = sorted(n for n in ever_trained if id(params[n]) not in in_optim)
        if missing:
            shown = ', '.join(missing[:10]) + (' ...' if len(missing) > 10 else '')
            raise RuntimeError(
                f'FreezeScheduleHook: {len(missing)} parameter(s) the schedule trains are '
                f'not in the optimizer (it was built before this hook ran): {shown}. Build '
                'the model unfrozen (e.g. backbone frozen_stages=-1) and freeze it with '
                'this hook.')

    def _maybe_update(self, runner) -> None:
        step = current_step(runner, self.by_epoch)
        if self._num_applied(step) != self._applied_index:
            self._resolve(unwrap_model(runner.model), step, log=True)
        self._apply()

    def before_train_epoch(self, runner) -> None:
        """Apply the state of the new epoch."""
        self._maybe_update(runner)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """Re-apply the state after ``model.train()`` (and switch at milestones)."""
        self._maybe_update(runner)
