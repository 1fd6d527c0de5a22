# Ablation of the 4-family claim: Up-G's main stream from the cls expert's whole backbone
# (the choice before the measured comparison in docs/paradigm.md, "Measured runs"), the
# auxiliary stream from the det expert; the seg expert hands over only its heads.
#
#   python tools/train_paradigm.py \
#       configs/paradigm/intern-paradigm_metanet-tiny_gv-world_4-families_up-g-cls-main.py \
#       --work-dir work_dirs/demo_upg_cls_main
_base_ = ['./intern-paradigm_metanet-tiny_gv-world_4-families.py']

work_dir = 'work_dirs/intern-paradigm_metanet-tiny_gv-world_4-families_up-g-cls-main'
stage_overrides = {
    'up-g': dict(
        config='configs/paradigm/metanet-tiny_up-g_gv-world_200it.py',  # cls/det/seg only
        handoffs=[
            {{_base_._up_g_handoff.cls_main}},
            {{_base_._up_g_handoff.det_aux}},
            {{_base_._up_g_handoff.seg_heads}},
        ])
}
