# Ablation of the 4-family claim: the shipped Up-G hand-off (main stream from the seg
# expert's backbone with the cls expert's 1280-d feature head, auxiliary stream from the
# det expert) without Up-A's image-text task: the 3-task Up-G config
# metanet-tiny_up-g_gv-world_200it.py. Measured against the shipped Up-G on the val split
# in docs/paradigm.md ("Measured runs").
#
#   python tools/train_paradigm.py \
#       configs/paradigm/intern-paradigm_metanet-tiny_gv-world_4-families_up-g-no-itc.py \
#       --work-dir work_dirs/demo_upg_no_itc
_base_ = ['./intern-paradigm_metanet-tiny_gv-world_4-families.py']

work_dir = 'work_dirs/intern-paradigm_metanet-tiny_gv-world_4-families_up-g-no-itc'
stage_overrides = {
    'up-g': dict(
        config='configs/paradigm/metanet-tiny_up-g_gv-world_200it.py',  # cls/det/seg only
        handoffs=[
            {{_base_._up_g_handoff.cls_head}},
            {{_base_._up_g_handoff.det_aux}},
            {{_base_._up_g_handoff.seg_main}},
        ])
}
