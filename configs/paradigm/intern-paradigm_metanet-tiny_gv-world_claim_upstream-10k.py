# The claim config on a larger upstream: a world of 10,000 images instead of 3000, so the
# upstream sources train on 7000 images, 35x the downstream 100% set (200) instead of
# 10.5x (docs/claim.md, "A larger upstream"). Everything else is the claim config's: the
# stages train as many iterations (they see each image about a third as often), the
# downstream stream is the same (its scenes depend on the seed and image id only), and
# the counterparts and 10% runs keep their points and rates. Measured on world seed 0
# (the design seed) only.
#
#   python tools/analysis_tools/claim_seeds.py \
#       configs/paradigm/intern-paradigm_metanet-tiny_gv-world_claim_upstream-10k.py \
#       --seeds 0 --threads 1 --work-dir work_dirs/claim/upstream-10k \
#       --out docs/claim/upstream-10k
# (scratch does not read the upstream: copying its four runs from
# work_dirs/claim/design/seed0/downstream into the work dir first reuses them)
_base_ = ['./intern-paradigm_metanet-tiny_gv-world_claim.py']

world = dict(root='data/gv_world_claim_upstream-10k', num=10000)
