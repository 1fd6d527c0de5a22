# Ablation of the 4-family claim: Up-G's main stream from the seg expert's backbone alone;
# its 1280-d feature head, which the seg expert has not got, starts from random weights
# (the shipped Up-G takes it from the cls expert). The cls expert hands over its
# classifier, the det expert its backbone as the auxiliary stream and its detection heads.
# Measured against the other choices on the val split in docs/paradigm.md ("Measured
# runs").
#
#   python tools/train_paradigm.py \
#       configs/paradigm/intern-paradigm_metanet-tiny_gv-world_4-families_up-g-seg-main.py \
#       --work-dir work_dirs/demo_upg_mainseg
_base_ = ['./intern-paradigm_metanet-tiny_gv-world_4-families.py']

work_dir = 'work_dirs/intern-paradigm_metanet-tiny_gv-world_4-families_up-g-seg-main'
stage_overrides = {
    'up-g': dict(
        config='configs/paradigm/metanet-tiny_up-g_gv-world_200it.py',  # cls/det/seg only
        handoffs=[
            {{_base_._up_g_handoff.cls_classifier}},
            {{_base_._up_g_handoff.det_aux}},
            {{_base_._up_g_handoff.seg_main}},
        ])
}
