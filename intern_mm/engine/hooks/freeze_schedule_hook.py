"""Freeze / unfreeze parameters on a schedule (epochs or iterations)."""
import fnmatch
from typing import Dict, List, Optional, Sequence

from mmengine.hooks import Hook
from mmengine.logging import print_log
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from intern_mm.models.backbones.freezing import freeze_contract, set_frozen_stages
from intern_mm.registry import HOOKS
from ._schedule_utils import current_step, unwrap_model

__all__ = ['FreezeScheduleHook']


@HOOKS.register_module()
class FreezeScheduleHook(Hook):
    """Freeze and unfreeze parameters by stage or name pattern at given epochs / iterations.

    The schedule is a list of events ``dict(begin=STEP, frozen_stages=K, freeze=[...],
    unfreeze=[...])`` (at least one of the three). ``frozen_stages`` uses the backbone's
    freeze contract (:mod:`intern_mm.models.backbones.freezing`, ``docs/backbones.md``):
    the backbone's own ``frozen_stages`` is set to ``K`` (so its ``train()`` agrees with
    the schedule) and its stage parameters follow it. Patterns are :mod:`fnmatch` globs
    over parameter names of the bare model (``'backbone.*'``,
    ``'backbone.stages.[01].*'``, ``'*.bn*.weight'``), applied after ``frozen_stages``.
    The trainable state at step ``t`` is the state found at ``before_train`` with every
    event whose ``begin <= t`` applied in order, later events winning.

    Robustness:

    * **model.train()**: backbones such as ResNet / MetaNet re-apply ``frozen_stages``
      (``requires_grad=False`` + ``eval()``) in ``train()``, and ``IterBasedTrainLoop``
      calls ``model.train()`` every iteration. The hook therefore re-applies the scheduled
      state in every ``before_train_iter`` (after ``model.train()``), which is cheap: the
      parameter lists are resolved once per event. ``frozen_stages`` events avoid the
      conflict altogether: they change the value ``train()`` applies.
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
        schedule (Sequence[dict]): Events ``dict(begin=int, frozen_stages=int,
            freeze=list[str], unfreeze=list[str])``; at least one of ``frozen_stages`` /
            ``freeze`` / ``unfreeze``.
        by_epoch (bool): Whether ``begin`` counts epochs (else iterations).
            Defaults to False.
        freeze_norm (bool): Put fully frozen BatchNorm layers in eval mode.
            Defaults to True.
        strict (bool): Raise when a pattern matches no parameter. Defaults to True.
        backbone (str): Attribute path of the backbone that ``frozen_stages`` events
            drive. Defaults to ``'backbone'``.

    Example:
        >>> custom_hooks = [
        ...     dict(type='FreezeScheduleHook',
        ...          schedule=[dict(begin=0, freeze=['backbone.*']),
        ...                    dict(begin=200, unfreeze=['backbone.stages.3.*'])])]
        >>> # MetaNet: train only the last two stages and the head, then everything
        >>> custom_hooks = [
        ...     dict(type='FreezeScheduleHook',
        ...          schedule=[dict(begin=0, frozen_stages=4),
        ...                    dict(begin=500, frozen_stages=-1)])]
    """

    priority = 'NORMAL'

    def __init__(self,
                 schedule: Sequence[dict],
                 by_epoch: bool = False,
                 freeze_norm: bool = True,
                 strict: bool = True,
                 backbone: str = 'backbone') -> None:
        if not schedule:
            raise ValueError('FreezeScheduleHook: the schedule is empty')
        # stable sort: events with the same ``begin`` keep their order
        self.events = sorted((self._parse_event(e) for e in schedule),
                             key=lambda e: e['begin'])
        self.by_epoch = by_epoch
        self.freeze_norm = freeze_norm
        self.strict = strict
        self.backbone = backbone
        self._initial: Optional[Dict[str, bool]] = None
        self._initial_stages: Optional[int] = None
        #: frozen_stages value -> backbone parameter names it freezes (and the union
        #: of every stage's names under key None).
        self._stage_params: Dict[Optional[int], set] = {}
        self._applied_index = -2  # number of events applied (-2: never resolved)
        self._frozen: List[nn.Parameter] = []
        self._trainable: List[nn.Parameter] = []
        self._frozen_norms: List[nn.Module] = []

    @classmethod
    def _parse_event(cls, event: dict) -> dict:
        if not isinstance(event, dict):
            raise TypeError(f'FreezeScheduleHook: each event must be a dict, got {event!r}')
        unknown = set(event) - {'begin', 'freeze', 'unfreeze', 'frozen_stages'}
        if unknown:
            raise KeyError(f'FreezeScheduleHook: unknown event keys {sorted(unknown)} '
                           "(allowed: 'begin', 'frozen_stages', 'freeze', 'unfreeze')")
        if 'begin' not in event:
            raise KeyError(f'FreezeScheduleHook: event {event!r} has no "begin"')
        begin = event['begin']
        if int(begin) != begin or begin < 0:
            raise ValueError(f'FreezeScheduleHook: "begin" must be a non-negative '
                             f'integer, got {begin!r}')
        stages = event.get('frozen_stages')
        if stages is not None and (int(stages) != stages or stages < -1):
            raise ValueError(f'FreezeScheduleHook: "frozen_stages" must be an integer '
                             f'>= -1, got {stages!r}')
        freeze = cls._as_list(event.get('freeze', []))
        unfreeze = cls._as_list(event.get('unfreeze', []))
        if not freeze and not unfreeze and stages is None:
            raise ValueError(f'FreezeScheduleHook: event {event!r} freezes and '
                             'unfreezes nothing')
        return dict(begin=int(begin), freeze=freeze, unfreeze=unfreeze,
                    frozen_stages=None if stages is None else int(stages))

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
            if event['frozen_stages'] is not None:
                frozen = self._stage_params[event['frozen_stages']]
                for name in self._stage_params[None]:
                    state[name] = name not in frozen
            for flag, key in ((False, 'freeze'), (True, 'unfreeze')):
                for pattern in event[key]:
                    for name in fnmatch.filter(state.keys(), pattern):
                        state[name] = flag
        return state

    def _num_applied(self, step: int) -> int:
        return sum(1 for e in self.events if e['begin'] <= step)

    def _stages_at(self, step: int) -> Optional[int]:
        stages = self._initial_stages
        for event in self.events:
            if event['begin'] <= step and event['frozen_stages'] is not None:
                stages = event['frozen_stages']
        return stages

    def _resolve_stages(self, model: nn.Module) -> None:
        """Map every scheduled ``frozen_stages`` value to parameter names (once)."""
        values = {e['frozen_stages'] for e in self.events} - {None}
        if not values or self._initial_stages is not None:
            return
        try:
            contract = freeze_contract(model.get_submodule(self.backbone))
        except AttributeError as err:
            raise AttributeError(f'FreezeScheduleHook: the model has no {self.backbone!r} '
                                 'for the frozen_stages events') from err
        for value in values:
            contract.check_frozen_stages(value)
        prefix = self.backbone + '.'
        ids = {id(p): n for n, p in model.named_parameters()}

        def names(stages: int) -> set:
            return {ids[id(p)] for m in contract.frozen_modules(stages)
                    for p in m.parameters() if id(p) in ids and ids[id(p)].startswith(prefix)}

        self._stage_params = {v: names(v) for v in values}
        self._stage_params[None] = names(contract.num_freeze_stages)
        self._initial_stages = contract.frozen_stages

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
        stages = self._stages_at(step)
        if stages is not None:
            set_frozen_stages(model.get_submodule(self.backbone), stages)
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
        self._resolve_stages(model)
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
