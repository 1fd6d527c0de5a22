"""Feature distillation (upstream distillation stage and OTA): distiller, connector, loss."""
from .export import export_student
from .feature_connector import FeatureConnector
from .feature_distill_loss import DISTILL_MODES, FeatureDistillLoss, feature_distill_loss
from .feature_distiller import FeatureDistiller

__all__ = [
    'FeatureDistiller', 'FeatureConnector', 'FeatureDistillLoss', 'feature_distill_loss',
    'DISTILL_MODES', 'export_student'
]
