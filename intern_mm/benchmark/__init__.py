"""GV-B: the 26-dataset data-efficient adaptation benchmark of INTERN.

Importing this package registers :class:`FrozenBackbone` and the depth head in
intern_mm's ``MODELS`` registry.
"""
from .backbone import (BackboneSpec, build_backbone, describe_backbone_outputs,
                       load_backbone_weights, parse_backbone_spec, pool_features)
from .data_cfgs import cls_dataset_cfg, cls_pipeline, cls_train_pipeline
from .feature_probe import (classification_metrics, evaluate_linear_head,
                            extract_features, feature_linear_probe, sampler_order,
                            train_linear_head)
from .depth_head import GVBDepthHead
from .frozen import FrozenBackbone
from .official import load_official_results
from .protocols import (DEFAULT_RECIPES, ProtocolContext, build_runner_cfg,
                        family_recipe)
from .report import write_report
from .search import search_grid, select_best
from .subsets import (SubsetVerificationError, load_manifest, make_subset,
                      verify_subset)
from .suite import SuiteConfig, run_suite, run_task
from .tasks import (EXTRA_TASKS, GVB_TASKS, GVBTask, get_task, load_task_file,
                    select_tasks)

__all__ = [
    'BackboneSpec', 'build_backbone', 'load_backbone_weights', 'parse_backbone_spec',
    'pool_features', 'describe_backbone_outputs',
    'cls_dataset_cfg', 'cls_pipeline',
    'cls_train_pipeline', 'classification_metrics', 'evaluate_linear_head',
    'extract_features', 'feature_linear_probe', 'sampler_order', 'train_linear_head',
    'FrozenBackbone', 'GVBDepthHead', 'DEFAULT_RECIPES', 'ProtocolContext', 'build_runner_cfg',
    'family_recipe', 'search_grid', 'select_best', 'SubsetVerificationError',
    'load_manifest', 'make_subset', 'verify_subset', 'SuiteConfig', 'run_suite',
    'run_task', 'EXTRA_TASKS', 'GVB_TASKS', 'GVBTask', 'get_task', 'load_task_file',
    'select_tasks', 'load_official_results', 'write_report'
]
