"""GV-B run: a failing task is isolated (failed.json, exit status, report), retried on the
next run, and the run prints where the suite stands."""
import importlib.util
import io
import json
import os
from pathlib import Path

import pytest
from mmengine.hooks import Hook

from intern_mm.benchmark import SuiteConfig, run_suite
from intern_mm.benchmark import progress as progress_mod
from intern_mm.benchmark.progress import SuiteProgress, format_score
from intern_mm.registry import HOOKS

REPO = Path(__file__).resolve().parents[2]


def _gvb():
    spec = importlib.util.spec_from_file_location('gvb_tool', REPO / 'tools' / 'gvb.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _broken_copy(src: Path, dst: Path) -> Path:
    """Same file names as ``src``, but every image is a few bytes of text."""
    for path in sorted(src.rglob('*.jpg')):
        out = dst / path.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(b'not a jpeg')
    return dst


def test_failing_task_is_isolated(tmp_path, tiny_cifar, tiny_backbone, capsys):
    broken = _broken_copy(tiny_cifar, tmp_path / 'broken')
    wd = tmp_path / 'wd'
    argv = ['run', '--backbone', tiny_backbone, '--tasks', 'cifar100,cifar10',
            '--data-root', f'cifar10={tiny_cifar}', f'cifar100={broken}',
            '--work-dir', str(wd), '--run-name', 'ci', '--subset-base',
            str(tmp_path / 'subsets'), '--num-workers', '0', '--ratio', '0.5',
            '--recipe', 'cls.max_iters=6', 'cls.milestones=[4]', 'cls.img_size=32']
    assert _gvb().main(argv) == 1  # a task failed: non-zero exit status
    out = capsys.readouterr().out
    run_dir = wd / 'ci'
    # the other task still produced its result
    res = json.loads((run_dir / 'cifar10' / 'result.json').read_text())
    assert res['status'] == 'done' and res['metric'] == 'top1'
    assert not (run_dir / 'cifar100' / 'result.json').exists()
    failed = json.loads((run_dir / 'cifar100' / 'failed.json').read_text())
    assert failed['task'] == 'cifar100' and failed['status'] == 'failed'
    assert failed['error'] and failed['error'] in open(failed['traceback']).read()
    assert open(failed['traceback']).read().startswith('Traceback')
    assert failed['retry'].startswith(f'cd {os.getcwd()} && ')
    assert ' --tasks cifar100 ' in failed['retry'] and str(broken) in failed['retry']
    assert 'cifar100,cifar10' not in failed['retry'] and 'tools/gvb.py run' in failed['retry']
    # progress: a start and an end line per task, a suite line after each
    lines = out.splitlines()
    assert '[gvb 1/2] cifar100: start (cls)' in lines
    assert any(ln.startswith('[gvb 1/2] cifar100: FAILED after ') for ln in lines)
    assert any(ln.startswith('[gvb] 0 done, 1 failed, 0 missing, 1 left; ') for ln in lines)
    assert '[gvb 2/2] cifar10: start (cls)' in lines
    end = next(ln for ln in lines if ln.startswith('[gvb 2/2] cifar10: done, top1 = '))
    assert f" = {format_score(res['score'])} in " in end
    assert any(ln.startswith('[gvb] 1 done, 1 failed, 0 missing, 0 left; ') for ln in lines)
    # the final summary says what failed and how to retry
    assert '1 of 2 task(s) failed: cifar100' in out and failed['retry'] in out
    # the report shows the task as failed, not missing
    assert _gvb().main(['report', '--work-dir', str(wd)]) == 0
    md = (wd / 'report' / 'report.md').read_text()
    row = next(ln for ln in md.splitlines() if ln.startswith('| ci |'))
    cells = [c.strip() for c in row.strip('|').split('|')]
    assert cells[1] == f"{res['score']:.1f}" and cells[2] == 'failed'  # cifar10, cifar100
    assert '## Failed tasks' in md


@HOOKS.register_module(force=True)
class _GVBTestFailOnceHook(Hook):
    """Raises in the first training iteration of a Runner whose work dir has ``only``."""

    def __init__(self, only: str):
        self.only = only

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.only in runner.work_dir:
            raise RuntimeError('simulated failure')


def test_rerun_retries_and_clears_failed(tmp_path, tiny_cifar, tiny_backbone):
    base = dict(backbone=tiny_backbone, tasks='cifar10,cifar100',
                data_roots={'cifar10': str(tiny_cifar), 'cifar100': str(tiny_cifar)},
                work_dir=str(tmp_path / 'wd'), run_name='run',
                subset_base=str(tmp_path / 'subsets'), ratio=0.5, num_workers=0,
                impl='runner', keep_going=True, progress=False,
                recipe={'cls': dict(max_iters=3, milestones=[2], img_size=32,
                                    batch_size=16, test_batch_size=40)})
    hooks = [dict(type='intern_mm._GVBTestFailOnceHook', only='cifar10/final')]
    results = run_suite(SuiteConfig(**base, cfg_options=dict(custom_hooks=hooks)))
    assert [r['status'] for r in results] == ['failed', 'done']
    assert results[0]['error'] == 'RuntimeError: simulated failure'
    task_dir = tmp_path / 'wd' / 'run' / 'cifar10'
    assert (task_dir / 'failed.json').is_file()
    assert (task_dir / 'failed_traceback.txt').is_file()
    assert 'run_suite(SuiteConfig(' in results[0]['retry']  # no command line: Python hint
    # without keep_going the exception propagates, after failed.json was written
    (task_dir / 'failed.json').unlink()
    with pytest.raises(RuntimeError, match='simulated failure'):
        run_suite(SuiteConfig(**dict(base, keep_going=False),
                              cfg_options=dict(custom_hooks=hooks)))
    assert (task_dir / 'failed.json').is_file()
    results = run_suite(SuiteConfig(**base))
    assert [r['status'] for r in results] == ['done', 'skipped']
    assert not (task_dir / 'failed.json').exists()
    assert not (task_dir / 'failed_traceback.txt').exists()
    assert (task_dir / 'result.json').is_file()


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_progress_estimate_per_family(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(progress_mod.time, 'perf_counter', clock)
    out = io.StringIO()
    prog = SuiteProgress([('a', 'cls'), ('b', 'cls'), ('c', 'det'), ('d', 'det'),
                          ('e', 'seg')], stream=out, bar=False)
    assert prog.estimate_left() is None
    prog.start('a')
    clock.now = 2.0
    prog.end('a', dict(status='done', metric='top1', score=10.0))
    prog.start('c')
    clock.now = 12.0
    prog.end('c', dict(status='failed', error='E', failed_json='f.json'))
    # b: cls mean 2 s; d: det mean 10 s; e: no seg yet -> overall mean 6 s
    assert prog.estimate_left() == pytest.approx(2.0 + 10.0 + 6.0)
    assert prog.counts() == dict(done=1, failed=1, missing=0, left=3)
    assert prog.lines[-1] == ('[gvb] 1 done, 1 failed, 0 missing, 3 left; 12.0 s so far; '
                              '~18.0 s left (mean wall time per family so far)')
    prog.start('b')
    prog.end('b', dict(status='skipped', metric='top1', score=1.0))
    assert prog.estimate_left() == pytest.approx(16.0)  # skipped tasks do not count
    assert '[gvb 1/5] a: done, top1 = 10 in 2.0 s' in out.getvalue().splitlines()


class _TTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_tty():
    out = _TTY()
    prog = SuiteProgress([('a', 'cls'), ('b', 'det')], stream=out, pending=['b'])
    prog.start('a')
    prog.end('a', dict(status='skipped', metric='top1', score=1.0))
    assert '1/1' not in out.getvalue()  # the bar counts only tasks that have to run
    prog.start('b')
    prog.end('b', dict(status='missing', prepare='x'))
    assert '1/1, ' in out.getvalue() and 'task/s' in out.getvalue()
    plain = io.StringIO()
    prog = SuiteProgress([('a', 'cls')], stream=plain)
    prog.start('a')
    prog.end('a', dict(status='missing', prepare='x'))
    assert 'elapsed' not in plain.getvalue()  # no bar without a TTY
