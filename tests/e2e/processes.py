"""Run `ledgerbridge …` as a subprocess for e2e tests: free ports, bounded waits, always killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")
TOKEN = {"Authorization": "Bearer sandbox"}


class Process:
    def __init__(self, popen: subprocess.Popen[bytes], log: Path) -> None:
        self.popen = popen
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise AssertionError(
                f"the process exited with {self.popen.returncode}:\n{self.output()[-4000:]}"
            )


@contextmanager
def ledgerbridge(
    args: Sequence[str], log: Path, env: Mapping[str, str] | None = None
) -> Iterator[Process]:
    """`python -m ledgerbridge.cli *args` with stdout+stderr in `log`; killed on exit."""
    full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}
    with log.open("wb") as sink:
        popen = subprocess.Popen(
            [sys.executable, "-m", "ledgerbridge.cli", *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=log.parent,
        )
        process = Process(popen, log)
        try:
            yield process
        finally:
            if popen.poll() is None:
                popen.kill()
            popen.wait(timeout=30)


def interrupt(process: Process, timeout: float = 30.0) -> int:
    """Ctrl-C (SIGINT) and wait for a clean exit; return the exit code."""
    process.popen.send_signal(signal.SIGINT)
    return process.popen.wait(timeout=timeout)


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float = 60.0,
    what: str = "condition",
    process: Process | None = None,
) -> T:
    """Poll `probe()` until it returns something truthy (or fail after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None:
            process.check_alive()
        try:
            result = probe()
        except httpx.HTTPError as exc:  # not listening yet
            last_error = exc
            result = None
        if result:
            return result
        time.sleep(0.2)
    detail = f"\n--- process output ---\n{process.output()[-4000:]}" if process else ""
    raise AssertionError(f"timed out waiting for {what} (last error: {last_error!r}){detail}")


def healthy(url: str) -> bool:
    return httpx.get(url, timeout=2).status_code == 200
