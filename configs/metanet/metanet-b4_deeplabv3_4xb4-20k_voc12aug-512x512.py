# Stock mmseg DeepLabV3 (VOC 2012 + aug) with the backbone swapped to MetaNet MN-B4:
# ASPP on the stride-32 map, FCN auxiliary head (weight 0.4) on the stride-16 map (GV-B recipe).
_base_ = 'mmseg::deeplabv3/deeplabv3_r50-d8_4xb4-20k_voc12aug-512x512.py'
custom_imports = dict(imports=['intern_mm'], allow_failed_imports=False)

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='MetaNet',  # found in mmseg's registry through custom_imports
        arch='mn-b4',
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_eval=False,
        drop_path_rate=0.1,
        # Converted original weights (tools/model_converters/gvb2intern.py SRC DST) go in
        # init_cfg=dict(type='Pretrained', checkpoint=DST)
    ),
    decode_head=dict(in_channels=384, in_index=3, channels=512, dilations=(1, 12, 24, 36)),
    auxiliary_head=dict(in_channels=192, in_index=2, channels=256, loss_decode=dict(
        type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)))
