"""The Up-G multi-task generalist (shared CentralModel + stock task heads) and exports."""
from .export import export_generalist
from .feature_selector import FeatureSelector
from .generalist_model import GeneralistModel
from .multi_task_data_preprocessor import MultiTaskDataPreprocessor
from .shared_backbone_view import SharedBackboneView

__all__ = [
    'GeneralistModel', 'FeatureSelector', 'SharedBackboneView', 'MultiTaskDataPreprocessor',
    'export_generalist'
]
