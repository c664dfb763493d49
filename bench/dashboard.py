"""Benchmark of the dashboard's pages with a large store (issue 15): the object view, the
record view (page 1 and page 500) and the failures page, with N records (half of them in
linked pairs) and F failures in a SQLite store. Reports the server time of each page
(the request through the whole ASGI app, in process: no network), median and worst of
`--repeat` runs. Target: under 200 ms each on SQLite with 100,000 records and 5,000
failures.

    python -m bench.dashboard --records 100000 --failures 5000

Not a test (no figure is asserted); `tests/unit/test_bench_dashboard_smoke.py` runs it tiny.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import insert

from ledgerbridge.store import Store, TokenCipher, generate_key, schema
from ledgerbridge.store.accounts import TokenKind, create_token
from ledgerbridge.web.app import create_web_app
from ledgerbridge.web.auth import hash_token, new_token

PAIRS = ("contacts_customers", "products_items", "invoices_invoices", "payments")
CATEGORIES = ("duplicate_display_name", "missing_customer", "ambiguous_match", "validation")
PAGES = {
    "object view": "/",
    "record view, page 1": "/records",
    "record view, page 500": "/records?page=500",
    "failures": "/failures",
}


@dataclass
class Result:
    records: int
    failures: int
    seconds: dict[str, list[float]] = field(default_factory=dict)

    def render(self) -> str:
        lines = [f"dashboard pages, {self.records:,} records, {self.failures:,} failures (SQLite)"]
        for page, times in self.seconds.items():
            median, worst = statistics.median(times) * 1000, max(times) * 1000
            lines.append(f"  {page:<24} median {median:7.1f} ms   worst {worst:7.1f} ms")
        return "\n".join(lines)


def seed(store: Store, records: int, failures: int) -> int:
    """One connection with `records` sync records: pairs of linked records (each pair two
    records and one link) and `failures` failed unlinked ones. Returns the connection id."""
    now = dt.datetime.now(dt.UTC)
    with store.begin() as tx:
        cid = tx.create_connection(name="bench", hubspot_base_url="h", qbo_base_url="q")
        rows, links = [], []
        pairs = (records - failures) // 2
        for n in range(pairs):
            kind = PAIRS[n % len(PAIRS)]
            links.append(
                {
                    "connection_id": cid,
                    "object_type": kind,
                    "hubspot_id": f"h{n}",
                    "qbo_id": f"q{n}",
                    "base": {},
                    "created_at": now,
                    "updated_at": now,
                }
            )
            for side, rid in (("hubspot", f"h{n}"), ("quickbooks", f"q{n}")):
                rows.append(_record(cid, kind, side, rid, "synced", None, now, n))
        for n in range(failures):
            kind = PAIRS[n % 3]
            category = CATEGORIES[n % len(CATEGORIES)]
            rows.append(_record(cid, kind, "hubspot", f"f{n}", "failed", category, now, n))
        tx.connection.execute(insert(schema.links), links)
        tx.connection.execute(insert(schema.sync_records), rows)
    return cid


def _record(
    cid: int,
    kind: str,
    side: str,
    rid: str,
    status: str,
    category: str | None,
    now: dt.datetime,
    n: int,
) -> dict[str, object]:
    at = now - dt.timedelta(seconds=n)
    return {
        "connection_id": cid,
        "object_type": kind,
        "side": side,
        "record_id": rid,
        "label": f"record {rid}@example.test",
        "status": status,
        "error_category": category,
        "detail": "refused" if category else None,
        "attempts": 1,
        "first_seen_at": at,
        "last_attempt_at": at,
        "last_synced_at": at if status == "synced" else None,
    }


async def measure(store: Store, repeat: int) -> dict[str, list[float]]:
    token = new_token()
    with store.begin() as tx:
        create_token(tx, TokenKind.API, "bench", hash_token(token))
    transport = httpx.ASGITransport(app=create_web_app(store))
    headers = {"Authorization": f"Bearer {token}"}
    times: dict[str, list[float]] = {page: [] for page in PAGES}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1", headers=headers
    ) as client:
        for _ in range(repeat):
            for page, path in PAGES.items():
                started = time.perf_counter()
                response = await client.get(path)
                times[page].append(time.perf_counter() - started)
                response.raise_for_status()
    return times


def run(records: int, failures: int, repeat: int, workdir: Path | None = None) -> Result:
    folder = workdir or Path(tempfile.mkdtemp(prefix="ledgerbridge-bench-dashboard-"))
    store = Store.open(f"sqlite:///{folder / 'bench.db'}", TokenCipher(generate_key().encode()))
    try:
        seed(store, records, failures)
        return Result(records, failures, asyncio.run(measure(store, repeat)))
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--failures", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(run(args.records, args.failures, args.repeat).render())


if __name__ == "__main__":
    main()
