# mmdeploy deploy config: an mmdet detector -> ONNX -> onnxruntime (mmdeploy's end2end
# graph with its NMS). mmdeploy 1.3.1 cannot export two-stage detectors under
# torch 2.14: see docs/deployment.md (tools/deployment/mmdeploy_export.py says why).
_base_ = ['./onnxruntime_static.py']
onnx_config = dict(output_names=['dets', 'labels'])
codebase_config = dict(
    type='mmdet',
    task='ObjectDetection',
    model_type='end2end',
    post_processing=dict(
        score_threshold=0.05,
        confidence_threshold=0.005,
        iou_threshold=0.5,
        max_output_boxes_per_class=200,
        pre_top_k=5000,
        keep_top_k=100,
        background_label_id=-1))
