# Ablation of the demo on world seed 0 (the design seed; compare val only): Up-G trained
# 3x as long, 600 iterations with its cosine schedule stretched to match; everything else
# is the demo's (stages, protocols, schedules, counterparts). docs/claim.md, "What is
# missing". Reusing the demo's finished stages and counterparts, only Up-G and its four
# downstream parts train:
#
#   mkdir -p work_dirs/demo_up-g-600it/stages
#   cp -r work_dirs/demo/stages/{up-a,up-e-cls,up-e-det,up-e-seg,conventional} \
#       work_dirs/demo_up-g-600it/stages/
#   python tools/train_paradigm.py \
#       configs/paradigm/intern-paradigm_metanet-tiny_gv-world_demo_up-g-600it.py \
#       --work-dir work_dirs/demo_up-g-600it
_base_ = ['./intern-paradigm_metanet-tiny_gv-world_demo.py']

work_dir = 'work_dirs/demo_up-g-600it'
_iters = 600
stage_overrides = {
    'up-g': dict(cfg_options={'train_cfg.max_iters': _iters,
                              'train_cfg.val_interval': _iters,
                              'param_scheduler.1.end': _iters,
                              'default_hooks.checkpoint.interval': 300})}
