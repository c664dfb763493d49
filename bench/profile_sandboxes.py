"""`python -m bench.profile_sandboxes [--invoices 10000] [--profile qbo|hubspot]`: time the
sandboxes' hot requests at bench size, in process (ASGI transport: no socket, no latency,
no rate limit), so the figures are the sandboxes' own CPU time per request.

The states are the ones the bench produces: QBO seeded as in scenario (a) (N invoices with
3 lines on average, N/5 customers, 300 items) and HubSpot as after scenario (a) / seeded
for (b) (N invoices, ~3N line items, N/5 contacts, 300 products). `--profile` runs each
request of that sandbox under cProfile and prints the top functions by own time."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import io
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.seeding import Sizes, seed_hubspot_portal, seed_qbo_company
from ledgerbridge.commands._demo_stack import DEMO_REALM, DEMO_TOKEN
from ledgerbridge.sandbox.hubspot import cli as hubspot_cli
from ledgerbridge.sandbox.hubspot.app import create_app as hubspot_app
from ledgerbridge.sandbox.qbo import cli as qbo_cli
from ledgerbridge.sandbox.qbo.app import create_app as qbo_app

# label, method, path, json body or query params (or a function of a unique marker)
Request = tuple[str, str, str, Any | Callable[[str], Any]]


def qbo_requests(since: str) -> list[Request]:
    base = f"/v3/company/{DEMO_REALM}"
    ids = ", ".join(f"'{i}'" for i in range(4001, 4101))

    def q(text: str) -> dict[str, str]:
        return {"query": text}

    full = "SELECT * FROM Invoice ORDERBY MetaData.LastUpdatedTime"
    return [
        (
            "query Invoice ORDERBY, page 1",
            "GET",
            f"{base}/query",
            q(f"{full} STARTPOSITION 1 MAXRESULTS 1000"),
        ),
        (
            "query Invoice ORDERBY, page 10",
            "GET",
            f"{base}/query",
            q(f"{full} STARTPOSITION 9001 MAXRESULTS 1000"),
        ),
        (
            "query Invoice WHERE LastUpdatedTime >= ORDERBY",
            "GET",
            f"{base}/query",
            q(
                f"SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '{since}' "
                "ORDERBY MetaData.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 1000"
            ),
        ),
        (
            "query Invoice WHERE CreateTime >",
            "GET",
            f"{base}/query",
            q(
                f"SELECT * FROM Invoice WHERE MetaData.CreateTime > '{since}' "
                "STARTPOSITION 1 MAXRESULTS 1000"
            ),
        ),
        (
            "query Customer Active IN ORDERBY",
            "GET",
            f"{base}/query",
            q(
                "SELECT * FROM Customer WHERE Active IN (true, false) "
                "ORDERBY MetaData.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 1000"
            ),
        ),
        (
            "query Invoice Id IN (100)",
            "GET",
            f"{base}/query",
            q(f"SELECT * FROM Invoice WHERE Id IN ({ids}) STARTPOSITION 1 MAXRESULTS 1000"),
        ),
        ("query count Invoice", "GET", f"{base}/query", q("SELECT COUNT(*) FROM Invoice")),
        (
            "cdc Invoice,Customer",
            "GET",
            f"{base}/cdc",
            {"entities": "Invoice,Customer", "changedSince": since},
        ),
    ]


def hubspot_requests(state: Any) -> list[Request]:
    contacts = [r.id for r in state.live("contacts")]
    invoices = [r.id for r in state.live("invoices")]
    step = max(1, len(contacts) // 100)
    emails = [state.objects["contacts"][i].properties["email"] for i in contacts[::step]][:100]
    picked = invoices[:: max(1, len(invoices) // 100)][:100]  # 100 invoices across the table
    return [
        (
            "search contacts email IN (100)",
            "POST",
            "/crm/v3/objects/contacts/search",
            {
                "filterGroups": [
                    {"filters": [{"propertyName": "email", "operator": "IN", "values": emails}]}
                ],
                "properties": ["email", "firstname", "lastname"],
                "limit": 200,
            },
        ),
        (
            "search invoices hs_createdate GTE, sorted",
            "POST",
            "/crm/v3/objects/invoices/search",
            {
                "filterGroups": [
                    {
                        "filters": [
                            {"propertyName": "hs_createdate", "operator": "GTE", "value": "0"}
                        ]
                    }
                ],
                "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                "limit": 200,
            },
        ),
        (
            "list invoices +associations (100)",
            "GET",
            "/crm/v3/objects/invoices",
            {
                "limit": "100",
                "associations": "contacts,line_items",
                "after": str(int(invoices[len(invoices) // 2])),
            },
        ),
        (
            "batch read contacts (100)",
            "POST",
            "/crm/v3/objects/contacts/batch/read",
            {"inputs": [{"id": i} for i in contacts[-100:]], "properties": ["email"]},
        ),
        (
            "v4 batch read invoice->line_items (100)",
            "POST",
            "/crm/v4/associations/invoices/line_items/batch/read",
            {"inputs": [{"id": i} for i in picked]},
        ),
        (
            "batch create contacts (100)",
            "POST",
            "/crm/v3/objects/contacts/batch/create",
            lambda run: {
                "inputs": [
                    {"properties": {"email": f"new{i}@{run}.example", "firstname": "N"}}
                    for i in range(100)
                ]
            },
        ),
        (
            "batch create line_items +assoc (100)",
            "POST",
            "/crm/v3/objects/line_items/batch/create",
            {
                "inputs": [
                    {
                        "properties": {"name": "x", "price": "10", "quantity": "2"},
                        "associations": [
                            {
                                "to": {"id": invoice},
                                "types": [
                                    {
                                        "associationCategory": "HUBSPOT_DEFINED",
                                        "associationTypeId": 410,
                                    }
                                ],
                            }
                        ],
                    }
                    for invoice in picked
                ]
            },
        ),
    ]


async def _time(
    client: httpx.AsyncClient, requests: list[Request], repeat: int, profile: bool
) -> list[tuple[str, float, int]]:
    out = []
    for run, (label, method, path, payload) in enumerate(requests):
        times = []
        size = 0
        for k in range(repeat):
            body = payload(f"r{run}k{k}") if callable(payload) else payload
            profiler = cProfile.Profile() if profile else None
            began = time.perf_counter()
            if profiler:
                profiler.enable()
            if method == "GET":
                answer = await client.get(path, params=payload)
            else:
                answer = await client.post(path, json=body)
            if profiler:
                profiler.disable()
            times.append(time.perf_counter() - began)
            if answer.status_code >= 400:
                raise RuntimeError(f"{label}: {answer.status_code} {answer.text[:300]}")
            size = len(answer.content)
            if profiler and k == 0:
                stream = io.StringIO()
                pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(18)
                print(f"--- {label}\n{stream.getvalue()}", file=sys.stderr)
        out.append((label, statistics.median(times), size))
    return out


def _report(title: str, seeded: float, rows: list[tuple[str, float, int]]) -> None:
    print(f"{title} (seeded in {seeded:.1f} s)")
    for label, seconds, size in rows:
        print(f"  {seconds * 1000:9.1f} ms  {size / 1024:8.0f} KiB  {label}")


async def main_async(
    n: int, repeat: int, profile: str | None, only: str | None, hubspot_state: Path | None
) -> None:
    sizes = Sizes.for_invoices(n)
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    if only in (None, "qbo"):
        config = qbo_cli.build_config(
            realms=[DEMO_REALM], token=DEMO_TOKEN, requests_per_minute=0, batch_per_minute=0
        )
        config.rate_limits.concurrent = 0
        app = qbo_app(config)
        began = time.perf_counter()
        sandbox = app.state.sandbox
        seed_qbo_company(sandbox, sizes)
        seeded = time.perf_counter() - began
        since = (sandbox.now() - dt.timedelta(days=1)).isoformat(timespec="seconds")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://q", headers=headers
        ) as c:
            rows = await _time(c, qbo_requests(since), repeat, profile == "qbo")
        _report(f"QBO sandbox, {n} invoices", seeded, rows)
    if only in (None, "hubspot"):
        hs_config = hubspot_cli.build_config(
            token=DEMO_TOKEN, rate_limit_burst=0, rate_limit_daily=0
        )
        hs_config.search_rate_per_second = 0
        app = hubspot_app(hs_config)
        began = time.perf_counter()
        state = app.state.sandbox.state
        if hubspot_state is not None and hubspot_state.exists():  # noqa: ASYNC240
            state.load(hubspot_state)  # e.g. seeded by a faster sandbox: same format
        else:
            seed_hubspot_portal(app.state.sandbox, sizes)
            if hubspot_state is not None:
                state.save(hubspot_state)
        seeded = time.perf_counter() - began
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://h", headers=headers
        ) as c:
            rows = await _time(c, hubspot_requests(state), repeat, profile == "hubspot")
        _report(f"HubSpot sandbox, {n} invoices", seeded, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_sandboxes", description=__doc__)
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", choices=["qbo", "hubspot"], default=None)
    parser.add_argument("--only", choices=["qbo", "hubspot"], default=None)
    parser.add_argument(
        "--hubspot-state",
        type=Path,
        default=None,
        help="load the HubSpot portal from this JSON file (seed and save it if missing)",
    )
    args = parser.parse_args(argv)
    asyncio.run(main_async(args.invoices, args.repeat, args.profile, args.only, args.hubspot_state))
    return 0


if __name__ == "__main__":
    sys.exit(main())
