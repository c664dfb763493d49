"""The sandboxes of scenario (d): N HubSpot portals (one sandbox app per portal, mounted
under `/p<i>` of one server) and one QBO sandbox holding N companies (realms).

Two ways to serve them (`--sandboxes` of `bench.scenario_d`):

* `process` (default): each server in its own process (`python -m bench.d_fleet hubspot|qbo
  --connections N --port P`), so the sandboxes' CPU is neither the bench's GIL nor counted
  as the bench's; the latency probe asks the QBO process `POST /_bench/visible`
  (`{"items": [[realm, email], ...]}` → `{"visible": [index, ...]}`), read from the
  sandbox's memory in its own event loop (not a metered API call, no rate limit);
* `thread`: both servers as threads of the bench process, the probe reading memory
  directly (what the first version of the scenario did).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from ledgerbridge.sandbox.hubspot import cli as hubspot_cli
from ledgerbridge.sandbox.hubspot.app import create_app as hubspot_app
from ledgerbridge.sandbox.qbo import cli as qbo_cli
from ledgerbridge.sandbox.qbo.app import create_app as qbo_app
from tests.support.servers import free_port, serve_in_thread

PORTAL_BASE = 80000
REALM_BASE = 9130000000000000
VISIBLE = "/_bench/visible"
HEALTH = "/_bench/health"
CUSTOMERS = "/_bench/customers"
Items = Sequence[tuple[str, str]]


def portal_id(index: int) -> int:
    return PORTAL_BASE + index


def realm(index: int) -> str:
    return str(REALM_BASE + index)


def hubspot_fleet(connections: int) -> Starlette:
    portals = []
    for i in range(connections):
        config = hubspot_cli.build_config(seed=None)
        config.portal_id = portal_id(i)
        portals.append(Mount(f"/p{i}", app=hubspot_app(config)))
    return Starlette(routes=portals)


def qbo_fleet(connections: int) -> Any:
    return qbo_app(qbo_cli.build_config(realms=[realm(i) for i in range(connections)], seed=None))


def visible(sandbox: Any, items: Items) -> list[int]:
    """The indices of `items` (realm, email) whose customer is in that QBO company."""
    found: list[int] = []
    emails: dict[str, set[str]] = {}
    for n, (company, email) in enumerate(items):
        if company not in emails:
            emails[company] = _customer_emails(sandbox, company)
        if email in emails[company]:
            found.append(n)
    return found


def customer_count(sandbox: Any) -> int:
    """Customers with an email in every QBO company of the sandbox."""
    return sum(len(_customer_emails(sandbox, company)) for company in list(sandbox.realms))


def _customer_emails(sandbox: Any, company: str) -> set[str]:
    table = sandbox.realms[company].table("Customer")
    for _ in range(5):  # a sandbox thread may be inserting right now (thread mode)
        try:
            values = list(table.values())
        except RuntimeError:
            continue
        return {c["PrimaryEmailAddr"]["Address"] for c in values if c.get("PrimaryEmailAddr")}
    return set()


class Probe:
    """ASGI wrapper of the QBO sandbox: `/_bench/visible` and `/_bench/health` (process mode)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in (VISIBLE, HEALTH, CUSTOMERS):
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        answer: dict[str, Any] = {"ok": True}
        if scope["path"] == VISIBLE:
            items = [(str(r), str(e)) for r, e in json.loads(body)["items"]]
            answer = {"visible": visible(self.app.state.sandbox, items)}
        elif scope["path"] == CUSTOMERS:
            answer = {"customers": customer_count(self.app.state.sandbox)}
        content = json.dumps(answer).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": content})


class Fleet:
    """Where the sandboxes answer, their processes (empty in thread mode) and the probe."""

    def __init__(
        self,
        hubspot_url: str,
        qbo_url: str,
        processes: Sequence[tuple[subprocess.Popen[bytes], Path]] = (),
        sandbox: Any = None,
    ) -> None:
        self.hubspot_url = hubspot_url
        self.qbo_url = qbo_url
        self.processes = list(processes)
        self.pids = [process.pid for process, _ in self.processes]
        self._sandbox = sandbox
        self._http = httpx.AsyncClient(timeout=60)

    def check(self) -> None:
        """`SandboxDied` (exit code, end of its log) when a sandbox process has exited."""
        for process, log in self.processes:
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:]
                raise SandboxDied(
                    f"the sandbox process {process.pid} exited with {process.returncode} "
                    f"during the run; the end of its log ({log}):\n{tail}"
                )

    async def visible(self, items: Items) -> list[int]:
        if not items:
            return []
        if self._sandbox is not None:
            return visible(self._sandbox, items)
        response = await self._http.post(f"{self.qbo_url}{VISIBLE}", json={"items": items})
        response.raise_for_status()
        found: list[int] = response.json()["visible"]
        return found

    async def customers(self) -> int:
        """Customers (with an email) in every QBO company: what the passes created."""
        if self._sandbox is not None:
            return customer_count(self._sandbox)
        response = await self._http.get(f"{self.qbo_url}{CUSTOMERS}")
        response.raise_for_status()
        count: int = response.json()["customers"]
        return count

    async def aclose(self) -> None:
        await self._http.aclose()


@contextmanager
def thread_fleet(connections: int) -> Iterator[Fleet]:
    qbo = qbo_fleet(connections)
    with serve_in_thread(hubspot_fleet(connections)) as hs, serve_in_thread(qbo) as qb:
        yield Fleet(hs, qb, (), qbo.state.sandbox)


class SandboxDied(RuntimeError):
    pass


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise SandboxDied(f"a sandbox process exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(f"{url}{HEALTH}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SandboxDied(f"the sandbox at {url} did not start within 120 s (log: {log})")
        time.sleep(0.1)


@contextmanager
def process_fleet(connections: int, logs: Path) -> Iterator[Fleet]:
    with ExitStack() as stack:
        urls = {}
        processes = []
        for kind in ("hubspot", "qbo"):
            port = free_port()
            log = logs / f"sandbox-{kind}.log"
            command = ["-m", "bench.d_fleet", kind, "--connections", str(connections)]
            process = stack.enter_context(child([*command, "--port", str(port)], log))
            urls[kind] = f"http://127.0.0.1:{port}"
            processes.append((process, log))
            _wait_healthy(urls[kind], process, log)
        yield Fleet(urls["hubspot"], urls["qbo"], processes)


@contextmanager
def child(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`python COMMAND` as a child that dies with the bench (`bench.d_child`), output to
    `log`; SIGTERM at exit, SIGKILL if it is still there after 30 s."""
    env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "bench.d_child", str(os.getpid()), *command]
    with log.open("ab") as sink:  # the child keeps its own copy
        process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, env=env)
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.d_fleet")
    parser.add_argument("kind", choices=["hubspot", "qbo"])
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    fleet = hubspot_fleet if args.kind == "hubspot" else qbo_fleet
    app = Probe(fleet(args.connections))  # HubSpot: its health only
    config = uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning")
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
