"""Choose a Downstream-Adaptation recipe on the GV world's val split.

Runs each recipe variant of one family for a fixed panel of a finished paradigm run's
backbones (probed, or fine-tuned with ``--protocol finetune``) and the scratch baseline
(fine-tuning on the training fraction), each in its own folder under
``<work-dir>/recipe_selection/<family>_<variant>``, and prints their **val** scores and
the mean per variant (higher is better; for lower-is-better metrics the mean is reported
as is and the best is the lowest). Test scores are written to the runs' ``result.json``
like every run's, but are not printed: the choice is made on val.

Example::

    python tools/analysis_tools/select_downstream_recipe.py \
        configs/paradigm/intern-paradigm_metanet-tiny_gv-world_4-families.py \
        --work-dir work_dirs/demo --family seg \
        --variant "lr0.01=dict(lr=0.01)" "strides8-4=dict(lr=0.1, head_level=1, aux_level=0)"

    # fine-tuned panel; a variant's "cfg_options" entry holds Runner overrides
    python tools/analysis_tools/select_downstream_recipe.py \
        configs/paradigm/intern-paradigm_metanet-tiny_gv-world_4-families.py \
        --work-dir work_dirs/demo --family depth --protocol finetune --no-scratch \
        --variant "mult1=dict(backbone_lr_mult=1.0)" \
        "clip=dict(cfg_options={'optim_wrapper.clip_grad': dict(max_norm=35)})"
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from intern_mm.apis.cli import DEBUG_FLAG, run_cli  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='pipeline config of the finished run')
    parser.add_argument('--work-dir', required=True, help='the finished run\'s work dir')
    parser.add_argument('--family', required=True, choices=['cls', 'det', 'seg', 'depth'])
    parser.add_argument('--variant', nargs='+', required=True, metavar='NAME=dict(...)',
                        help='recipe overrides of the family, one per variant; a '
                        '"cfg_options" entry holds Runner overrides of the protocol')
    parser.add_argument('--protocol', default='probe', choices=['probe', 'finetune'],
                        help='how the panel\'s backbones are adapted')
    parser.add_argument('--backbones', nargs='+', default=['up-a', 'up-g', 'distill'],
                        help='stages probed in every variant')
    parser.add_argument('--no-scratch', action='store_true',
                        help='leave out the scratch baseline (Up-G architecture)')
    parser.add_argument(DEBUG_FLAG, action='store_true', help='show tracebacks')
    return parser.parse_args(argv)


def select(config, work_dir: str, family: str, variants: Dict[str, dict],
           backbones: List[str], scratch: bool = True, protocol: str = 'probe',
           log=print) -> Dict[str, Dict[str, float]]:
    """Val scores per variant (``{variant: {run: val, ..., 'mean': m}}``).

    Args:
        config (str | Config): The pipeline config (file or loaded).
        work_dir (str): The finished run's work dir.
        family (str): ``'cls'``, ``'det'``, ``'seg'`` or ``'depth'``.
        variants (dict): ``{name: recipe overrides}``; an entry ``cfg_options`` holds
            Runner overrides of the panel's protocol (dotted keys, as the pipeline
            config's ``downstream.cfg_options``).
        backbones (list[str]): Stages adapted in every variant.
        scratch (bool): Add the scratch baseline. Defaults to True.
        protocol (str): ``'probe'`` or ``'finetune'`` for the panel's backbones.
            Defaults to ``'probe'``.
        log (callable): Printer of one line per variant. Defaults to ``print``.

    Returns:
        dict: Val scores (rounded to 0.01) and their mean per variant.
    """
    from mmengine.config import Config

    from intern_mm.paradigm import ParadigmPipeline
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    pipe = ParadigmPipeline(cfg, work_dir=work_dir)
    specs = {name: pipe.stage_backbone(name) for name in backbones}  # finished stages
    scratch_spec = pipe.scratch_backbone() if scratch else None
    if scratch_spec is not None:
        specs['scratch'] = scratch_spec
    table = {}
    for name, variant in variants.items():
        recipe = dict(variant)
        options = recipe.pop('cfg_options', None)
        adapter = pipe.downstream_adapter(
            work_dir=osp.join(pipe.work_dir, 'recipe_selection', f'{family}_{name}'),
            recipes={family: recipe})
        scores = {}
        for run, spec in specs.items():
            if run == 'scratch':
                res = adapter.run(family, 'scratch', spec, 'finetune', scratch=True)
            else:
                res = adapter.run(family, run, spec, protocol, cfg_options=options)
            scores[run] = round(float(res['val_score']), 2)
        scores['mean'] = round(sum(scores.values()) / len(scores), 2)
        table[name] = scores
        log(f'{family} {name} {json.dumps(variant)}: val {json.dumps(scores)}')
    return table


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from intern_mm.benchmark.backbone import parse_dict_string
    from intern_mm.benchmark.tasks import get_task
    from intern_mm.benchmark.gv_world_tasks import GV_WORLD_TASK_OF_FAMILY
    variants = {}
    for item in args.variant:
        name, sep, text = item.partition('=')
        if not sep:
            raise ValueError(f'--variant must look like NAME=dict(...), got {item!r}')
        variants[name.strip()] = parse_dict_string(text)
    table = select(args.config, args.work_dir, args.family, variants, args.backbones,
                   scratch=not args.no_scratch, protocol=args.protocol)
    lower = get_task(GV_WORLD_TASK_OF_FAMILY[args.family]).lower_is_better
    best = (min if lower else max)(table, key=lambda n: table[n]['mean'])
    print(f'chosen on val: {best} (mean {table[best]["mean"]})')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main, prog='select_downstream_recipe.py'))
