# Ablation of the 4-family claim: Up-G keeps Up-A's image-text objective (a fourth task,
# DeCLIP on the captions, beside cls / det / seg; metanet-tiny_up-g-itc_gv-world_200it.py).
# Up-A hands over its text tower, projections and heads; the experts hand over as in the
# seg-main ablation (main stream from the seg expert's backbone, random 1280-d feature
# head), which it was measured against on the val split in docs/paradigm.md ("Measured
# runs").
#
#   python tools/train_paradigm.py \
#       configs/paradigm/intern-paradigm_metanet-tiny_gv-world_4-families_up-g-itc.py \
#       --work-dir work_dirs/demo_upg_itc
_base_ = ['./intern-paradigm_metanet-tiny_gv-world_4-families.py']

work_dir = 'work_dirs/intern-paradigm_metanet-tiny_gv-world_4-families_up-g-itc'
stage_overrides = {
    'up-g': dict(
        config='configs/paradigm/metanet-tiny_up-g-itc_gv-world_200it.py',
        handoffs=[
            {{_base_._up_g_handoff.itc}},
            {{_base_._up_g_handoff.cls_classifier}},
            {{_base_._up_g_handoff.det_aux}},
            {{_base_._up_g_handoff.seg_main}},
        ])
}
