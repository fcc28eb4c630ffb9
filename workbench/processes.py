"""Stopping the servers the workbench starts (uvicorn, Voila) as process groups.

Each server is started with ``start_new_session=True``, so it and every process it spawns
(workers, kernels) share one process group, which is stopped as a whole.
"""
from __future__ import annotations

import os
import signal
import subprocess


def stop_process_group(proc: subprocess.Popen, timeout: float = 15.0) -> int | None:
    """Stop ``proc``'s process group: SIGTERM, wait up to ``timeout`` seconds, then SIGKILL.

    Returns the exit code; does nothing when the process has already ended.
    """
    if proc.poll() is not None:
        return proc.returncode
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=5)
    except ProcessLookupError:  # ended between poll() and killpg()
        return proc.wait(timeout=5)


def interrupt_on_sigterm() -> None:
    """Treat SIGTERM like Ctrl-C in this (main-thread) command, so its ``finally`` blocks run.

    ``workbench demo`` and ``workbench dashboard`` start servers in sessions of their own; a
    SIGTERM that ended the command without its clean-up would leave those servers running.
    """
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
