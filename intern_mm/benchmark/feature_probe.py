"""Fast frozen-backbone linear probe on cached features.

With a frozen backbone (eval mode, BN statistics fixed) and a deterministic test-style
pipeline (resize + centre crop, no augmentation), every training iteration of the GV-B
classification probe feeds the *same* feature vector of an image to the linear head. So
the features can be extracted once, and the linear head trained on the cached vectors
with exactly the GV-B recipe:

* SGD (lr, momentum, weight decay on weight and bias), cross-entropy loss,
* ``max_iters`` iterations of batch ``batch_size``, step decay (x ``gamma``) at
  ``milestones`` (per iteration, like mmengine's ``MultiStepLR(by_epoch=False)``),
* the sampling order of mmengine's ``DefaultSampler(shuffle=True, seed=seed)`` driven by
  ``IterBasedTrainLoop`` (permutation ``randperm(n, seed + epoch)`` per pass, the last batch
  of a pass may be smaller),
* a zero-initialised linear head (the problem is convex; the iteration-by-iteration
  protocol of :mod:`intern_mm.benchmark.protocols` uses the same initialisation), so both
  protocols perform the same computation up to floating-point summation order.

The wall time is then one forward pass over the training subset and the test set plus a
few seconds of matrix products.

Example:
    >>> from intern_mm.benchmark import feature_linear_probe, cls_dataset_cfg
    >>> train = cls_dataset_cfg('data/cifar10', ann_file='subsets/subset.txt',
    ...                         classes='subsets/classes.txt')
    >>> test = cls_dataset_cfg('data/cifar10', data_prefix='test')  # ImageFolder
    >>> res = feature_linear_probe(dict(type='mmpretrain.ResNet', depth=18), train, test,
    ...                            max_iters=1000, milestones=(300, 600, 900))
    >>> res['top1'], res['mean_per_class']
"""
import copy
import time
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from intern_mm.models.utils import pool_features
from .backbone import (DEFAULT_CLS_PREPROCESSOR, BackboneSpec, build_backbone,
                       parse_backbone_spec)

__all__ = [
    'feature_linear_probe', 'extract_features', 'train_linear_head',
    'evaluate_linear_head', 'sampler_order', 'classification_metrics',
    'build_cls_dataset', 'METRIC_NAMES'
]

#: Metric conventions accepted by the probe.
METRIC_NAMES = ('top1', 'mean_per_class')


def build_cls_dataset(dataset: Union[Dataset, dict]) -> Dataset:
    """Build a classification dataset from a config (mmpretrain scope) or pass it on.

    Args:
        dataset (Dataset | dict): A dataset or its config.

    Returns:
        Dataset: The dataset.
    """
    if isinstance(dataset, dict):
        import mmpretrain.datasets  # noqa: F401  (fills the registry)
        from mmengine.registry import DefaultScope
        from mmpretrain.registry import DATASETS
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            return DATASETS.build(copy.deepcopy(dataset))
    return dataset


def _build_preprocessor(cfg: Optional[Union[dict, nn.Module]]) -> nn.Module:
    if isinstance(cfg, nn.Module):
        return cfg
    cfg = copy.deepcopy(cfg or DEFAULT_CLS_PREPROCESSOR)
    if '.' not in str(cfg.get('type', '')):
        cfg['type'] = f"mmpretrain.{cfg.get('type', 'ClsDataPreprocessor')}"
    import mmpretrain.models  # noqa: F401
    from intern_mm.registry import MODELS
    return MODELS.build(cfg)


def _gt_label(sample) -> int:
    label = sample.gt_label
    return int(label.item() if hasattr(label, 'item') else label[0])


