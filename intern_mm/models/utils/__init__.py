"""Model helpers of intern_mm: a backbone's outputs and the loading of its weights."""
from .backbone_outputs import describe_backbone_outputs, pool_features
from .backbone_weights import checkpoint_prefix, load_backbone_weights

__all__ = [
    'describe_backbone_outputs', 'pool_features', 'checkpoint_prefix',
    'load_backbone_weights'
]
