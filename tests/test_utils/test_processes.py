"""intern_mm.utils.processes: commands as parallel processes sharing the cores."""
import os
import sys

import pytest

from intern_mm.utils.processes import ProcessJob, process_threads, run_processes

# each job marks itself running in a folder, records how many were running, then leaves
_JOB = ('import os, sys, time; d = sys.argv[1]; open(os.path.join(d, sys.argv[2]), "w")'
        '.close(); time.sleep(0.4); n = len(os.listdir(d)); '
        'print("threads", os.environ["OMP_NUM_THREADS"], "running", n); '
        'os.remove(os.path.join(d, sys.argv[2])); sys.exit(int(sys.argv[3]))')


def test_run_processes_runs_at_most_n_at_once_and_returns_the_failed(tmp_path,
                                                                     monkeypatch):
    monkeypatch.setattr(os, 'cpu_count', lambda: 4)
    marks = tmp_path / 'running'
    marks.mkdir()
    codes = {'a': 0, 'b': 3, 'c': 0, 'd': 0}
    jobs = [ProcessJob(name, [sys.executable, '-c', _JOB, str(marks), name, str(code)],
                       str(tmp_path / f'{name}.log')) for name, code in codes.items()]
    started = []
    failed = run_processes(jobs, 2, on_start=lambda job, threads: started.append(
        (job.name, threads)), poll_interval=0.05)
    assert failed == [jobs[1]]
    assert started == [(name, 2) for name in codes]  # in order, 4 cpus // 2
    for name in codes:
        words = (tmp_path / f'{name}.log').read_text().split()
        assert words[:2] == ['threads', '2']
        assert 1 <= int(words[3]) <= 2  # never more than two at once
    assert not os.listdir(marks)


def test_process_threads_shares_the_cores(monkeypatch):
    monkeypatch.setattr(os, 'cpu_count', lambda: 16)
    assert [process_threads(n) for n in (1, 3, 16, 40, 0)] == [16, 5, 1, 1, 16]


def _quick(tmp_path, name, code=0, after=()):
    return ProcessJob(name, [sys.executable, '-c', f'import sys; sys.exit({code})'],
                      str(tmp_path / f'{name}.log'), tuple(after))


def test_run_processes_starts_a_job_after_the_ones_it_waits_for(tmp_path):
    # b waits for a; c waits for the failing b and d for c: neither starts; e runs
    jobs = [_quick(tmp_path, 'a'), _quick(tmp_path, 'b', 2, ['a']),
            _quick(tmp_path, 'c', 0, ['b']), _quick(tmp_path, 'd', 0, ['c']),
            _quick(tmp_path, 'e', 0, ['a'])]
    events = []
    failed = run_processes(
        jobs, 1, on_start=lambda job, threads: events.append(('start', job.name)),
        on_finish=lambda job, code: events.append((code, job.name)), poll_interval=0.01)
    assert failed == [jobs[1]]
    assert events.index((0, 'a')) < events.index(('start', 'b'))
    assert (None, 'c') in events and (None, 'd') in events and (0, 'e') in events
    assert ('start', 'c') not in events and ('start', 'd') not in events
    assert not (tmp_path / 'c.log').exists()


def test_run_processes_stop_on_failure_and_bad_waits(tmp_path):
    jobs = [_quick(tmp_path, 'a', 1), _quick(tmp_path, 'b'), _quick(tmp_path, 'c')]
    ended = []
    failed = run_processes(jobs, 1, on_finish=lambda job, code: ended.append(
        (job.name, code)), poll_interval=0.01, stop_on_failure=True)
    assert failed == [jobs[0]] and ended == [('a', 1), ('b', None), ('c', None)]
    with pytest.raises(ValueError, match="job 'b': waits for \\['z'\\]"):
        run_processes([_quick(tmp_path, 'a'), _quick(tmp_path, 'b', 0, ['z'])], 1)
    with pytest.raises(ValueError, match="job 'a': a second job"):
        run_processes([_quick(tmp_path, 'a'), _quick(tmp_path, 'a')], 1)


def test_run_processes_kills_the_running_ones_when_a_callback_raises(tmp_path,
                                                                    monkeypatch):
    import subprocess
    sleeper = ProcessJob('s', [sys.executable, '-c', 'import time; time.sleep(60)'],
                         str(tmp_path / 's.log'))
    procs, real = [], subprocess.Popen
    monkeypatch.setattr(subprocess, 'Popen',
                        lambda *a, **k: procs.append(real(*a, **k)) or procs[-1])

    def on_poll():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_processes([sleeper], 1, on_poll=on_poll)
    assert procs and procs[0].returncode is not None  # killed, not left running


def test_run_processes_appends_to_a_log_that_keeps_earlier_attempts(tmp_path):
    say = [sys.executable, '-c', 'print("attempt")']
    kept, fresh = str(tmp_path / 'kept.log'), str(tmp_path / 'fresh.log')
    for _ in range(2):
        assert run_processes([ProcessJob('k', say, kept, append=True),
                              ProcessJob('f', say, fresh)], 2, poll_interval=0.01) == []
    assert open(kept).read().split() == ['attempt', 'attempt']
    assert open(fresh).read().split() == ['attempt']