@torch.no_grad()
def extract_features(backbone: nn.Module,
                     dataset: Union[Dataset, dict],
                     data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                     batch_size: int = 128,
                     num_workers: int = 0,
                     device: Union[str, torch.device] = 'cpu'
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Run the frozen backbone once over a dataset and pool its last output.

    The backbone is put in eval mode (BN statistics are used, never updated) and runs
    under ``torch.no_grad``; its original mode is restored afterwards.

    Args:
        backbone (nn.Module): The backbone.
        dataset (Dataset | dict): An mmpretrain-style dataset whose items are
            ``dict(inputs=..., data_samples=...)`` (after ``PackInputs``), or its config.
        data_preprocessor (dict | nn.Module, optional): Normalisation; defaults to the
            ImageNet ``ClsDataPreprocessor``.
        batch_size (int): Extraction batch size (does not change the result).
        num_workers (int): DataLoader workers.
        device (str | torch.device): Where to run the backbone.

    Returns:
        tuple[Tensor, Tensor]: ``(N, C)`` float32 features and ``(N,)`` int64 labels
        (on the CPU), in dataset order.
    """
    from mmengine.dataset import pseudo_collate
    dataset = build_cls_dataset(dataset)
    preprocessor = _build_preprocessor(data_preprocessor).to(device)
    was_training = backbone.training
    backbone.eval()
    backbone.to(device)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=pseudo_collate)
    feats: List[torch.Tensor] = []
    labels: List[int] = []
    try:
        for batch in loader:
            data = preprocessor(batch, training=False)
            feats.append(pool_features(backbone(data['inputs'])).float().cpu())
            labels.extend(_gt_label(s) for s in data['data_samples'])
    finally:
        backbone.train(was_training)
    if not feats:
        raise ValueError('the dataset is empty: no features extracted')
    return torch.cat(feats), torch.tensor(labels, dtype=torch.long)


def sampler_order(num_samples: int, seed: int, max_iters: int, batch_size: int,
                  drop_last: bool = True) -> List[torch.Tensor]:
    """Reproduce the batches of ``DefaultSampler(shuffle=True)`` in an iteration loop.

    Args:
        num_samples (int): Dataset length.
        seed (int): Sampler seed (mmengine passes the runner's ``randomness.seed``).
        max_iters (int): Number of iterations.
        batch_size (int): Batch size.
        drop_last (bool): Drop each epoch's incomplete last batch, as GV-B's training
            loaders do. Defaults to True.

    Returns:
        list[Tensor]: ``max_iters`` index tensors.

    Raises:
        ValueError: If ``drop_last`` and the dataset is smaller than one batch.
    """
    if drop_last and num_samples < batch_size:
        raise ValueError(f'{num_samples} training samples are fewer than one batch of '
                         f'{batch_size} (the loader drops incomplete batches): lower the '
                         'batch size')
    batches: List[torch.Tensor] = []
    epoch = 0
    stop = num_samples - batch_size + 1 if drop_last else num_samples
    while len(batches) < max_iters:
        g = torch.Generator()
        g.manual_seed(seed + epoch)
        perm = torch.randperm(num_samples, generator=g)
        for start in range(0, stop, batch_size):
            batches.append(perm[start:start + batch_size])
            if len(batches) == max_iters:
                break
        epoch += 1
    return batches


def _check_features(features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> None:
    if features.dim() != 2 or features.shape[0] != labels.shape[0]:
        raise ValueError(f'features {tuple(features.shape)} and labels '
                         f'{tuple(labels.shape)} do not match')
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f'labels must lie in [0, {num_classes}), got '
                         f'[{int(labels.min())}, {int(labels.max())}]')


def train_linear_head(features: torch.Tensor,
                      labels: torch.Tensor,
                      num_classes: int,
                      lr: float = 0.01,
                      momentum: float = 0.9,
                      weight_decay: float = 1e-3,
                      max_iters: int = 10000,
                      milestones: Sequence[int] = (3000, 6000, 9000),
                      gamma: float = 0.1,
                      batch_size: int = 64,
                      seed: int = 0,
                      device: Union[str, torch.device] = 'cpu') -> nn.Linear:
    """Train a zero-initialised linear classifier on cached features (GV-B recipe).

    Args:
        features (Tensor): ``(N, C)`` training features.
        labels (Tensor): ``(N,)`` labels in ``[0, num_classes)``.
        num_classes (int): Number of classes.
        lr (float): Initial learning rate. Defaults to 0.01.
        momentum (float): SGD momentum. Defaults to 0.9.
        weight_decay (float): Weight decay (weight and bias). Defaults to 1e-3.
        max_iters (int): Iterations. Defaults to 10000.
        milestones (Sequence[int]): Iterations at which lr is multiplied by ``gamma``.
        gamma (float): Decay factor. Defaults to 0.1.
        batch_size (int): Batch size. Defaults to 64.
        seed (int): Sampling seed. Defaults to 0.
        device (str | torch.device): Device. Defaults to ``'cpu'``.

    Returns:
        nn.Linear: The trained head (on the CPU).
    """
    _check_features(features, labels, num_classes)
    head = nn.Linear(features.shape[1], num_classes).to(device)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    optimizer = torch.optim.SGD(
        head.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(milestones), gamma=gamma)
    feats = features.to(device)
    targets = labels.to(device)
    # The per-iteration ops are tiny: on the CPU, intra-op threading only adds
    # synchronisation overhead (30x slower on a busy machine), so run single-threaded.
    threads = torch.get_num_threads()
    if torch.device(device).type == 'cpu':
        torch.set_num_threads(1)
    try:
        for idx in sampler_order(len(feats), seed, max_iters, batch_size):
            idx = idx.to(device)
            loss = F.cross_entropy(head(feats[idx]), targets[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
    finally:
        torch.set_num_threads(threads)
    return head.cpu()


def classification_metrics(scores: torch.Tensor, labels: torch.Tensor,
                           num_classes: Optional[int] = None) -> Dict[str, float]:
    """Top-1 and mean per-class accuracy (in percent) of class scores.

    Mean per-class accuracy is the macro-averaged recall of mmpretrain's
    ``SingleLabelMetric`` (the metric the Runner protocol reports).

    Args:
        scores (Tensor): ``(N, K)`` scores.
        labels (Tensor): ``(N,)`` labels.
        num_classes (int, optional): Number of classes (defaults to ``K``).

    Returns:
        dict: ``{'top1': float, 'mean_per_class': float}``.
    """
    from mmpretrain.evaluation import Accuracy, SingleLabelMetric
    num_classes = num_classes or scores.shape[1]
    top1 = Accuracy.calculate(scores, labels, topk=(1, ), thrs=(None, ))[0][0]
    _, recall, _, _ = SingleLabelMetric.calculate(
        scores.argmax(dim=1), labels, average='macro', num_classes=num_classes)
    return dict(top1=float(top1), mean_per_class=float(recall))


@torch.no_grad()
def evaluate_linear_head(head: nn.Linear, features: torch.Tensor,
                         labels: torch.Tensor) -> Dict[str, float]:
    """Evaluate a linear head on cached features.

    Args:
        head (nn.Linear): The head.
        features (Tensor): ``(N, C)`` features.
        labels (Tensor): ``(N,)`` labels.

    Returns:
        dict: ``{'top1': float, 'mean_per_class': float}`` in percent.
    """
    scores = F.softmax(head(features.to(head.weight.device)), dim=1).cpu()
    return classification_metrics(scores, labels, head.out_features)


def _num_classes(dataset: Dataset, labels: torch.Tensor) -> int:
    meta = getattr(dataset, 'metainfo', None) or {}
    classes = meta.get('classes')
    if classes:
        return len(classes)
    return int(labels.max()) + 1


def feature_linear_probe(backbone: Union[nn.Module, dict, str, BackboneSpec],
                         train_dataset: Union[Dataset, dict],
                         test_dataset: Union[Dataset, dict],
                         lr: float = 0.01,
                         momentum: float = 0.9,
                         weight_decay: float = 1e-3,
                         max_iters: int = 10000,
                         milestones: Sequence[int] = (3000, 6000, 9000),
                         batch_size: int = 64,
                         seed: int = 0,
                         metric: str = 'top1',
                         gamma: float = 0.1,
                         num_classes: Optional[int] = None,
                         checkpoint: Optional[str] = None,
                         data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                         extract_batch_size: int = 128,
                         num_workers: int = 0,
                         device: Union[str, torch.device] = 'cpu',
                         cached: Optional[Dict[str, Tuple[torch.Tensor,
                                                          torch.Tensor]]] = None,
                         return_artifacts: bool = False) -> Dict[str, object]:
    """Linear probe of a frozen backbone on cached features (GV-B recipe).

    Args:
        backbone (nn.Module | dict | str | BackboneSpec): The backbone module (a model
            with a ``backbone`` attribute is accepted too) or any specification
            :func:`~intern_mm.benchmark.backbone.parse_backbone_spec` takes.
        train_dataset (Dataset | dict): Training set (or config), test-style pipeline.
        test_dataset (Dataset | dict): Test set (or config).
        lr, momentum, weight_decay, max_iters, milestones, batch_size, seed, gamma: The
            recipe (defaults: the GV-B fixed schedule).
        metric (str): Main metric, ``'top1'`` or ``'mean_per_class'``.
        num_classes (int, optional): Defaults to the dataset's ``classes``.
        checkpoint (str, optional): Backbone checkpoint to load.
        data_preprocessor (dict | nn.Module, optional): Defaults to the model config's
            or the ImageNet ``ClsDataPreprocessor``.
        extract_batch_size (int): Batch size of the feature extraction.
        num_workers (int): DataLoader workers of the extraction.
        device (str | torch.device): Device.
        cached (dict, optional): Pre-extracted ``{'train': (feats, labels), 'test': ...}``;
            the backbone is then not run.
        return_artifacts (bool): Also return the trained ``head`` and the cached
            ``features`` (not JSON-serialisable). Defaults to False.

    Returns:
        dict: ``metric``, ``score`` (the main metric), ``top1``, ``mean_per_class`` (in
        percent), ``num_train``, ``num_test``, ``feat_dim``, ``num_classes``, the recipe
        and ``time`` (``extract_s``, ``train_s``, ``eval_s``, ``total_s``).

    Raises:
        ValueError: On an unknown metric or empty datasets.
    """
    if metric not in METRIC_NAMES:
        raise ValueError(f'unknown metric "{metric}", expected one of {METRIC_NAMES}')
    t0 = time.perf_counter()
    train_set = test_set = None
    if cached is None:
        if not isinstance(backbone, nn.Module):
            spec = parse_backbone_spec(backbone, checkpoint=checkpoint)
            data_preprocessor = data_preprocessor or spec.data_preprocessor
            module = build_backbone(spec)
        else:
            module = build_backbone(backbone, checkpoint=checkpoint)
        train_set = build_cls_dataset(train_dataset)
        test_set = build_cls_dataset(test_dataset)
        kwargs = dict(data_preprocessor=data_preprocessor, batch_size=extract_batch_size,
                      num_workers=num_workers, device=device)
        train_feats, train_labels = extract_features(module, train_set, **kwargs)
        test_feats, test_labels = extract_features(module, test_set, **kwargs)
    else:
        train_feats, train_labels = cached['train']
        test_feats, test_labels = cached['test']
    t1 = time.perf_counter()
    if num_classes is None:
        num_classes = _num_classes(train_set, train_labels) if train_set is not None \
            else int(max(train_labels.max(), test_labels.max())) + 1
    head = train_linear_head(
        train_feats, train_labels, num_classes, lr=lr, momentum=momentum,
        weight_decay=weight_decay, max_iters=max_iters, milestones=milestones,
        gamma=gamma, batch_size=batch_size, seed=seed, device=device)
    t2 = time.perf_counter()
    metrics = evaluate_linear_head(head, test_feats, test_labels)
    t3 = time.perf_counter()
    result = dict(
        metric=metric,
        score=metrics[metric],
        top1=metrics['top1'],
        mean_per_class=metrics['mean_per_class'],
        num_train=int(train_feats.shape[0]),
        num_test=int(test_feats.shape[0]),
        feat_dim=int(train_feats.shape[1]),
        num_classes=int(num_classes),
        recipe=dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                    max_iters=max_iters, milestones=list(milestones), gamma=gamma,
                    batch_size=batch_size, seed=seed),
        time=dict(extract_s=t1 - t0, train_s=t2 - t1, eval_s=t3 - t2, total_s=t3 - t0))
    if return_artifacts:
        result['head'] = head
        result['features'] = dict(
            train=(train_feats, train_labels), test=(test_feats, test_labels))
    return result
