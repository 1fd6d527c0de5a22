# GV-B classification full fine-tuning: backbone and head trained, random resized crop +
# flip. A pre-trained backbone's lr is scaled by the recipe's backbone_lr_mult
# (optim_wrapper.paramwise_cfg, added when it is not 1).
_base_ = ['./cls.py']
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]))
