"""Child processes that die with their parent: a killed test runner, bench or demo leaves none behind."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1
# loaded in the parent: the child between fork and exec should only make the one system call
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent() -> None:
    """`preexec_fn` for subprocess.Popen: the kernel sends SIGKILL to the child when the thread
    that started it exits, however it exits (SIGKILL of a pytest run included); a parent already
    gone by then makes the child leave at once. Linux only; elsewhere a no-op."""
    if _LIBC is None:
        return
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent was gone before the prctl took effect
        os._exit(1)
