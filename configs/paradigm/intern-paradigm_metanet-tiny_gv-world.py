# The INTERN paradigm in miniature (the README's demo; 12 minutes on 2 CPU cores):
#   GV world -> Up-A (DeCLIP image-text) -> Up-E experts (cls / det / seg, each from Up-A)
#   -> Up-G (CentralModel from the seg + cls experts (main stream) and the det expert
#      (auxiliary stream), cls + det + seg losses and Up-A's image-text losses together)
#   -> distillation of Up-G's backbone into a small MetaNet (the deployment path)
#   -> Downstream-Adaptation on the counting task no upstream stage supervises: Up-A,
#      best Up-E, Up-G and the distilled student adapted with 10% of its data (linear
#      probe, fine-tuning, OTA) vs the Up-G architecture trained from scratch on 10% and
#      on 100%.
# The claim over all four task families (count / colour boxes / texture masks / depth)
# is intern-paradigm_metanet-tiny_gv-world_4-families.py (same stages, ~30 minutes).
#
#   python tools/train_paradigm.py configs/paradigm/intern-paradigm_metanet-tiny_gv-world.py \
#       --work-dir work_dirs/demo
#
# Re-running skips finished stages and runs; an interrupted one resumes. See
# docs/paradigm.md.
work_dir = 'work_dirs/intern-paradigm_metanet-tiny_gv-world'
# 'subprocess': one fresh process per stage (robust: isolated memory and global state);
# 'inprocess': all stages in this process (saves ~6 s of imports per stage).
launcher = 'subprocess'
# > 1: every stage trains data-parallel under torchrun (DDP; gloo on CPU, NCCL on GPUs),
# e.g. --nproc-per-stage 8 on an 8-GPU node. Numbers then change with the global batch.
nproc_per_stage = 1

world = dict(root='data/gv_world', num=2000, seed=0, img_size=64)

_up_a_to_expert = [dict(stage='up-a', prefix_mapping={'backbone.': 'backbone.'})]
# Up-G's hand-off pieces: which stage's weights go where (the ablation configs
# intern-paradigm_metanet-tiny_gv-world_4-families_up-g-*.py recombine them)
_det_heads = {'neck.': 'tasks.det.neck.', 'rpn_head.': 'tasks.det.rpn_head.',
              'roi_head.': 'tasks.det.roi_head.'}
_seg_heads = {'decode_head.': 'tasks.seg.decode_head.',
              'auxiliary_head.': 'tasks.seg.auxiliary_head.'}
_up_g_handoff = dict(
    # Up-A's text tower, projections and heads -> the image-text task
    itc=dict(stage='up-a', prefix_mapping={
        p: 'tasks.itc.' + p
        for p in ('text_encoder.', 'img_projection.', 'text_projection.', 'logit_scale',
                  'simsiam_projector.', 'simsiam_predictor.', 'mlm_head.', 'loss_nn.',
                  '_extra_state')}),
    cls_classifier=dict(stage='up-e-cls', prefix_mapping={'head.': 'tasks.cls.head.'}),
    # the cls expert's 1280-d feature head (stage 4) into the main stream + classifier
    cls_head=dict(stage='up-e-cls', prefix_mapping={'backbone.head.': 'backbone.main.head.',
                                                    'head.': 'tasks.cls.head.'}),
    cls_main=dict(stage='up-e-cls', prefix_mapping={'backbone.': 'backbone.main.',
                                                    'head.': 'tasks.cls.head.'}),
    det_heads=dict(stage='up-e-det', prefix_mapping=_det_heads),
    det_aux=dict(stage='up-e-det', prefix_mapping={'backbone.': 'backbone.aux.', **_det_heads}),
    seg_heads=dict(stage='up-e-seg', prefix_mapping=_seg_heads),
    seg_main=dict(stage='up-e-seg', prefix_mapping={'backbone.': 'backbone.main.', **_seg_heads}),
    seg_aux=dict(stage='up-e-seg', prefix_mapping={'backbone.': 'backbone.aux.', **_seg_heads}),
)
# the stages, one variable each (the claim config reuses them: {{_base_._up_a_stage}})
_up_a_stage = dict(name='up-a', config='configs/paradigm/metanet-tiny_up-a_gv-world_150it.py',
                   main_metric='retrieval/i2t_top1')
