"""`python -m bench.sandbox_proc hubspot|qbo --port P ...`: one sandbox in its own process,
as the bench runs it (`bench.harness.environment` starts one of each).

The sandbox app is wrapped by `Metered` (counts API requests per endpoint and the 429s,
keeps every request for the TSV trace) and, beside it, by the bench's own endpoints under
`/_bench/...`, which are neither metered nor rate-limited and run in the sandbox's event
loop (so they see and change the live state between two requests):

* `GET  /_bench/health`      → `{"ok": true, "kind", "today"}` (the sandbox's date)
* `POST /_bench/seed`        `{"what": "company"|"catalog"|"portal", "invoices", "customers",
  "items", "seed"}` → `{"lines": n}` (`bench.seeding`)
* `POST /_bench/change`      `{"i": n}` → `{"email"}`: a HubSpot contact made in the CRM UI
  (its webhook fires) or a QBO customer (its webhook published)
* `GET  /_bench/emails`      `?suffix=…` → `{"emails": [...]}` (contacts / customers)
* `GET  /_bench/counts`      → records per object type
* `GET  /_bench/digest`      → every invoice, party and SKU described for the done check
  (`bench.readback`)
* `GET  /_bench/meter`       → `{"requests", "throttled", "by_kind", "last_request"}`;
  `POST /_bench/meter/reset` clears the counters and the trace
* `GET  /_bench/trace`       `?origin=t` → the requests as TSV (start − t, duration,
  status, endpoint, the start of the query and body); times are `time.monotonic()`,
  which is one clock for every process of the machine (Linux: CLOCK_MONOTONIC), so
  `origin` may come from the bench process.

The process exits when its parent does (checked twice a second), so a bench killed
without clean-up does not leave sandboxes behind."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import uvicorn

from bench import readback, seeding
from ledgerbridge.commands._demo_stack import DEMO_REALM, DEMO_TOKEN
from ledgerbridge.runtime.collector import tune_collector

UNMETERED = ("/_sandbox", "/oauth", "/connect", "/_bench")
DETAIL = 240
"""Bytes of a request's query string and body kept in the trace."""
BENCH = "/_bench"

Send = Callable[[dict[str, Any]], Awaitable[None]]


def _shape(path: str) -> str:
    """The path with ids replaced, for a per-endpoint breakdown."""
    return "/".join("{id}" if part.isdigit() else part for part in path.split("/"))


@dataclass
class Metered:
    """An ASGI wrapper that counts API requests (and 429s) per endpoint and keeps every
    request (start, duration, status, endpoint) for the trace. `/_bench/...` goes to
    `bench` (not metered); `/_sandbox`, `/oauth` and `/connect` are passed on unmetered."""

    app: Any
    bench: Any = None
    requests: int = 0
    throttled: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    last_request: float = 0.0
    trace: list[tuple[float, float, int, str, str]] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.bench is not None and scope["path"].startswith(BENCH):
            await self.bench(scope, receive, send)
            return
        if scope["type"] != "http" or scope["path"].startswith(UNMETERED):
            await self.app(scope, receive, send)
            return
        self.requests += 1
        began = self.last_request = time.monotonic()
        kind = f"{scope['method']} {_shape(scope['path'])}"
        self.by_kind[kind] += 1
        status = [0]
        query = scope.get("query_string", b"").decode("latin-1")
        sample: list[bytes] = [unquote_plus(query).encode()[:DETAIL]] if query else []

        async def reading() -> Any:
            message = await receive()
            if message.get("type") == "http.request" and sum(map(len, sample)) < DETAIL:
                sample.append(message.get("body", b"")[:DETAIL])
            return message

        async def counting_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                if message["status"] == 429:
                    self.throttled += 1
            await send(message)

        await self.app(scope, reading, counting_send)
        self.last_request = time.monotonic()
        detail = b" ".join(sample)[:DETAIL].decode("utf-8", "replace")
        detail = detail.replace("\t", " ").replace("\n", " ")
        self.trace.append((began, self.last_request - began, status[0], kind, detail))

    def reset(self) -> None:
        self.requests = self.throttled = 0
        self.by_kind.clear()
        self.trace.clear()

    def tsv(self, origin: float) -> str:
        """The requests as TSV: start (s from `origin`), duration, status, endpoint, and the
        start of the query string and body (what was asked)."""
        rows = [f"{t - origin:.3f}\t{d:.3f}\t{s}\t{k}\t{x}" for t, d, s, k, x in self.trace]
        return "\n".join(rows) + "\n"

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "throttled": self.throttled,
            "by_kind": dict(self.by_kind),
            "last_request": self.last_request,
        }


