# The claim's design run on world seed 0 (make claim-design; docs/claim.md, "Schedules"):
# the claim config with schedule grids instead of its chosen points. The counterparts
# (scratch and conventional pre-training on 100%) and Up-G's fine-tuning on 10% each go
# over 1x / 3x / 10x the recipe's schedule; a grid stops at the first point that does not
# improve val by more than 1% (relative): the smallest schedule within 1% of the longer
# one is the converged one. The points chosen here are the claim config's schedules; Up-A
# and the best Up-E fine-tune at Up-G's point. They were chosen at the recipes' learning
# rates; this config runs at the rates chosen afterwards (the claim config's; docs/claim.md,
# "Learning rates"), and has not been run at them.
#
#   python tools/analysis_tools/claim_seeds.py \
#       configs/paradigm/intern-paradigm_metanet-tiny_gv-world_claim_grids.py --seeds 0 \
#       --work-dir work_dirs/claim/design --out work_dirs/claim/design
_base_ = ['./intern-paradigm_metanet-tiny_gv-world_claim.py']

# as the design run was made: the stages one after another, then the runs, in one
# process at the machine's threads (2 here)
workers = 1
worker_threads = None

_grid = (1, 3, 10)
downstream = dict(
    scratch=dict(fractions=(0.1, 1.0), schedules=_grid),
    conventional=dict(schedules=_grid),
    finetune_schedules=dict(_delete_=True, **{'up-g': _grid}),
    grid_min_gain=0.01,
)
