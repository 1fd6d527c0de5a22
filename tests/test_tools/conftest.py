"""Fixtures of the tool tests, built once per session and only read by the tests: the
generated image folder and the eager run of the tiny classifier that the resume, channels-
last and ``torch.compile`` tests compare against."""
import types
from pathlib import Path

import pytest
from tools_testutils import make_image_folder, tiny_cfg

#: iterations of the shared eager run (the resume test interrupts it after 4)
EAGER_ITERS = 8


@pytest.fixture(scope='session')
def image_folder(tmp_path_factory) -> Path:
    """``make_image_folder``'s default set (bright vs dark, 8 images per class and split,
    32 px, seed 0). Read-only: tests write their runs elsewhere."""
    return make_image_folder(tmp_path_factory.mktemp('tools_data') / 'data')


@pytest.fixture(scope='session')
def eager_classifier_run(image_folder, tmp_path_factory) -> types.SimpleNamespace:
    """``tiny_cfg(image_folder, ..., EAGER_ITERS)`` trained in process without compile.

    Returns a namespace with ``model`` (the trained model; tests may switch it to eval
    and hook it, never train it), ``state`` (its state dict, cloned at the end of
    training), ``iter`` (the runner's final iteration) and ``graphs`` (the graphs dynamo
    captured during the run: 0 for an eager run).
    """
    from torch._dynamo.utils import counters

    from intern_mm.apis import run_train
    counters.clear()
    runner = run_train(tiny_cfg(image_folder, tmp_path_factory.mktemp('eager') / 'work',
                                EAGER_ITERS))
    return types.SimpleNamespace(
        model=runner.model, iter=runner.iter,
        state={k: v.detach().clone() for k, v in runner.model.state_dict().items()},
        graphs=counters['stats']['unique_graphs'])
