# Stock mmdet Faster R-CNN FPN (Pascal VOC 07+12) on the Up-G generalist backbone: a MetaNet
# MN-B4 main stream (classification expert) fed by zero-initialised transfer layers from a
# detached MN-B4 auxiliary stream (detection expert).
_base_ = 'mmdet::pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py'
custom_imports = dict(imports=['intern_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='CentralModel',  # found in mmdet's registry through custom_imports
        main=dict(type='MetaNet', arch='mn-b4', drop_path_rate=0.1),
        aux=dict(type='MetaNet', arch='mn-b4'),
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_eval=False,
        freeze_aux=True,
        # The release's detection checkpoints carry det-specific BN ("det-bn").
        bn_tasks=None,
        # Hold the release's unused reverse transfer layers (frozen), so a converted
        # Up-G checkpoint loads with zero missing / unexpected keys.
        reverse_transfer=True,
        # Converted Up-G weights (tools/model_converters/gvb2intern.py SRC DST) go in
        # init_cfg=dict(type='Pretrained', checkpoint=DST)
    ),
    neck=dict(in_channels=[64, 128, 192, 384]))
