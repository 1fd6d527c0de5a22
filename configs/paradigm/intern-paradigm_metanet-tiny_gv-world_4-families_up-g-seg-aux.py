# Ablation of the 4-family claim: Up-G's main stream from the cls expert's whole backbone
# and its auxiliary stream from the seg expert's backbone (the det expert still hands over
# its detection heads). Measured against the other choices on the val split in
# docs/paradigm.md ("Measured runs").
#
#   python tools/train_paradigm.py \
#       configs/paradigm/intern-paradigm_metanet-tiny_gv-world_4-families_up-g-seg-aux.py \
#       --work-dir work_dirs/demo_upg_seg
_base_ = ['./intern-paradigm_metanet-tiny_gv-world_4-families.py']

work_dir = 'work_dirs/intern-paradigm_metanet-tiny_gv-world_4-families_up-g-seg-aux'
stage_overrides = {
    'up-g': dict(
        config='configs/paradigm/metanet-tiny_up-g_gv-world_200it.py',  # cls/det/seg only
        handoffs=[
            {{_base_._up_g_handoff.cls_main}},
            {{_base_._up_g_handoff.det_heads}},
            {{_base_._up_g_handoff.seg_aux}},
        ])
}
