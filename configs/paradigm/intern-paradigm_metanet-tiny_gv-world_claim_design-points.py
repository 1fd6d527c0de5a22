# The claim at the schedules that make claim-design chose on the claim config's stages
# (world seed 0's val; docs/claim/design/seed0.json, docs/claim.md "Design on the shipped
# stages"): det 10x on every side, seg 30x on every side (the largest point, still
# gaining), depth 10x for the 10% runs and 30x for the counterparts (still gaining),
# cls 3x for the 10% fine-tuning and scratch, 1x for conventional. One seed costs about
# twice the claim config's, so make claim keeps the claim config's points (its 90-minute
# budget); this config measures what the longer schedules change on a report seed.
#
#   python tools/analysis_tools/claim_seeds.py \
#       configs/paradigm/intern-paradigm_metanet-tiny_gv-world_claim_design-points.py \
#       --seeds 1 2 3 --threads 1 --work-dir work_dirs/claim_design-points \
#       --out docs/claim/design-points
# (each seed measured on its own, reusing make claim's stages and shared runs: copy
# work_dirs/claim/seed<N> into the work dir first)
_base_ = ['./intern-paradigm_metanet-tiny_gv-world_claim.py']

_finetune = dict(cls=(3, ), det=(10, ), seg=(30, ), depth=(10, ))
downstream = dict(
    scratch=dict(schedules=dict(cls=(3, ), det=(10, ), seg=(30, ), depth=(30, ))),
    conventional=dict(schedules=dict(cls=(1, ), det=(10, ), seg=(30, ), depth=(30, ))),
    finetune_schedules={role: _finetune for role in ('up-a', 'best-up-e', 'up-g')},
)
