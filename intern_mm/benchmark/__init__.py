"""GV-B: the 26-dataset data-efficient adaptation benchmark of INTERN.

The models it builds (``FrozenBackbone``, ``GVBDepthHead``) and the backbone helpers
(outputs, weight loading) live in :mod:`intern_mm.models`; importing this package
registers nothing.
"""
from intern_mm.datasets.gvb.manifest import (SubsetVerificationError, load_manifest,
                                             verify_subset)
from intern_mm.datasets.gvb.subsets import make_subset
from .backbone import BackboneSpec, build_backbone, parse_backbone_spec
from .data_cfgs import cls_dataset_cfg, cls_pipeline, cls_train_pipeline
from .feature_probe import (classification_metrics, evaluate_linear_head,
                            extract_features, feature_linear_probe, sampler_order,
                            train_linear_head)
from .official import load_official_results
from .protocols import (DEFAULT_RECIPES, ProtocolContext, build_runner_cfg,
                        family_recipe)
from .report import write_report
from .search import search_grid, select_best
from .suite import SuiteConfig, run_suite, run_task
from .tasks import (EXTRA_TASKS, GVB_TASKS, GVBTask, get_task, load_task_file,
                    select_tasks)

__all__ = [
    'BackboneSpec', 'build_backbone', 'parse_backbone_spec', 'cls_dataset_cfg', 'cls_pipeline',
    'cls_train_pipeline', 'classification_metrics', 'evaluate_linear_head',
    'extract_features', 'feature_linear_probe', 'sampler_order', 'train_linear_head',
    'DEFAULT_RECIPES', 'ProtocolContext', 'build_runner_cfg',
    'family_recipe', 'search_grid', 'select_best', 'SubsetVerificationError',
    'load_manifest', 'make_subset', 'verify_subset', 'SuiteConfig', 'run_suite',
    'run_task', 'EXTRA_TASKS', 'GVB_TASKS', 'GVBTask', 'get_task', 'load_task_file',
    'select_tasks', 'load_official_results', 'write_report'
]
