"""Kill the paradigm pipeline in the middle of a stage and rerun it: the rerun must end
with the same weights and metrics as an uninterrupted run.

The pipeline is the mini config (``intern-paradigm_metanet-tiny_gv-world-mini.py``) cut to
Up-A -> Up-E cls (6 iterations each, a checkpoint after every iteration) and the Up-E
probe, with the ``subprocess`` launcher: ``tools/train_paradigm.py`` runs each stage in a
child process (the uninterrupted reference run trains in the tool's own process). The whole process group is killed with SIGKILL as soon as the Up-E
checkpoint of iteration 3 exists (iterations 4.. are running); the rerun skips Up-A,
resumes Up-E from its last checkpoint and runs the probe.
"""
import json
import os
import sys
from pathlib import Path

import pytest
import torch

from kill_testutils import run_and_kill_when, run_ok
from paradigm_testutils import REPO, two_stages

MINI = os.path.join(REPO, 'configs/paradigm/intern-paradigm_metanet-tiny_gv-world-mini.py')
ITERS = 6


def _write_cfg(path: Path, world: str) -> str:
    stages = two_stages()
    # Up-A only has to hand over a checkpoint: 2 iterations
    stages[0]['cfg_options'] = {'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2}
    path.write_text(
        f'_base_ = [{MINI!r}]\n'
        "launcher = 'subprocess'\n"
        f'world = dict(root={world!r})\n'
        f'stages = {stages!r}\n'
        'stage_cfg_options = {\n'
        f"    'train_cfg.max_iters': {ITERS},\n"
        f"    'train_cfg.val_interval': {ITERS},\n"
        "    'default_hooks.checkpoint.interval': 1,\n"
        "    'default_hooks.logger.interval': 1,\n"
        "    'default_hooks.checkpoint.max_keep_ckpts': -1,\n"
        '}\n'
        "downstream = dict(_delete_=True, fraction=0.25, families=('cls', ), scratch=None,\n"
        "                  backbones={'best-up-e': ['up-e-cls']},\n"
        "                  protocols={'default': ('probe', )},\n"
        "                  recipes=dict(cls=dict(max_iters=10, batch_size=4)),\n"
        "                  probe_grid=[dict(lr=0.03, weight_decay=1e-4, momentum=0.9)])\n")
    return str(path)


def _cmd(cfg: str, wd: Path):
    return [sys.executable, os.path.join(REPO, 'tools/train_paradigm.py'), cfg,
            '--work-dir', str(wd)]


def _env():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    env.setdefault('OMP_NUM_THREADS', '1')
    return env


def _final(wd: Path):
    done = json.loads((wd / 'stages' / 'up-e-cls' / 'done.json').read_text())
    state = torch.load(done['checkpoint'], map_location='cpu',
                       weights_only=False)['state_dict']
    probe = json.loads((wd / 'downstream' / 'cls' / 'up-e-cls' / 'probe_25pct' /
                        'result.json').read_text())
    return done, state, probe


@pytest.mark.slow
def test_kill_mid_stage_and_rerun_matches_uninterrupted(tiny_world, tmp_path):
    cfg = _write_cfg(tmp_path / 'pipeline.py', tiny_world)
    env = _env()
    ref_wd, wd = tmp_path / 'reference', tmp_path / 'killed'
    # the reference trains its stages inside the tool's process (no child per stage):
    # the same code on one CPU thread, so the same numbers
    run_ok(_cmd(cfg, ref_wd) + ['--cfg-options', 'launcher=inprocess'],
           tmp_path / 'reference.log', env=env)

    stage = wd / 'stages' / 'up-e-cls'
    run_and_kill_when(_cmd(cfg, wd), stage / 'iter_3.pth', tmp_path / 'killed.log',
                      env=env)
    # killed in the middle of the stage: not finished, no final checkpoint
    assert not (stage / 'done.json').exists()
    assert not (stage / f'iter_{ITERS}.pth').exists()
    assert (wd / 'stages' / 'up-a' / 'done.json').is_file()

    log = run_ok(_cmd(cfg, wd), tmp_path / 'rerun.log', env=env)
    assert 'stage up-a: done already' in log
    done, state, probe = _final(wd)
    ref_done, ref_state, ref_probe = _final(ref_wd)
    # killed once iter_3.pth appeared: resumed from 3, or from 2 when the kill hit while
    # iter_3.pth was still being written (last_checkpoint is updated after the write)
    assert 2 <= done['resumed_from_iter'] < ITERS and done['iters'] == ITERS
    assert ref_done['resumed_from_iter'] == 0
    # same seed, same data order and (restored) random streams on one CPU: the resumed
    # run repeats the uninterrupted one exactly (tolerance 0 on weights; metrics to 1e-9)
    assert state.keys() == ref_state.keys()
    for key, value in ref_state.items():
        torch.testing.assert_close(state[key], value, rtol=0, atol=0, msg=key)
    assert done['metrics'].keys() == ref_done['metrics'].keys()
    for key, value in ref_done['metrics'].items():
        if isinstance(value, float):
            assert done['metrics'][key] == pytest.approx(value, abs=1e-9), key
    assert probe['test_score'] == pytest.approx(ref_probe['test_score'], abs=1e-9)
    assert probe['val_score'] == pytest.approx(ref_probe['val_score'], abs=1e-9)
