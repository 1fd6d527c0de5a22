"""torch.compile through mmengine's Runner (``compile=True`` in the config): the tiny
MetaNet classifier (backbone, head, data preprocessor, default hooks) and the Up-G
generalist under the multi-task loop train like their eager runs."""
import copy
import sys

import pytest
import torch
from mmengine.config import Config

from tools_testutils import REPO_ROOT, tiny_cfg

pytestmark = pytest.mark.slow

# Dynamo graph capture + AOTAutograd (what can break with our modules, hooks and loops)
# without inductor's C++ code generation, which takes minutes on the shared 2-core
# machine; the inductor path is timed by tools/analysis_tools/benchmark_backbone.py.
COMPILE = dict(backend='aot_eager')


def _train(config=None, **kwargs):
    from mmengine.runner import Runner

    import intern_mm  # noqa: F401
    runner = Runner.from_cfg(config) if config is not None else Runner(**kwargs)
    runner.train()
    model = runner.model
    return runner, {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_runner_compile_classifier(tmp_path, image_folder, eager_classifier_run):
    """The compiled run against the session's eager run of the same config (tiny_cfg)."""
    from intern_mm.apis import run_train
    torch._dynamo.reset()
    from torch._dynamo.utils import counters
    eager = eager_classifier_run
    assert eager.graphs == 0  # nothing was captured in the eager run
    cfg = tiny_cfg(image_folder, tmp_path / 'work1', eager.iter)
    cfg.compile = COMPILE
    counters.clear()
    runner = run_train(cfg)
    # Runner._maybe_compile wrapped train_step and dynamo captured graphs
    assert hasattr(runner.model.train_step, '_torchdynamo_orig_callable')
    assert counters['stats']['unique_graphs'] > 0
    assert runner.iter == eager.iter == 8
    compiled = {k: v.detach().clone() for k, v in runner.model.state_dict().items()}
    assert compiled.keys() == eager.state.keys()
    for k, value in eager.state.items():
        if value.is_floating_point():
            torch.testing.assert_close(compiled[k], value, rtol=1e-3, atol=1e-4)


def test_runner_compile_multi_task_loop(tmp_path):
    """GeneralistModel (cls + seg, task BN) with MultiTaskIterBasedTrainLoop."""
    sys.path.insert(0, str(REPO_ROOT / 'tests' / 'test_models' / 'test_generalist'))
    from generalist_toys import cls_batch, generalist_cfg, seg_batch
    from torch._dynamo.utils import counters

    class _Batches(torch.utils.data.Dataset):

        def __init__(self, maker):
            batch = maker(n=4)
            self.items = [dict(inputs=i, data_samples=d)
                          for i, d in zip(batch['inputs'], batch['data_samples'])]

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            return copy.deepcopy(self.items[i])

    def loader(maker):
        return dict(dataset=_Batches(maker), batch_size=2, num_workers=0,
                    sampler=dict(type='DefaultSampler', shuffle=False),
                    collate_fn=dict(type='pseudo_collate'))

    torch._dynamo.reset()
    states = {}
    for compile_ in (False, True):
        counters.clear()
        # in-memory datasets: Runner arguments, with `compile` in its (printable) cfg
        runner, states[compile_] = _train(
            model=generalist_cfg(tasks=('cls', 'seg')),
            work_dir=str(tmp_path / f'work{int(compile_)}'),
            train_dataloader=dict(cls=loader(cls_batch), seg=loader(seg_batch)),
            train_cfg=dict(type='MultiTaskIterBasedTrainLoop', max_iters=2),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
            default_hooks=dict(logger=dict(type='LoggerHook', interval=1),
                               checkpoint=dict(type='CheckpointHook', interval=2,
                                               by_epoch=False)),
            custom_hooks=[dict(type='LossWeightScheduleHook',
                               schedule=dict(cls=[(0, 1.0)], seg=[(0, 0.5)]))],
            randomness=dict(seed=0), default_scope='intern_mm', log_level='WARNING',
            experiment_name=f'compile_multi_task_{int(compile_)}_{id(tmp_path)}',
            cfg=Config(dict(compile=COMPILE if compile_ else False)))
        assert runner.iter == 2
        assert (counters['stats']['unique_graphs'] > 0) == compile_
    for k, eager in states[False].items():
        if eager.is_floating_point():
            torch.testing.assert_close(states[True][k], eager, rtol=1e-3, atol=1e-4)
