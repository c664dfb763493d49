"""Bench plumbing: the two sandboxes, each in its own process on a real socket behind the
request meter (`bench.sandbox_proc`), the engine as a subprocess (`ledgerbridge run` or
`ledgerbridge backfill`) whose peak RSS (VmHWM) is sampled from /proc, and the store with
the demo connection. The bench process only talks HTTP to the sandboxes."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.seeding import Sizes
from ledgerbridge.commands._demo_stack import ensure_demo_connection
from ledgerbridge.store import Store, TokenCipher, generate_key

HUBSPOT_PORTAL = "62515"
LOG_TAIL = 2000


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Meter:
    """One reading of a sandbox's request meter (`bench.sandbox_proc.Metered`)."""

    requests: int
    throttled: int
    by_kind: Counter[str]
    last_request: float


class SandboxProcess:
    """One sandbox served by `python -m bench.sandbox_proc` in its own process, its output in
    `<workdir>/<kind>-sandbox.log`. The bench reaches it over HTTP only: the API (metered)
    for the engine, `/_bench/...` (not metered, not rate-limited) for itself."""

    def __init__(self, kind: str, workdir: Path, options: Sequence[str]) -> None:
        self.kind = kind
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"{kind}-sandbox.log"
        self._sink = self.log.open("wb")
        command = [sys.executable, "-m", "bench.sandbox_proc", kind, "--port", str(self.port)]
        self.popen = subprocess.Popen(
            [*command, "--parent-pid", str(os.getpid()), *options],
            stdout=self._sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=Path(__file__).resolve().parent.parent,  # so `bench` is importable
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # Ctrl-C reaches the bench only; it stops us in order
        )
        self.client = httpx.Client(base_url=self.url, timeout=httpx.Timeout(1800, connect=10))

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_ready(self, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(
                    f"{self.kind} sandbox exited {self.popen.returncode}: {self.log_tail()}"
                )
            try:
                return self.get("/_bench/health")  # type: ignore[no-any-return]
            except httpx.TransportError:
                time.sleep(0.05)
        raise TimeoutError(f"{self.kind} sandbox did not start: {self.log_tail()}")

    def log_tail(self) -> str:
        self._sink.flush()
        return self.log.read_text(errors="replace")[-LOG_TAIL:]

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code != 200:
            raise RuntimeError(
                f"{self.kind} sandbox: {response.request.method} {response.request.url.path} "
                f"answered {response.status_code}: {response.text[:LOG_TAIL]}"
            )
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self._check(self.client.get(path, params=params)).json()

    def post(self, path: str, body: Any = None) -> Any:
        return self._check(self.client.post(path, json=body or {})).json()

    # ---- the bench endpoints

    def seed(self, what: str, sizes: Sizes, seed: int = 8) -> int:
        body = {
            "what": what,
            "invoices": sizes.invoices,
            "customers": sizes.customers,
            "items": sizes.items,
            "seed": seed,
        }
        return int(self.post("/_bench/seed", body)["lines"])

    def change(self, i: int) -> str:
        return str(self.post("/_bench/change", {"i": i})["email"])

    def emails(self, suffix: str = "") -> set[str]:
        return set(self.get("/_bench/emails", suffix=suffix)["emails"])

    def counts(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.get("/_bench/counts").items()}

    def digest(self) -> dict[str, list[str]]:
        """Every invoice, party and SKU, described for the done check (`bench.readback`)."""
        return {k: [str(x) for x in v] for k, v in self.get("/_bench/digest").items()}

    def meter(self) -> Meter:
        raw = self.get("/_bench/meter")
        return Meter(
            int(raw["requests"]),
            int(raw["throttled"]),
            Counter({k: int(v) for k, v in raw["by_kind"].items()}),
            float(raw["last_request"]),
        )

    def reset_meter(self) -> None:
        self.post("/_bench/meter/reset")

    def dump_trace(self, path: Path, origin: float) -> None:
        """Every metered request as TSV (start − `origin`, duration, status, endpoint)."""
        response = self._check(self.client.get("/_bench/trace", params={"origin": origin}))
        path.write_text(response.text)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (uvicorn shuts down cleanly), SIGKILL if it is still there after `timeout`."""
        self.client.close()
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout)
        self._sink.close()


@dataclass
class Env:
    """Both sandboxes (processes), the store path and the engine's environment."""

    workdir: Path
    hubspot: SandboxProcess
    qbo: SandboxProcess
    engine_port: int
    env: dict[str, str]
    today: str  # the QBO sandbox's date
    engines: list[Engine] = field(default_factory=list)

    @property
    def hubspot_url(self) -> str:
        return self.hubspot.url

    @property
    def qbo_url(self) -> str:
        return self.qbo.url

    def reset_counts(self) -> None:
        self.hubspot.reset_meter()
        self.qbo.reset_meter()

    def idle_since(self) -> float:
        return max(self.hubspot.meter().last_request, self.qbo.meter().last_request)


@contextmanager
def environment(
    workdir: Path,
    latency_ms: float,
    *,
    real_limits: bool = True,
    hubspot_webhooks: bool = True,
    poll_seconds: float = 5.0,
) -> Iterator[Env]:
    """Both sandboxes in their own processes (always stopped on the way out, whatever
    happens), the store with the demo connection, and the engine's environment. Engines
    started through `Engine(env, ...)` and still running at the end are killed too."""
    engine_port = free_port()
    engine = f"http://127.0.0.1:{engine_port}"
    app_secret, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    common = ["--latency-ms", str(latency_ms), "--engine-url", engine]
    if not real_limits:
        common.append("--no-limits")
    hubspot_options = [*common, f"--secret={app_secret}"]  # "=": a secret may start with "-"
    if hubspot_webhooks:
        hubspot_options.append("--webhooks")
    started: list[SandboxProcess] = []
    env: Env | None = None
    try:
        started.append(SandboxProcess("hubspot", workdir, hubspot_options))
        started.append(SandboxProcess("qbo", workdir, [*common, f"--secret={verifier}"]))
        hubspot, qbo = started
        hubspot.wait_ready()
        today = str(qbo.wait_ready()["today"])
        key = generate_key()
        db = workdir / "state.db"
        store = Store.open(f"sqlite:///{db}", TokenCipher(key.encode()))
        try:
            ensure_demo_connection(store, hubspot.url, qbo.url, HUBSPOT_PORTAL)
        finally:
            store.close()
        variables = {
            "LEDGERBRIDGE_DATABASE_URL": f"sqlite:///{db}",
            "LEDGERBRIDGE_SECRET_KEY": key,
            "LEDGERBRIDGE_PORT": str(engine_port),
            "LEDGERBRIDGE_POLL_INTERVAL_SECONDS": f"{poll_seconds:g}",
            "LEDGERBRIDGE_HUBSPOT__CLIENT_SECRET": app_secret,
            "LEDGERBRIDGE_QBO__WEBHOOK_VERIFIER_TOKEN": verifier,
        }
        env = Env(workdir, hubspot, qbo, engine_port, variables, today)
        yield env
    finally:
        for running in env.engines if env is not None else []:
            if running.popen.poll() is None:
                running.stop()
        for process in started:
            process.stop()


def vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Engine:
    """`python -m ledgerbridge.cli *args` as a subprocess, its peak RSS sampled every 0.2 s."""

    def __init__(self, env: Env, args: Sequence[str], log_name: str) -> None:
        env.engines.append(self)
        self.log = env.workdir / log_name
        full_env = {**os.environ, **env.env, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}
        self._sink = self.log.open("wb")
        # BENCH_ENGINE_PROFILE=DIR: each engine process runs under cProfile, its stats
        # written to DIR/<log name>.prof (read them with `python -m pstats`).
        profile = os.environ.get("BENCH_ENGINE_PROFILE")
        prefix = ["-m", "cProfile", "-o", f"{profile}/{log_name}.prof"] if profile else []
        self.popen = subprocess.Popen(
            [sys.executable, *prefix, "-m", "ledgerbridge.cli", *args],
            stdout=self._sink,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=env.workdir,
        )
        self.peak_kb = 0
        self.cpu_seconds = 0.0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.is_set():  # no popen.poll(): `wait` reaps the child itself
            self.peak_kb = max(self.peak_kb, vm_hwm_kb(self.popen.pid))
            self._stop.wait(0.2)

    def wait(self, timeout: float) -> int:
        """Reap the child with wait4 to read its own ru_maxrss (the exact peak RSS)."""
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(self.popen.pid, os.WNOHANG)
            if pid:
                self.popen.returncode = os.waitstatus_to_exitcode(status)
                self.peak_kb = max(self.peak_kb, int(usage.ru_maxrss))
                self.cpu_seconds = usage.ru_utime + usage.ru_stime
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"engine still running after {timeout} s; see {self.log}")
            time.sleep(0.05)
        self._finish()
        return self.popen.returncode

    def stop(self) -> None:
        self.peak_kb = max(self.peak_kb, vm_hwm_kb(self.popen.pid))
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(30)
        self._finish()

    def _finish(self) -> None:
        self._stop.set()
        self._sampler.join(5)
        self._sink.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")
