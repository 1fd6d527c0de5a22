"""Run a function in several gloo processes from a test, with a hard deadline."""
import time
from typing import Callable, Sequence

import pytest
import torch.multiprocessing as mp


def run_processes(worker: Callable, args: Sequence, nprocs: int = 2,
                  timeout: float = 240) -> None:
    """Fork ``nprocs`` processes running ``worker(rank, *args)``; fail the test on timeout.

    A worker exception is re-raised by ``torch.multiprocessing`` with its traceback.
    """
    ctx = mp.start_processes(worker, args=tuple(args), nprocs=nprocs, join=False,
                             start_method='fork')
    deadline = time.time() + timeout
    while not ctx.join(timeout=5):
        if time.time() > deadline:
            for p in ctx.processes:
                p.terminate()
            pytest.fail(f'the {nprocs}-process gloo run did not finish within {timeout} s')
