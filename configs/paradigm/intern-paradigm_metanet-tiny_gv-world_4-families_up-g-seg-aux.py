# Ablation of the 4-family claim: Up-G's auxiliary stream starts from the seg expert's
# backbone instead of the det expert's (the det expert still hands over its detection
# heads). Measured against the shipped choice on the val split in docs/paradigm.md
# ("Measured runs"); the shipped Up-G keeps the det expert.
#
#   python tools/train_paradigm.py \
#       configs/paradigm/intern-paradigm_metanet-tiny_gv-world_4-families_up-g-seg-aux.py \
#       --work-dir work_dirs/demo_upg_seg
_base_ = ['./intern-paradigm_metanet-tiny_gv-world_4-families.py']

work_dir = 'work_dirs/intern-paradigm_metanet-tiny_gv-world_4-families_up-g-seg-aux'
stage_overrides = {
    'up-g': dict(handoffs=[
        dict(stage='up-e-cls',
             prefix_mapping={'backbone.': 'backbone.main.', 'head.': 'tasks.cls.head.'}),
        dict(stage='up-e-det',
             prefix_mapping={'neck.': 'tasks.det.neck.', 'rpn_head.': 'tasks.det.rpn_head.',
                             'roi_head.': 'tasks.det.roi_head.'}),
        dict(stage='up-e-seg',
             prefix_mapping={'backbone.': 'backbone.aux.',
                             'decode_head.': 'tasks.seg.decode_head.',
                             'auxiliary_head.': 'tasks.seg.auxiliary_head.'}),
    ])
}
