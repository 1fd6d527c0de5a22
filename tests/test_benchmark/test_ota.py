"""OTA: fine-tuned teacher -> student distilled on subset-derived images -> adapted."""
import copy

import pytest
import torch

from intern_mm.benchmark import SuiteConfig, run_suite
from intern_mm.benchmark.ota import ota_context, ota_distill_cfg, run_ota
from intern_mm.benchmark.backbone import parse_backbone_spec

TEACHER = "dict(type='mmpretrain.ResNet', depth=18, stem_channels=8, base_channels=8)"
STUDENT = "dict(type='mmpretrain.ResNet', depth=18, stem_channels=4, base_channels=4)"
CLS_RECIPE = dict(max_iters=20, milestones=[15], img_size=32, batch_size=16,
                  test_batch_size=40)


def _suite(tmp_path, tiny_cifar) -> SuiteConfig:
    return SuiteConfig(backbone=TEACHER, tasks='cifar10', mode='finetune', impl='runner',
                       data_roots={'cifar10': str(tiny_cifar)},
                       work_dir=str(tmp_path / 'wd'), run_name='teacher',
                       subset_base=str(tmp_path / 'subsets'), ratio=0.5, num_workers=0,
                       recipe={'cls': CLS_RECIPE})


def _mean_cosine(model_cfg, ckpt, images):
    from mmengine.registry import DefaultScope
    from mmengine.runner import load_checkpoint

    from intern_mm.registry import MODELS
    torch.manual_seed(0)
    # the distill config's scope, whatever scope an earlier test left current
    with DefaultScope.overwrite_default_scope('intern_mm'):
        model = MODELS.build(copy.deepcopy(model_cfg))
    if ckpt is not None:
        load_checkpoint(model, ckpt, map_location='cpu')
    model.eval()
    inputs = model.data_preprocessor(dict(inputs=images, data_samples=None))['inputs']
    return float(torch.stack([s.feat_cosine for s in model.predict(inputs)]).mean())


def test_ota_cls_distils_from_subset_and_adapts(tmp_path, tiny_cifar):
    cfg = _suite(tmp_path, tiny_cifar)
    (teacher, ) = run_suite(cfg)  # the GV-B finetune protocol on the 50% subset
    teacher_ckpt = str(tmp_path / 'wd' / 'teacher' / 'cifar10' / 'final' / 'iter_20.pth')
    ctx = ota_context(cfg, 'cifar10')
    assert ctx.subset_dir == teacher['subset']['dir']
    distill = dict(max_iters=30, img_size=32, batch_size=16, warmup_iters=5)
    dcfg = ota_distill_cfg(ctx, parse_backbone_spec(STUDENT), str(tmp_path / 'x'),
                           teacher_ckpt, distill)
    # only the training subset's images are distilled on (no other data)
    train_ds = dcfg['train_dataloader']['dataset']
    assert train_ds['ann_file'] == f"{ctx.subset_dir}/subset.txt"
    assert dcfg['model']['teacher_checkpoint'] == teacher_ckpt
    types = [t['type'] for t in train_ds['pipeline']]
    assert 'mmpretrain.RandAugment' in types and 'mmpretrain.RandomResizedCrop' in types

    wd = tmp_path / 'ota'
    result = run_ota(ctx, STUDENT, str(wd), teacher_checkpoint=teacher_ckpt,
                     distill=distill)
    assert result['status'] == 'done' and result['metric'] == 'top1'
    assert result['score'] == result['metrics']['top1']
    assert result['distill']['iters'] == 30 and result['teacher']['checkpoint'] == \
        teacher_ckpt
    # a finished run is read back, not recomputed
    again = run_ota(ctx, STUDENT, str(wd), teacher_checkpoint=teacher_ckpt)
    assert again['status'] == 'skipped' and again['score'] == result['score']

    # the distilled student imitates the teacher better than the untrained student
    import mmcv
    from pathlib import Path
    test_imgs = sorted(Path(tiny_cifar, 'test').rglob('*.jpg'))[:24]
    assert len(test_imgs) == 24
    images = [torch.from_numpy(mmcv.imread(str(p))).permute(2, 0, 1).contiguous()
              for p in test_imgs]
    model_cfg = dict(dcfg['model'], type='FeatureDistiller', batch_augments=None,
                     loss=dict(type='FeatureDistillLoss'))
    untrained = _mean_cosine(model_cfg, None, images)
    distilled = _mean_cosine(model_cfg, str(wd / 'distill' / 'iter_30.pth'), images)
    # measured (seed 0, 30 iterations): mean cosine 0.065 untrained -> 0.128 distilled
    assert distilled > untrained + 0.03, (untrained, distilled)
    # the adapted student started from the exported distilled backbone
    from intern_mm.utils.checkpoint import read_checkpoint
    exported = read_checkpoint(result['student']['checkpoint'])['state_dict']
    distilled_sd = read_checkpoint(str(wd / 'distill' / 'iter_30.pth'))['state_dict']
    for key, value in exported.items():
        torch.testing.assert_close(value, distilled_sd['student.' + key[len('backbone.'):]])


def test_ota_dense_family_depth(tmp_path):
    """Depth (a dense family): the stride-4..32 maps are distilled, then fine-tuned."""
    import cv2
    import numpy as np
    root = tmp_path / 'kitti'
    rng = np.random.default_rng(0)
    for split, n in (('train', 10), ('test', 2)):
        ids = []
        for i in range(n):
            (root / 'images' / split).mkdir(parents=True, exist_ok=True)
            (root / 'annotations' / split).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / 'images' / split / f'{i}.png'),
                        rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
            depth = np.tile(np.linspace(1, 60, 64), (48, 1)) * 256
            cv2.imwrite(str(root / 'annotations' / split / f'{i}.png'),
                        depth.astype(np.uint16))
            ids.append(str(i))
        (root / 'meta').mkdir(exist_ok=True)
        (root / 'meta' / f'{split}.txt').write_text('\n'.join(ids) + '\n')
    cfg = SuiteConfig(backbone=TEACHER, tasks='kitti_depth', mode='finetune',
                      data_roots={'kitti_depth': str(root)}, work_dir=str(tmp_path / 'wd'),
                      run_name='d', subset_base=str(tmp_path / 's'), ratio=0.5,
                      num_workers=0, recipe={'depth': dict(
                          max_iters=2, crop_size=(32, 32), head_channels=8, batch_size=2)})
    ctx = ota_context(cfg, 'kitti_depth')
    result = run_ota(ctx, STUDENT, str(tmp_path / 'ota'),
                     distill=dict(max_iters=2, img_size=32, batch_size=2))
    assert result['status'] == 'done' and result['metric'] == 'rmse'
    assert result['lower_is_better'] and result['score'] == pytest.approx(
        result['metrics']['rmse'])
    # four dense levels were distilled
    assert (tmp_path / 'ota' / 'student_backbone.pth').is_file()
    from intern_mm.utils.checkpoint import read_checkpoint
    sd = read_checkpoint(str(tmp_path / 'ota' / 'distill' / 'iter_2.pth'))
    levels = {k.split('.')[1] for k in sd['state_dict'] if k.startswith('connectors.')}
    assert levels == {'0', '1', '2', '3'}
