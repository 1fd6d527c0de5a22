# INTERN's claim on the GV world, all four task families: the demo's stages, then
# Downstream-Adaptation on count (cls), colour boxes (det), texture masks (seg) and depth,
# none supervised upstream. About 30 minutes on 2 CPU cores (docs/paradigm.md, "Measured
# runs"); it shares every stage and run folder with the demo, so running it in the demo's
# work dir reuses what the demo finished.
#
#   python tools/train_paradigm.py \
#       configs/paradigm/intern-paradigm_metanet-tiny_gv-world_4-families.py \
#       --work-dir work_dirs/demo
_base_ = ['./intern-paradigm_metanet-tiny_gv-world.py']

work_dir = 'work_dirs/intern-paradigm_metanet-tiny_gv-world_4-families'
downstream = dict(families=('cls', 'det', 'seg', 'depth'))
