"""intern_mm.utils.environment: the machine and package versions a record carries."""
import importlib.metadata

import torch

from intern_mm.utils.environment import NUMERIC_PACKAGES, cpu_model, run_environment


def test_run_environment_names_the_cpu_and_the_numeric_packages(monkeypatch):
    env = run_environment()
    assert set(env['packages']) == set(NUMERIC_PACKAGES)
    assert torch.__version__.startswith(env['packages']['torch'])  # no local tag (+cu130)
    assert env['cpu'] == cpu_model() and env['cpu']
    real = importlib.metadata.version

    def version(name):
        if name == 'pycocotools':
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, 'version', version)
    assert run_environment()['packages']['pycocotools'] is None  # named, not dropped
