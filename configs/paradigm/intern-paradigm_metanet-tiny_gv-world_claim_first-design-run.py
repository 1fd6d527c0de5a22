# The design run of the claim on world seed 0 (docs/claim.md, "Design on seed 0"): the
# schedule grids of the _claim_grids.py config, with the experts fine-tuning Up-A's
# backbone at 0.1 of the learning rate, as in the demo. Its stages and runs chose the
# claim config's sizes and every schedule (counterparts and Up-G's 10% fine-tuning); the
# claim config then set the cls and det experts to the full rate and trained the experts
# 3x as long.
#
#   python tools/analysis_tools/claim_seeds.py \
#       configs/paradigm/intern-paradigm_metanet-tiny_gv-world_claim_first-design-run.py \
#       --seeds 0 --work-dir work_dirs/claim --out docs/claim/design
_base_ = ['./intern-paradigm_metanet-tiny_gv-world_claim_grids.py']

_tenth_rate = {'optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mult': 0.1}
# the experts at 300 iterations, the conventional classifier at 450
_stages = _base_._stages_300it
stage_overrides = {**_stages,
                   'up-e-cls': dict(_stages['up-e-cls'], cfg_options=_tenth_rate),
                   'up-e-det': dict(_stages['up-e-det'], cfg_options=_tenth_rate)}
