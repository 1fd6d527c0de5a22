# mmdeploy: export to ONNX (TorchScript exporter, opset 17: scaled_dot_product_attention
# needs >= 14) for the onnxruntime backend, static input shape (from the model's test
# pipeline). The task configs next to this file add `codebase_config`.
onnx_config = dict(
    type='onnx',
    export_params=True,
    keep_initializers_as_inputs=False,
    opset_version=17,
    save_file='end2end.onnx',
    input_names=['input'],
    output_names=['output'],
    input_shape=None,
    optimize=True)
backend_config = dict(type='onnxruntime')
