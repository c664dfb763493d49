"""`python -m bench.d_child PARENT_PID ARGV...`: run ARGV (a Python command line, e.g. `-m
ledgerbridge.cli worker`) as a process that gets SIGTERM the moment the bench dies.

Linux's `PR_SET_PDEATHSIG` survives `execv`, so a bench killed without clean-up (SIGKILL,
a crash) does not leave workers or sandboxes behind; the bench's normal exit stops them
itself. Elsewhere the prctl is skipped and only the normal clean-up applies."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    parent, command = int(argv[0]), argv[1:]
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the bench died before the prctl took effect
        raise SystemExit(3)
    os.execv(sys.executable, [sys.executable, *command])


if __name__ == "__main__":
    main(sys.argv[1:])
