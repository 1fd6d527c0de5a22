# Up-G as the paradigm pipeline trains it: the 3-task generalist of
# metanet-tiny_up-g_gv-world_200it.py plus a fourth task, `itc`, Up-A's DeCLIP image-text
# losses on the world's captions (keeping Up-A's objective), on the main stream's pooled
# feature (index 4, cls BN). The DeCLIP model is Up-A's own config (one source of truth)
# without its image tower: it receives its image and text views (`feed='images'`) and
# encodes the images with the shared CentralModel. The pipeline hands over Up-A's text
# tower, projections and heads (prefix `tasks.itc.`) and the experts' weights
# (intern-paradigm_metanet-tiny_gv-world.py). Chosen over the 3-task Up-G on the
# downstream val split (docs/paradigm.md, "Measured runs").
#
# To run this config alone, set the three `*_expert` paths of the base config and add a
# StageHandoffHook from an Up-A checkpoint with the pipeline config's `up-a` mapping.
_base_ = ['./metanet-tiny_up-g_gv-world_200it.py']

import mmengine.config as _mmcfg  # noqa: E402  (module: dropped from the config)

_up_a = _mmcfg.Config.fromfile('{{ fileDirname }}/metanet-tiny_up-a_gv-world_150it.py')


def _itc(cfg):
    model = cfg.model.to_dict()
    model.pop('backbone')
    model['type'] = 'intern_mm.DeCLIP'
    model['feature_indices'] = (4, )
    model['feed'] = 'images'
    return model


model = dict(
    tasks=dict(itc=_itc(_up_a)),
    task_bn=dict(itc='cls'),
    task_loss_weights=dict(itc=1.0))
# Up-A trains with 32 pairs (2 image views each); here 16 pairs beside the other tasks
train_dataloader = dict(
    itc=dict(_up_a.train_dataloader.to_dict(), batch_size=16))

del _up_a  # helper object, not a config entry
