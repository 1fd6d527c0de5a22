# The claim's design run (make claim-design's grids, stages and rates) on a smaller
# downstream stream: 100 training images per task instead of 200, so the 10% subsets hold
# about 10 images (9-11, stratified) and the upstream's 2100 training images are 21x the
# 100% set (docs/claim.md, "Sizes and scale"). Val (100) and test (300) keep their sizes.
# The sizes fit the subsets: batches of 8 in cls, seg and depth (16 would be larger than
# a subset), and detection repeats the subset twice as often (140; the 100% set 14
# times), so that a detection epoch keeps its length (87 iterations on 100%). Measured
# on world seed 0 only: a design question (does a smaller downstream set narrow the
# margins?), not a report.
#
#   python tools/analysis_tools/claim_seeds.py \
#       configs/paradigm/intern-paradigm_metanet-tiny_gv-world_claim_grids_downstream-100.py \
#       --seeds 0 --threads 1 --work-dir work_dirs/claim/downstream-100 \
#       --out docs/claim/downstream-100
# (the stages are the claim config's on world seed 0: copying
# work_dirs/claim/design/seed0/stages into the work dir first reuses them)
_base_ = ['./intern-paradigm_metanet-tiny_gv-world_claim_grids.py']

world = dict(root='data/gv_world_claim_downstream-100', downstream=dict(train=100))
downstream = dict(recipes=dict(cls=dict(batch_size=8), det=dict(repeat=140),
                               seg=dict(batch_size=8), depth=dict(batch_size=8)))
