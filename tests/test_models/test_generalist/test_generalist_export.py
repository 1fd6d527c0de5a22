"""cls-bn / det-bn / plain-backbone exports of an Up-G checkpoint."""
import pytest
import torch
from generalist_toys import batches, generalist_cfg

import intern_mm  # noqa: F401
from intern_mm.models.generalist import export_generalist
from intern_mm.registry import MODELS


def test_export_files_load_into_plain_models(tmp_path):
    torch.manual_seed(0)
    model = MODELS.build(generalist_cfg(tasks=('cls', 'det')))
    model.train()
    for _ in range(2):  # make the cls and det BN sets differ
        model(**model.data_preprocessor(batches(('cls', 'det')), True), mode='loss')
    ckpt = tmp_path / 'upg.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    files = export_generalist(str(ckpt), str(tmp_path / 'export'))
    assert set(files) == {'cls-bn', 'det-bn', 'backbone'}

    cls_sd = torch.load(files['cls-bn'], weights_only=False)['state_dict']
    det_sd = torch.load(files['det-bn'], weights_only=False)['state_dict']
    assert any(k.startswith('head.') for k in cls_sd)
    assert any(k.startswith('roi_head.') for k in det_sd)
    assert not any('.bns.' in k for k in list(cls_sd) + list(det_sd))
    key = 'backbone.main.stem.1.running_mean'
    if key not in cls_sd:
        key = next(k for k in cls_sd if k.startswith('backbone.main') and
                   k.endswith('running_mean'))
    assert not torch.equal(cls_sd[key], det_sd[key])

    # backbone.pth (cls BN) is a plain CentralModel: same output as the generalist's
    # backbone on cls BN
    plain = MODELS.build(dict(type='CentralModel', main=dict(type='MetaNet', arch='tiny'),
                              out_indices=(0, 1, 2, 3, 4)))
    bb = torch.load(files['backbone'], weights_only=False)['state_dict']
    missing, unexpected = plain.load_state_dict(
        {k[len('backbone.'):]: v for k, v in bb.items()}, strict=True), None
    plain.eval()
    model.eval()
    model.backbone.task = 'cls'
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(plain(x), model.backbone(x)):
            torch.testing.assert_close(a, b)
    with pytest.raises(FileNotFoundError):
        export_generalist(str(tmp_path / 'nope.pth'), str(tmp_path / 'x'))
