"""Cross-process feature gathering with gradients (negatives for contrastive losses)."""
from typing import List, Tuple

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ['GatherLayer', 'gather_features', 'get_dist_info']


def get_dist_info() -> Tuple[int, int]:
    """Return ``(rank, world_size)``; ``(0, 1)`` when not distributed.

    Returns:
        Tuple[int, int]: The rank of this process and the number of processes.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _gather_sizes(n: int, device: torch.device) -> List[int]:
    local_n = torch.tensor([n], device=device, dtype=torch.long)
    sizes = [torch.zeros_like(local_n) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, local_n)
    return [int(s.item()) for s in sizes]


class GatherLayer(torch.autograd.Function):
    """All-gather along dim 0 whose backward returns every process's gradient.

    Forward gathers the (possibly differently sized) local tensors of all processes.
    Backward sums the gradients that all processes computed for the gathered tensor
    (``all_reduce``) and returns this process's slice, so a loss computed on one process
    with another process's features still trains that process's towers. Only
    ``all_reduce`` and ``all_gather`` are used, so it works with gloo as well as NCCL.

    Example:
        >>> # inside an initialised process group
        >>> gathered = GatherLayer.apply(local_feats, sizes)
    """

    @staticmethod
    def forward(ctx, x: Tensor, sizes: List[int]) -> Tensor:  # type: ignore[override]
        max_n = max(sizes)
        padded = x.new_zeros((max_n, *x.shape[1:]))
        padded[:x.shape[0]] = x
        out = [torch.zeros_like(padded) for _ in sizes]
        dist.all_gather(out, padded.contiguous())
        ctx.sizes = sizes
        ctx.rank = dist.get_rank()
        return torch.cat([o[:n] for o, n in zip(out, sizes)], dim=0)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = sum(ctx.sizes[:ctx.rank])
        return grad[start:start + ctx.sizes[ctx.rank]], None


def gather_features(x: Tensor, with_grad: bool = True) -> Tuple[Tensor, int]:
    """Concatenate ``x`` of every process along dim 0.

    Args:
        x (Tensor): Local features ``(N, ...)``; ``N`` may differ between processes.
        with_grad (bool): Let gradients flow to every process's features
            (:class:`GatherLayer`). With ``False`` the other processes' rows are detached
            and only this process's own rows (the original ``x``) carry gradients.
            Defaults to True.

    Returns:
        Tuple[Tensor, int]: The gathered features ``(sum_r N_r, ...)`` and the offset of
        this process's rows in it (``0`` when not distributed).

    Example:
        >>> feats, offset = gather_features(torch.randn(4, 8))  # single process
        >>> feats.shape, offset
        (torch.Size([4, 8]), 0)
    """
    rank, world_size = get_dist_info()
    if world_size == 1:
        return x, 0
    sizes = _gather_sizes(x.shape[0], x.device)
    offset = sum(sizes[:rank])
    if with_grad:
        return GatherLayer.apply(x, sizes), offset
    with torch.no_grad():
        gathered = GatherLayer.apply(x.detach(), sizes)
    gathered = torch.cat([gathered[:offset], x, gathered[offset + x.shape[0]:]], dim=0)
    return gathered, offset
