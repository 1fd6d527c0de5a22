"""Model helpers shared by tests."""
import torch
import torch.nn as nn


def randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm2d non-trivial statistics and scales (seeded), so that
    folding them into convolutions is actually tested, and put ``model`` in eval mode.
    """
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.2, generator=g)
            m.running_var.uniform_(0.5, 1.5, generator=g)
            m.weight.data.uniform_(0.5, 1.5, generator=g)
    model.eval()  # (no chaining: mmpretrain's ResNet.train() returns None)
    return model


def toy_declip_cfg(words, simsiam_dim: int = 64, bank_size: int = 64) -> dict:
    """A DeCLIP config (without ``type`` / ``backbone``) small enough for CPU tests: a
    one-layer 32-wide text tower over ``words`` and SimSiam heads ``simsiam_dim`` wide,
    on the tiny MetaNet's 1280-d feature."""
    return dict(
        img_feat_dim=1280,
        text_encoder=dict(type='TextTransformer', width=32, depth=1, num_heads=2),
        tokenizer=dict(type='CaptionTokenizer', words=words, context_length=12),
        embed_dim=32,
        loss_nn=dict(type='NearestNeighbourLoss', bank_size=bank_size),
        simsiam_projector=dict(
            type='mmpretrain.NonLinearNeck', hid_channels=simsiam_dim,
            out_channels=simsiam_dim, num_layers=2, with_last_bn_affine=False,
            with_avg_pool=False, norm_cfg=dict(type='BN1d')),
        simsiam_predictor=dict(
            type='mmpretrain.NonLinearNeck', hid_channels=16, out_channels=simsiam_dim,
            num_layers=2, with_avg_pool=False, with_last_bn=False, with_last_bias=True,
            norm_cfg=dict(type='BN1d')))
