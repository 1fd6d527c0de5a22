"""retain_cpu_memory(): reused large CPU tensors stop page-faulting (glibc only)."""
import json
import os
import subprocess
import sys

import pytest

from intern_mm.utils import RETAIN_GLIBC_TUNABLES
from intern_mm.utils.cpu_allocator import _libc_version

IS_GLIBC = _libc_version().startswith('glibc')

# 64 MiB tensors: above glibc's largest dynamic mmap threshold (32 MiB), so by default
# every allocation is a fresh mapping whose pages fault on first touch (16k x 4 KiB)
PROBE = r'''
import json, resource, sys, torch
from intern_mm.utils import cpu_allocator_state, retain_cpu_memory

def faults_per_alloc(n=4):
    counts = []
    for _ in range(n):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        torch.empty(16 * 2**20).fill_(1.0)  # allocate, touch every page, free
        counts.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    return min(counts[1:])

before = faults_per_alloc()
state_before = cpu_allocator_state()
applied = retain_cpu_memory() if sys.argv[1] == 'retain' else None
print(json.dumps(dict(before=before, after=faults_per_alloc(), applied=applied,
                      state_before=state_before, state_after=cpu_allocator_state())))
'''


def _probe(mode, env=None):
    out = subprocess.run([sys.executable, '-c', PROBE, mode], capture_output=True, text=True,
                         check=True, env=dict(os.environ, **(env or {}))).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.skipif(not IS_GLIBC, reason='retain_cpu_memory tunes glibc malloc only')
def test_retain_cpu_memory_stops_page_faults_on_reuse():
    res = _probe('retain')
    assert res['applied'] is True
    assert res['before'] >= 16_000  # 64 MiB of fresh 4 KiB pages per allocation
    assert res['after'] < res['before'] / 100  # reused: (almost) no page faults
    assert res['state_before'].endswith('default settings')
    assert res['state_after'].endswith('freed memory retained (retain_cpu_memory)')


@pytest.mark.skipif(not IS_GLIBC, reason='GLIBC_TUNABLES is a glibc setting')
def test_glibc_tunables_string_is_the_same_setting():
    res = _probe('default', env={'GLIBC_TUNABLES': RETAIN_GLIBC_TUNABLES})
    assert res['before'] < 1_000  # retained from the first reuse on
    assert f'GLIBC_TUNABLES={RETAIN_GLIBC_TUNABLES}' in res['state_before']
    # without it (this process), each allocation faults again
    assert _probe('default', env={'GLIBC_TUNABLES': ''})['after'] >= 16_000
