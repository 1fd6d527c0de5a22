"""Run these tests with one intra-op thread.

On the shared 2-core machine two OpenMP threads that wait on each other make small
models ~10-30x slower than one thread; the previous setting is restored afterwards.
"""
import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
