# A narrow ResNet-18 (8 base channels) for CI-sized GV-B runs.
backbone = dict(type='mmpretrain.ResNet', depth=18, stem_channels=8, base_channels=8)