_up_e_cls_stage = dict(
    name='up-e-cls', config='configs/paradigm/metanet-tiny_up-e-cls_gv-world_300it.py',
    handoffs=_up_a_to_expert, main_metric='mean/accuracy/top1')
_up_e_det_stage = dict(
    name='up-e-det', config='configs/paradigm/metanet-tiny_up-e-det_gv-world_300it.py',
    handoffs=_up_a_to_expert, main_metric='mean/pascal_voc/mAP')
_up_e_seg_stage = dict(
    name='up-e-seg', config='configs/paradigm/metanet-tiny_up-e-seg_gv-world_300it.py',
    handoffs=_up_a_to_expert, main_metric='mean/mIoU')
_up_g_stage = dict(
    name='up-g',
    kind='generalist',
    # cls + det + seg and Up-A's image-text losses (keeps Up-A's objective)
    config='configs/paradigm/metanet-tiny_up-g-itc_gv-world_200it.py',
    # main stream: the seg expert's stages 0-3 with the cls expert's 1280-d feature
    # head (which the seg expert has not got) and classifier; auxiliary stream: the
    # det expert; Up-A's text tower and heads for the image-text task. Chosen on the
    # downstream val split (docs/paradigm.md, "Measured runs"; the ablation configs
    # intern-paradigm_metanet-tiny_gv-world_4-families_up-g-*.py).
    handoffs=[_up_g_handoff[k] for k in ('itc', 'cls_head', 'det_aux', 'seg_main')],
    main_metric='cls/mean/accuracy/top1',
    # cls-bn.pth / det-bn.pth (task-specific BN) and backbone.pth (backbone.*, cls BN)
    export=dict(bn_tasks=('cls', 'det'), backbone_bn='cls'),
    # the 1280-d pooled feature of the main stream for classification (dense tasks
    # use the four maps)
    probe_backbone=dict(out_indices=(4, )))
# teacher: Up-G's exported backbone; the student backbone is exported as backbone.pth
_distill_stage = dict(name='distill', kind='distill', teacher='up-g',
                      config='configs/paradigm/metanet-tiny_distill_gv-world_300it.py',
                      main_metric='feat_cosine/mean', probe_backbone=dict(out_indices=(4, )))
stages = [_up_a_stage, _up_e_cls_stage, _up_e_det_stage, _up_e_seg_stage, _up_g_stage,
          _distill_stage]


# Downstream-Adaptation (docs/paradigm.md): every family's GV world task, 10% subsets
# (GV-B subsets), selection on the world's val split, test scores reported.
downstream = dict(
    fraction=0.1,
    seed=0,
    # the demo's budget: one family (the 4-family config adds det / seg / depth)
    families=('cls', ),
    # role -> stage (a list: every candidate is probed, the best on val is adapted)
    backbones={
        'up-a': 'up-a',
        'best-up-e': ['up-e-cls', 'up-e-det', 'up-e-seg'],
        'up-g': 'up-g',
        'distilled': 'distill',
    },
    protocols={'default': ('probe', 'finetune'), 'up-g': ('probe', 'finetune', 'ota')},
    # the Up-G architecture from random initialisation, on the same subset (`fraction`)
    # and on 100% (`fractions` defaults to (fraction, 1.0))
    scratch=dict(stage='up-g'),
    # fine-tuning: the tasks' recipes set the pre-trained backbone's lr_mult
    # (`backbone_lr_mult`, chosen on val per family: 0.1 for the count, 1.0 elsewhere)
    # OTA: teacher = the backbone fine-tuned on the 10% (its finetune run); student = the
    # distilled stage's student; distillation on augmented / mixed 10% images only
    ota=dict(student='distill', distill=dict(max_iters=100, batch_size=32, img_size=64)),
)
