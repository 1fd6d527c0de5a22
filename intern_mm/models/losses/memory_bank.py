"""FIFO feature memory bank with nearest-neighbour look-up."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

__all__ = ['FeatureMemoryBank']


class FeatureMemoryBank(nn.Module):
    """A FIFO queue of L2-normalised features (kept in the state dict, so it resumes).

    Args:
        size (int): Number of features the bank holds. DeCLIP uses ``2 ** 16``.
        dim (int): Feature dimension.

    Example:
        >>> bank = FeatureMemoryBank(size=8, dim=4)
        >>> bank.enqueue(torch.eye(4))
        >>> bank.nearest(torch.tensor([[0., 1., 0.1, 0.]]))[1]
        tensor([1])
    """

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        if size <= 0 or dim <= 0:
            raise ValueError(f'FeatureMemoryBank needs size > 0 and dim > 0, got {size}, {dim}')
        self.size = size
        self.dim = dim
        self.register_buffer('queue', torch.zeros(size, dim))
        self.register_buffer('ptr', torch.zeros((), dtype=torch.long))
        self.register_buffer('num_filled', torch.zeros((), dtype=torch.long))

    def __len__(self) -> int:
        return int(self.num_filled)

    @torch.no_grad()
    def enqueue(self, feats: Tensor) -> None:
        """Append features, overwriting the oldest ones when full.

        Args:
            feats (Tensor): ``(N, dim)``; normalised before storing.
        """
        if feats.dim() != 2 or feats.shape[1] != self.dim:
            raise ValueError(f'expected features of shape (N, {self.dim}), '
                             f'got {tuple(feats.shape)}')
        feats = F.normalize(feats.detach().float(), dim=-1)[-self.size:]
        n = feats.shape[0]
        idx = (int(self.ptr) + torch.arange(n, device=feats.device)) % self.size
        self.queue[idx] = feats.to(self.queue)
        self.ptr.fill_((int(self.ptr) + n) % self.size)
        self.num_filled.fill_(min(self.size, int(self.num_filled) + n))

    @torch.no_grad()
    def nearest(self, query: Tensor) -> tuple[Tensor, Tensor]:
        """Top-1 cosine nearest neighbour of each query among the stored features.

        Args:
            query (Tensor): ``(N, dim)``.

        Returns:
            tuple[Tensor, Tensor]: The neighbours ``(N, dim)`` (normalised) and their
            indices ``(N,)`` in :attr:`queue`.

        Raises:
            RuntimeError: If the bank is empty.
        """
        if len(self) == 0:
            raise RuntimeError('the memory bank is empty: enqueue features first')
        stored = self.queue[:len(self)]
        sim = F.normalize(query.detach().float(), dim=-1) @ stored.t()
        idx = sim.argmax(dim=1)
        return stored[idx].to(query.dtype), idx
