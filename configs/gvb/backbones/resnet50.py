# ResNet-50 (mmpretrain) backbone for GV-B; any mmpretrain backbone works the same way.
backbone = dict(type='mmpretrain.ResNet', depth=50, out_indices=(3, ))
