# GV-B det full fine-tuning: backbone and heads trained. A pre-trained backbone's lr is
# scaled by the recipe's backbone_lr_mult (optim_wrapper.paramwise_cfg, added when it is
# not 1).
_base_ = ['./det.py']
