# The INTERN paradigm in miniature (the README's demo; about 15 minutes on 2 CPU cores):
#   GV world -> Up-A (DeCLIP image-text) -> Up-E experts (cls / det / seg, each from Up-A)
#   -> Up-G (CentralModel from the cls + det experts, cls + det + seg losses together)
#   -> downstream check on a task not supervised upstream (number of objects):
#      10% linear probes of the Up-G, Up-A and Up-E backbones vs the Up-G architecture
#      trained from scratch on 10% and on 100% of the downstream training data.
#
#   python tools/train_paradigm.py configs/paradigm/intern-paradigm_metanet-tiny_gv-world.py \
#       --work-dir work_dirs/demo
#
# Re-running skips finished stages and resumes an interrupted one. See docs/paradigm.md.
work_dir = 'work_dirs/intern-paradigm_metanet-tiny_gv-world'
# 'subprocess': one fresh process per stage (robust: isolated memory and global state);
# 'inprocess': all stages in this process (saves ~6 s of imports per stage).
launcher = 'subprocess'
# > 1: every stage trains data-parallel under torchrun (DDP; gloo on CPU, NCCL on GPUs),
# e.g. --nproc-per-stage 8 on an 8-GPU node. Numbers then change with the global batch.
nproc_per_stage = 1

world = dict(root='data/gv_world', num=2000, seed=0, img_size=64)

_up_a_to_expert = [dict(stage='up-a', prefix_mapping={'backbone.': 'backbone.'})]
stages = [
    dict(name='up-a', config='configs/paradigm/metanet-tiny_up-a_gv-world_150it.py',
         main_metric='retrieval/i2t_top1'),
    dict(name='up-e-cls', config='configs/paradigm/metanet-tiny_up-e-cls_gv-world_300it.py',
         handoffs=_up_a_to_expert, main_metric='mean/accuracy/top1'),
    dict(name='up-e-det', config='configs/paradigm/metanet-tiny_up-e-det_gv-world_300it.py',
         handoffs=_up_a_to_expert, main_metric='mean/pascal_voc/mAP'),
    dict(name='up-e-seg', config='configs/paradigm/metanet-tiny_up-e-seg_gv-world_300it.py',
         handoffs=_up_a_to_expert, main_metric='mean/mIoU'),
    dict(
        name='up-g',
        config='configs/paradigm/metanet-tiny_up-g_gv-world_200it.py',
        handoffs=[
            dict(stage='up-e-cls',
                 prefix_mapping={'backbone.': 'backbone.main.', 'head.': 'tasks.cls.head.'}),
            dict(stage='up-e-det',
                 prefix_mapping={'backbone.': 'backbone.aux.', 'neck.': 'tasks.det.neck.',
                                 'rpn_head.': 'tasks.det.rpn_head.',
                                 'roi_head.': 'tasks.det.roi_head.'}),
            dict(stage='up-e-seg',
                 prefix_mapping={'decode_head.': 'tasks.seg.decode_head.',
                                 'auxiliary_head.': 'tasks.seg.auxiliary_head.'}),
        ],
        main_metric='cls/mean/accuracy/top1',
        # cls-bn.pth / det-bn.pth (task-specific BN) and backbone.pth (backbone.*, cls BN)
        export=dict(bn_tasks=('cls', 'det'), backbone_bn='cls'),
        # probe the 1280-d pooled feature of the main stream
        probe_backbone=dict(out_indices=(4, ))),
]

downstream = dict(
    fraction=0.1,
    seed=0,
    ann_dir='downstream',
    probe_stages=['up-a', 'up-e-cls', 'up-e-det', 'up-e-seg', 'up-g'],
    probe=dict(lrs=(0.003, 0.03, 0.3), max_iters=300, batch_size=64, weight_decay=1e-4),
    scratch=dict(
        config='configs/paradigm/metanet-tiny-central_scratch_gv-world-downstream_120it.py',
        fractions=(0.1, 1.0),
        metric='accuracy/top1'))
