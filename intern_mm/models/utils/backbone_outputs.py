"""What a backbone returns: its outputs' channels and strides, and a pooled feature vector.

Used by the GV-B protocols (necks and heads sized to the backbone), the feature probes and
the feature distiller (connectors between student and teacher levels).
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

__all__ = ['describe_backbone_outputs', 'pool_features']


def pool_features(outputs: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
    """Pool the last backbone output into a ``(N, C)`` vector.

    Same computation as mmpretrain's ``GlobalAveragePooling`` neck on 4-D maps; 2-D
    outputs (e.g. MetaNet's pooled index 4) pass unchanged.

    Args:
        outputs (Tensor | Sequence[Tensor]): Backbone output(s).

    Returns:
        Tensor: ``(N, C)`` features.

    Example:
        >>> pool_features((torch.ones(2, 8, 4, 4), torch.ones(2, 16, 2, 2))).shape
        torch.Size([2, 16])
    """
    feat = outputs[-1] if isinstance(outputs, (tuple, list)) else outputs
    if feat.dim() == 4:
        return feat.mean(dim=(2, 3))
    if feat.dim() == 3:  # (N, L, C) tokens
        return feat.mean(dim=1)
    if feat.dim() == 2:
        return feat
    raise ValueError(f'cannot pool a backbone output of shape {tuple(feat.shape)}')


@torch.no_grad()
def describe_backbone_outputs(backbone: nn.Module,
                              img_size: int = 64) -> List[Tuple[int, Optional[int]]]:
    """Describe a backbone's outputs by a dummy forward.

    Args:
        backbone (nn.Module): The backbone (its train/eval mode is restored afterwards).
        img_size (int): Side of the dummy square input. Defaults to 64.

    Returns:
        list[tuple[int, int | None]]: ``(channels, stride)`` of each output; the stride
        is None for vector outputs.

    Example:
        >>> from mmpretrain.models import ResNet
        >>> net = ResNet(depth=18, out_indices=(0, 1, 2, 3))
        >>> describe_backbone_outputs(net)
        [(64, 4), (128, 8), (256, 16), (512, 32)]
    """
    was_training = backbone.training
    backbone.eval()
    try:
        param = next(backbone.parameters(), None)
        device = param.device if param is not None else torch.device('cpu')
        outs = backbone(torch.zeros(1, 3, img_size, img_size, device=device))
    finally:
        backbone.train(was_training)
    if isinstance(outs, torch.Tensor):
        outs = (outs, )
    desc = []
    for out in outs:
        if out.dim() == 4:
            desc.append((int(out.shape[1]), int(round(img_size / out.shape[-1]))))
        else:
            desc.append((int(out.shape[-1]), None))
    return desc
