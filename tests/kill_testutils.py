"""Kill a command line in the middle of its work: start it in its own process group, wait
until a file appears, then signal the whole group (the command and its children)."""
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Dict, Optional, Sequence


def run_and_kill_when(cmd: Sequence[str], trigger: Path, log: Path,
                      env: Optional[Dict[str, str]] = None, sig: int = signal.SIGKILL,
                      timeout: float = 900.0, cwd: Optional[str] = None) -> float:
    """Run ``cmd``; as soon as ``trigger`` exists send ``sig`` to its process group.

    Args:
        cmd (Sequence[str]): The command.
        trigger (Path): File whose appearance triggers the signal.
        log (Path): File receiving the command's stdout and stderr.
        env (dict, optional): Environment.
        sig (int): Signal. Defaults to SIGKILL.
        timeout (float): Seconds to wait for the trigger.
        cwd (str, optional): Working directory.

    Returns:
        float: Seconds from the start to the signal.

    Raises:
        AssertionError: If the command ends before the trigger appears, or the trigger
            does not appear within ``timeout``.
    """
    start = time.time()
    with open(log, 'w') as out:
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=cwd, start_new_session=True)
        try:
            while not trigger.exists():
                if proc.poll() is not None:
                    raise AssertionError(
                        f'{cmd[1:3]} exited ({proc.returncode}) before {trigger} appeared; '
                        f'log tail:\n{log.read_text()[-3000:]}')
                if time.time() - start > timeout:
                    raise AssertionError(f'{trigger} did not appear within {timeout} s')
                time.sleep(0.02)
            elapsed = time.time() - start
            os.killpg(proc.pid, sig)
        finally:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait()
    return elapsed


def run_ok(cmd: Sequence[str], log: Path, env: Optional[Dict[str, str]] = None,
           timeout: float = 900.0, cwd: Optional[str] = None) -> str:
    """Run ``cmd`` to completion (output into ``log``); fail with the log tail if it fails."""
    with open(log, 'w') as out:
        proc = subprocess.run(list(cmd), stdout=out, stderr=subprocess.STDOUT, env=env,
                              cwd=cwd, timeout=timeout)
    text = log.read_text()
    assert proc.returncode == 0, f'{cmd[1:3]} failed ({proc.returncode}):\n{text[-3000:]}'
    return text
