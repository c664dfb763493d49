"""A throw-away PostgreSQL server for `ledgerbridge demo --distributed`, started from the
server binaries of the machine (Debian/Ubuntu: /usr/lib/postgresql/<version>/bin), in a
temporary directory removed at exit. Nothing here is meant for real data."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ledgerbridge.errors import LedgerbridgeError

__all__ = ["PostgresNotInstalled", "postgres_bindir", "throwaway_postgres"]


class PostgresNotInstalled(LedgerbridgeError):
    """No PostgreSQL server binaries (initdb, pg_ctl) on this machine."""

    fix = "install PostgreSQL (apt-get install postgresql), or give --database-url postgresql://…"


def postgres_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def throwaway_postgres(max_connections: int = 200) -> Iterator[str]:
    """Start a server on a free loopback port; yield the URL of its `ledgerbridge` database."""
    bindir = postgres_bindir()
    if bindir is None:
        raise PostgresNotInstalled("no PostgreSQL server binaries found (initdb, pg_ctl)")
    root = Path(tempfile.mkdtemp(prefix="ledgerbridge-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, user="postgres", group="postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    data, log = root / "data", root / "server.log"
    port = _free_port()

    def run(*args: str) -> None:
        # The server's own binaries, with arguments made here (no user input).
        subprocess.run([*run_as, *args], check=True, capture_output=True, timeout=120)  # noqa: S603

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "ledgerbridge", "-A", "trust")
        options = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 "
            f"-c max_connections={max_connections}"
        )
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
        try:
            run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "ledgerbridge",
                "ledgerbridge")  # fmt: skip
            yield f"postgresql+psycopg://ledgerbridge@127.0.0.1:{port}/ledgerbridge"
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
