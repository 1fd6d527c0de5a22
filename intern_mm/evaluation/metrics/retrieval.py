"""Image<->text retrieval accuracy of an image-text model (Up-A's validation metric)."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric

from intern_mm.registry import METRICS

__all__ = ['ImageTextRetrievalMetric', 'retrieval_accuracy']


def retrieval_accuracy(img_feats: torch.Tensor,
                       text_feats: torch.Tensor,
                       captions: Optional[Sequence[str]] = None,
                       topk: Sequence[int] = (1, 5)) -> Dict[str, float]:
    """Top-k image->text and text->image retrieval accuracy (%) over a gallery.

    Image ``i`` is paired with text ``i``. A retrieved text (image) counts as correct when
    it is the pair's own or, with ``captions`` given, when its caption is identical to the
    query's caption (synthetic worlds repeat captions; identical texts are
    indistinguishable, so the retrieval is equally right).

    Args:
        img_feats (Tensor): ``(N, D)`` image embeddings (cosine similarity is used).
        text_feats (Tensor): ``(N, D)`` text embeddings.
        captions (Sequence[str], optional): The ``N`` caption strings.
        topk (Sequence[int]): The k values. Defaults to ``(1, 5)``.

    Returns:
        dict[str, float]: ``i2t_top{k}``, ``t2i_top{k}`` and ``chance_top1`` (the
        expected top-1 accuracy of a random ranking).

    Example:
        >>> x = torch.eye(3)
        >>> retrieval_accuracy(x, x, topk=(1, ))['i2t_top1']
        100.0
    """
    if img_feats.shape != text_feats.shape or img_feats.dim() != 2:
        raise ValueError('image and text features must both be (N, D), got '
                         f'{tuple(img_feats.shape)} and {tuple(text_feats.shape)}')
    n = img_feats.shape[0]
    if captions is not None and len(captions) != n:
        raise ValueError(f'{len(captions)} captions for {n} image-text pairs')
    img = torch.nn.functional.normalize(img_feats.float(), dim=-1)
    txt = torch.nn.functional.normalize(text_feats.float(), dim=-1)
    sim = img @ txt.t()
    if captions is not None:
        ids = {c: i for i, c in enumerate(dict.fromkeys(captions))}
        cid = torch.tensor([ids[c] for c in captions])
        same = cid[:, None] == cid[None, :]
    else:
        same = torch.eye(n, dtype=torch.bool)
    results = {}
    for k in topk:
        k_ = min(k, n)
        i2t = sim.topk(k_, dim=1).indices  # (N, k): texts for each image
        t2i = sim.t().topk(k_, dim=1).indices  # (N, k): images for each text
        results[f'i2t_top{k}'] = same.gather(1, i2t).any(dim=1).float().mean().item() * 100
        results[f't2i_top{k}'] = same.gather(1, t2i).any(dim=1).float().mean().item() * 100
    results['chance_top1'] = same.float().mean(dim=1).mean().item() * 100
    return results


@METRICS.register_module()
class ImageTextRetrievalMetric(BaseMetric):
    """Retrieval accuracy between the image and text embeddings of a validation set.

    Expects model predictions (data samples) with ``img_feat`` and ``text_feat`` (as
    ``DeCLIP`` returns in ``predict`` mode) and the caption in metainfo ``text``.
    See :func:`retrieval_accuracy`; results are gathered over all processes first.

    Args:
        topk (Sequence[int]): The k values. Defaults to ``(1, 5)``.
        collect_device (str): ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Metric name prefix. Defaults to ``'retrieval'``.

    Example:
        >>> val_evaluator = dict(type='ImageTextRetrievalMetric', topk=(1, 5))
    """

    default_prefix: Optional[str] = 'retrieval'

    def __init__(self,
                 topk: Sequence[int] = (1, 5),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not topk or any(int(k) < 1 for k in topk):
            raise ValueError(f'topk must be positive integers, got {topk}')
        self.topk = tuple(int(k) for k in topk)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store each sample's embeddings and caption."""
        for sample in data_samples:
            if 'img_feat' not in sample or 'text_feat' not in sample:
                raise KeyError('ImageTextRetrievalMetric needs "img_feat" and "text_feat" '
                               f'in the predictions, got keys {sorted(sample)}')
            self.results.append(
                dict(
                    img=sample['img_feat'].detach().cpu(),
                    txt=sample['text_feat'].detach().cpu(),
                    caption=sample.get('text')))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Compute the accuracies from all processes' results."""
        img = torch.stack([r['img'] for r in results])
        txt = torch.stack([r['txt'] for r in results])
        captions = [r['caption'] for r in results]
        if any(c is None for c in captions):
            captions = None
        return retrieval_accuracy(img, txt, captions, self.topk)
