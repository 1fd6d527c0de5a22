# The claim's design run on world seed 0 (make claim-design; docs/claim.md, "Design on
# seed 0"): the claim config with schedule grids instead of its chosen points, on its
# stages and at its learning rates. The counterparts (scratch and conventional
# pre-training on 100%, scratch on 10% too) and Up-G's fine-tuning on 10% each go over
# multiples of the recipe's schedule: 1x / 3x / 10x, and 30x in seg and depth, where
# every side still gained at 10x in the first design run. A grid stops at the first
# point that does not improve val by more than 1% (relative): the smallest schedule
# within 1% of the longer one is the converged one. The points chosen here are run by
# _claim_design-points.py (Up-A and the best Up-E fine-tune at Up-G's point); the claim
# config keeps the first design run's, which fit its 90-minute budget.
#
#   python tools/analysis_tools/claim_seeds.py \
#       configs/paradigm/intern-paradigm_metanet-tiny_gv-world_claim_grids.py --seeds 0 \
#       --work-dir work_dirs/claim/design --out work_dirs/claim/design
_base_ = ['./intern-paradigm_metanet-tiny_gv-world_claim.py']

# workers = 2, worker_threads = 1 (the claim config's): the stages and runs as jobs, two
# one-thread processes at once, so the figures do not depend on the machine's cores
_grid = dict(cls=(1, 3, 10), det=(1, 3, 10), seg=(1, 3, 10, 30), depth=(1, 3, 10, 30))
downstream = dict(
    scratch=dict(fractions=(0.1, 1.0), schedules=_grid),
    conventional=dict(schedules=_grid),
    finetune_schedules=dict(_delete_=True, **{'up-g': _grid}),
    grid_min_gain=0.01,
)
