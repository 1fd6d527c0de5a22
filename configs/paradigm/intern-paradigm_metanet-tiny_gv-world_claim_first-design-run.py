# The first design run of the claim on world seed 0 (docs/claim.md, "Design on seed 0";
# its record: docs/claim/design/first-run/seed0.json): the schedule grids of the
# _claim_grids.py config as they were then (1x / 3x / 10x in every family), at the
# recipes' learning rates, in one process at the machine's threads (2 here), with the
# experts at 300 iterations and the cls and det experts fine-tuning Up-A's backbone at 0.1
# of the learning rate, as in the first demo. Its stages and runs chose the claim
# config's sizes and first schedules; the claim config then set the cls and det experts
# to the full rate, chose the learning rates and trained the experts 3x as long.
#
#   python tools/analysis_tools/claim_seeds.py \
#       configs/paradigm/intern-paradigm_metanet-tiny_gv-world_claim_first-design-run.py \
#       --seeds 0 --work-dir work_dirs/claim --out docs/claim/design/first-run
_base_ = ['./intern-paradigm_metanet-tiny_gv-world_claim_grids.py']

workers = 1
worker_threads = None

_tenth_rate = {'optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mult': 0.1}
# the experts at 300 iterations, the conventional classifier at 450
_stages = _base_._stages_300it
stage_overrides = {**_stages,
                   'up-e-cls': dict(_stages['up-e-cls'], cfg_options=_tenth_rate),
                   'up-e-det': dict(_stages['up-e-det'], cfg_options=_tenth_rate)}
_grid = (1, 3, 10)
downstream = dict(
    scratch=dict(schedules=dict(_delete_=True, **{row: _grid for row in _base_._grid}),
                 recipes=dict(_delete_=True)),
    conventional=dict(schedules=dict(_delete_=True, **{row: _grid for row in _base_._grid}),
                      recipes=dict(_delete_=True)),
    finetune_schedules=dict(_delete_=True, **{'up-g': _grid}),
    # the recipes' rates (intern_mm/benchmark/gv_world_tasks.py)
    recipes=dict(_delete_=True, cls=dict(batch_size=16), det=dict(repeat=70)))
