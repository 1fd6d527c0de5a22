# Up-A (amateur): DeCLIP-style image-text pre-training of a tiny MetaNet on the GV world's
# captions. Losses (DeCLIP weights): CLIP InfoNCE 0.4, multi-view (2 image x 2 text views)
# 0.2, SimSiam 0.2, masked language modelling 0.2, nearest-neighbour (text memory bank) 0.2.
# Val metric: image<->text retrieval accuracy on the val split (retrieval/i2t_top1, ...).
#
# The image tower is `model.backbone` (MetaNet tiny, out_indices=(4, ): the pooled 1280-d
# feature), so `backbone.*` checkpoint keys initialise the Up-E experts.
#
# Tokenizer: word-level, vocabulary built from the training captions (CLIP-style cleaning;
# see intern_mm/models/upstream/tokenizer.py for why not BPE / bytes); stored in every
# checkpoint (`_extra_state`, decode with `DeCLIP.decode_extra_state`).
#
# Another world location: edit `data_root` here, or override (e.g. --cfg-options) all of
#   model.tokenizer.ann_file=W/captions/train.json
#   train_dataloader.dataset.pipeline.4.tokenizer.ann_file=W/captions/train.json
#   val_dataloader.dataset.pipeline.2.tokenizer.ann_file=W/captions/train.json
#   {train,val,test}_dataloader.dataset.data_root=W
#
# Speed: ~0.5 CPU-s per iteration with ONE intra-op thread; on a busy 2-core machine two
# OpenMP threads (torch's default) are ~10x slower, so run with OMP_NUM_THREADS=1.
# Measured: 150 it -> retrieval/i2t_top1 25.0, t2i_top1 25.7, i2t_top5 71.3 (chance 0.39)
# on the 2000-image world (seed 0); 86 CPU-s in total.
_base_ = ['../_base_/default_runtime.py']

custom_imports = dict(imports=['intern_mm'], allow_failed_imports=False)

data_root = 'data/gv_world'
context_length = 40
tokenizer = dict(
    type='CaptionTokenizer',
    ann_file=f'{data_root}/captions/train.json',
    context_length=context_length)

model = dict(
    type='DeCLIP',
    data_preprocessor=dict(
        type='ImageTextDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(type='MetaNet', arch='tiny', out_indices=(4, )),
    img_feat_dim=1280,
    text_encoder=dict(
        type='TextTransformer', width=128, depth=2, num_heads=4, pooling='first'),
    tokenizer=tokenizer,
    embed_dim=128,
    loss_clip=dict(type='InfoNCELoss', loss_weight=0.4),
    loss_multi_view=dict(type='MultiViewInfoNCELoss', loss_weight=0.2),
    loss_simsiam=dict(type='SimSiamLoss', loss_weight=0.2),
    loss_mlm=dict(type='MaskedLMLoss', loss_weight=0.2),
    loss_nn=dict(type='NearestNeighbourLoss', loss_weight=0.2, bank_size=1024),
    simsiam_projector=dict(
        type='mmpretrain.NonLinearNeck',
        hid_channels=256,
        out_channels=256,
        num_layers=2,
        with_last_bn_affine=False,
        with_avg_pool=False,
        norm_cfg=dict(type='BN1d')),
    simsiam_predictor=dict(
        type='mmpretrain.NonLinearNeck',
        hid_channels=64,
        out_channels=256,
        num_layers=2,
        with_avg_pool=False,
        with_last_bn=False,
        with_last_bias=True,
        norm_cfg=dict(type='BN1d')),
    mlm_mask_prob=0.15,
    logit_scale_init=1 / 0.07,
    logit_scale_max=100.)

# Captions name colours and positions: no colour jitter, no flips, mild crops only.
train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(
        type='mmpretrain.MultiView',
        num_views=2,
        transforms=[[
            dict(
                type='mmpretrain.RandomResizedCrop',
                scale=64,
                crop_ratio_range=(0.7, 1.0),
                aspect_ratio_range=(0.9, 1.1)),
        ]]),
    dict(type='RandomCaption', mode='random'),
    dict(type='EDATextViews', num_views=2, p_delete=0.1, p_swap=0.5, alpha_swap=0.1),
    dict(type='TokenizeText', tokenizer=tokenizer),
    dict(type='PackImageTextInputs'),
]
val_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='RandomCaption', mode='first'),
    dict(type='TokenizeText', tokenizer=tokenizer),
    dict(type='PackImageTextInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='ImageTextDataset',
        data_root=data_root,
        ann_file='captions/train.json',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=100,
    num_workers=1,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='ImageTextDataset',
        data_root=data_root,
        ann_file='captions/val.json',
        test_mode=True,
        pipeline=val_pipeline))
val_evaluator = dict(type='ImageTextRetrievalMetric', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

max_iters = 150
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'logit_scale': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=15),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=15, end=max_iters, eta_min=1e-5),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=max_iters,
        max_keep_ckpts=1,
        save_best='retrieval/i2t_top1',
        rule='greater'))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=False)
