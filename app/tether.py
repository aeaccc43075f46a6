"""A child process that never outlives the one that started it: the demo's bot, serve's worker."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Callable

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def tethered(parent: int) -> Callable[[], None] | None:
    """On Linux, a preexec_fn that has the kernel SIGTERM the child once the thread that started it in `parent` is gone
    (None elsewhere: the parent's own shutdown must stop it)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork, where no lock can be held

    def tether() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the tether held
            os.kill(os.getpid(), signal.SIGTERM)

    return tether
