"""intern_mm.utils.processes: commands as parallel processes sharing the cores."""
import os
import sys

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
