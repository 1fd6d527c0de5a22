# Stock mmdet Faster R-CNN FPN (Pascal VOC 07+12) with the backbone swapped to MetaNet MN-B4.
# Only the backbone and the FPN input channels change; everything else is mmdet's config.
_base_ = 'mmdet::pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py'
custom_imports = dict(imports=['intern_mm'], allow_failed_imports=False)

# MN-B4 multi-scale outputs: strides 4/8/16/32, channels 64/128/192/384.
model = dict(
    backbone=dict(
        _delete_=True,
        type='MetaNet',  # found in mmdet's registry through custom_imports
        arch='mn-b4',
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_eval=False,
        drop_path_rate=0.1,
        # Converted original weights (tools/model_converters/gvb2intern.py SRC DST) go in
        # init_cfg=dict(type='Pretrained', checkpoint=DST)
    ),
    neck=dict(in_channels=[64, 128, 192, 384]))
