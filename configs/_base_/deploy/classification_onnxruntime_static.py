# mmdeploy deploy config: an mmpretrain classifier -> ONNX -> onnxruntime.
_base_ = ['./onnxruntime_static.py']
codebase_config = dict(type='mmpretrain', task='Classification')