class BenchEndpoints:
    """The `/_bench/...` ASGI app of one sandbox process (see the module docstring)."""

    def __init__(self, kind: str, sandbox: Any, meter: Metered) -> None:
        self.kind = kind
        self.sandbox = sandbox
        self.meter = meter

    async def __call__(self, scope: Any, receive: Any, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = dict(parse_qsl(scope.get("query_string", b"").decode()))
        route = (scope["method"], scope["path"][len(BENCH) :])
        try:
            payload = json.loads(body) if body.strip() else {}
            status, answer = 200, self.handle(route, payload, query)
        except LookupError as exc:
            status, answer = 404, {"error": str(exc)}
        except Exception as exc:  # reported to the bench (which raises), traceback in the log
            traceback.print_exc()
            status, answer = 500, {"error": f"{type(exc).__name__}: {exc}"}
        if isinstance(answer, str):
            content, media = answer.encode(), b"text/tab-separated-values"
        else:
            content, media = json.dumps(answer).encode(), b"application/json"
        headers = [(b"content-type", media), (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def handle(self, route: tuple[str, str], payload: Any, query: dict[str, str]) -> Any:
        hubspot = self.kind == "hubspot"
        match route:
            case ("GET", "/health"):
                now = self.sandbox.now() if not hubspot else None
                today = now.date().isoformat() if now is not None else time.strftime("%Y-%m-%d")
                return {"ok": True, "kind": self.kind, "today": today}
            case ("POST", "/seed"):
                return {"lines": self.seed(payload)}
            case ("POST", "/change"):
                i = int(payload["i"])
                if hubspot:
                    return {"email": seeding.make_hubspot_contact(self.sandbox, i)}
                return {"email": seeding.make_qbo_customer(self.sandbox, i)}
            case ("GET", "/emails"):
                found = (seeding.hubspot_emails if hubspot else seeding.qbo_emails)(self.sandbox)
                suffix = query.get("suffix", "")
                return {"emails": sorted(e for e in found if e.endswith(suffix))}
            case ("GET", "/digest"):
                return (readback.hubspot_digest if hubspot else readback.qbo_digest)(self.sandbox)
            case ("GET", "/counts"):
                counts = seeding.hubspot_counts if hubspot else seeding.qbo_counts
                return counts(self.sandbox)
            case ("GET", "/meter"):
                return self.meter.snapshot()
            case ("POST", "/meter/reset"):
                self.meter.reset()
                return {"ok": True}
            case ("GET", "/trace"):
                return self.meter.tsv(float(query.get("origin", "0")))
        raise LookupError(f"no bench endpoint {route[0]} {BENCH}{route[1]}")

    def seed(self, payload: dict[str, Any]) -> int:
        what = payload["what"]
        sizes = seeding.Sizes(
            invoices=int(payload.get("invoices", 0)),
            customers=int(payload.get("customers", 0)),
            items=int(payload.get("items", 0)),
        )
        seed = int(payload.get("seed", 8))
        if (self.kind, what) == ("qbo", "company"):
            return seeding.seed_qbo_company(self.sandbox, sizes, seed)
        if (self.kind, what) == ("qbo", "catalog"):
            seeding.seed_qbo_catalog(self.sandbox, sizes.items)
            return 0
        if (self.kind, what) == ("hubspot", "portal"):
            return seeding.seed_hubspot_portal(self.sandbox, sizes, seed)
        raise LookupError(f"the {self.kind} sandbox cannot seed {what!r}")


def build_app(args: argparse.Namespace) -> Metered:
    """The sandbox app the options describe, wrapped by the meter and the bench endpoints."""
    engine = args.engine_url.rstrip("/")
    if args.kind == "hubspot":
        from ledgerbridge.sandbox.hubspot import cli as hubspot_cli
        from ledgerbridge.sandbox.hubspot.app import create_app as hubspot_app

        limits = {} if args.real_limits else {"rate_limit_burst": 0, "rate_limit_daily": 0}
        config = hubspot_cli.build_config(
            port=args.port,
            token=DEMO_TOKEN,
            latency_ms=args.latency_ms,
            webhook_url=f"{engine}/webhooks/hubspot" if args.webhooks else None,
            **limits,  # type: ignore[arg-type]
        )
        if not args.real_limits:
            config.search_rate_per_second = 0
        config.app_client_secret = args.secret
        app = hubspot_app(config)
    else:
        from ledgerbridge.sandbox.qbo import cli as qbo_cli
        from ledgerbridge.sandbox.qbo.app import create_app as qbo_app

        qbo_limits = {} if args.real_limits else {"requests_per_minute": 0, "batch_per_minute": 0}
        qbo_config = qbo_cli.build_config(
            realms=[DEMO_REALM],
            token=DEMO_TOKEN,
            latency=args.latency_ms / 1000,
            webhook_url=f"{engine}/webhooks/qbo",
            webhook_verifier=args.secret,
            **qbo_limits,  # type: ignore[arg-type]
        )
        app = qbo_app(qbo_config)
    meter = Metered(app)
    meter.bench = BenchEndpoints(args.kind, app.state.sandbox, meter)
    return meter


def _exit_with_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(3)  # the bench is gone: nobody will stop us


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sandbox_proc", description=__doc__)
    parser.add_argument("kind", choices=["hubspot", "qbo"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--engine-url", required=True, help="where webhooks go")
    parser.add_argument("--webhooks", action="store_true", help="HubSpot: deliver webhooks")
    parser.add_argument("--secret", default="", help="HubSpot app secret / QBO verifier")
    parser.add_argument(
        "--no-limits", dest="real_limits", action="store_false", help="rate limits off"
    )
    parser.add_argument("--parent-pid", type=int, default=None)
    args = parser.parse_args(argv)
    if args.parent_pid is not None:
        threading.Thread(target=_exit_with_parent, args=(args.parent_pid,), daemon=True).start()
    app = build_app(args)
    tune_collector()  # as `ledgerbridge sandbox` runs (its `main` does this)
    config = uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning")
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
