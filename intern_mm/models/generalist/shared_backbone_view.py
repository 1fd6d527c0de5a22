"""A stand-in backbone that runs the generalist's shared backbone on a task's images."""
from typing import Callable, Optional, Sequence, Tuple

import torch

from intern_mm.registry import MODELS
from .feature_selector import FeatureSelector

__all__ = ['SharedBackboneView']


@MODELS.register_module()
class SharedBackboneView(FeatureSelector):
    """Backbone of a task model that preprocesses and encodes its own images.

    Most task models inside :class:`~intern_mm.models.generalist.GeneralistModel`
    receive the shared backbone's features (:class:`FeatureSelector`). A model whose
    inputs are not one image tensor (e.g. :class:`~intern_mm.models.upstream.DeCLIP`:
    image views and text views) is given its raw inputs instead (task option
    ``feed='images'``) and calls its backbone itself; this view, sitting there, runs
    the generalist's shared backbone (with the task's BN set) and selects ``indices``.
    It holds no parameters and is not a parent of the shared backbone, so the
    checkpoint keys stay ``backbone.*``.

    Args:
        indices (Sequence[int]): Indices into the shared backbone's output tuple.

    Example:
        >>> view = SharedBackboneView(indices=(1, ))
        >>> view.bind(lambda x: (x, 2 * x))
        >>> float(view(torch.ones(1))[0])
        2.0
    """

    def __init__(self, indices: Sequence[int]) -> None:
        super().__init__(indices)
        self._encode: Optional[Callable] = None

    def bind(self, encode: Callable[[torch.Tensor], tuple]) -> None:
        """Set the function that encodes images (the generalist's ``extract_feat`` for
        this task); kept out of the module tree, so no parameter is registered twice."""
        object.__setattr__(self, '_encode', encode)

    def forward(self, imgs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Shared-backbone outputs ``indices`` of ``imgs``."""
        if self._encode is None:
            raise RuntimeError('SharedBackboneView is not bound to a shared backbone '
                               '(GeneralistModel binds it for tasks with feed="images")')
        return super().forward(tuple(self._encode(imgs)))
