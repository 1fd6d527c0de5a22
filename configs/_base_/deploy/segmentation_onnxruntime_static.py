# mmdeploy deploy config: an mmseg segmentor -> ONNX -> onnxruntime (the graph ends in
# the per-pixel argmax, as in mmdeploy's own segmentation configs).
_base_ = ['./onnxruntime_static.py']
codebase_config = dict(type='mmseg', task='Segmentation', with_argmax=True)
