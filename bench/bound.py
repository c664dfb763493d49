"""The honest least-time bound of a backfill scenario (bench/README.md, "The bound").

The bound is the least time that the sandboxes' real limits allow for the least requests
the work needs. It is a *lower* bound: no client, however clever, can finish sooner, so
`efficiency = bound / wall time` can never exceed 1. An efficiency above 1 means the bound
is wrong (`check_efficiency` says so and the bench exits non-zero).

The limits, as the sandboxes enforce them (`sandbox/hubspot/ratelimit.py`,
`sandbox/qbo/ratelimit.py`), and the facts the bound derives from them:

* HubSpot: at most `burst` (190) requests admitted in any rolling `burst_window` (10 s),
  so request i + 190 is admitted at least 10 s after request i: the R-th request no
  sooner than `10 s × floor((R − 1) / 190)` after the first. Searches: 4 per rolling
  second on top (the same argument with 4 and 1 s). The added latency comes before the
  admission (the sandbox sleeps, then counts).
* QBO: at most 500 requests in any rolling minute, of which at most 40 are `/batch`
  (≤ 30 operations each), and at most 10 in flight; the latency is spent in flight. So
  one rolling minute carries at most `40 × 30 + (500 − 40)` = 1,660 operations when every
  write is batchable: W operations plus P plain reads need `ceil((W + P) / 1660)` minutes
  of admissions, the last no sooner than 60 s × (that − 1) after the first. With 10 in
  flight and each request in flight for at least the latency, n requests take at least
  `ceil(n / 10) × latency`.
* Each request takes at least the added latency, and a request that needs another's
  answer starts after it: the scenario's dependency chain (e.g. read the QBO customers →
  create the contacts → create the invoices, which name their contact → create the lines,
  which name their invoice → finalize the invoices) costs `chain × latency` at least.

The least requests (`work_a`, `work_b`) count only the requests that do the work, with
full batches: what a perfect client sends. Start-up of the engine process (the
interpreter, imports, the store) is not in the bound, so it shows in the efficiency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.seeding import Sizes


@dataclass(frozen=True)
class Limits:
    """The sandboxes' default limits (their `config.py`), which the bench keeps."""

    hubspot_burst: int = 190
    hubspot_window: float = 10.0
    hubspot_searches: int = 4
    hubspot_search_window: float = 1.0
    hubspot_batch: int = 100
    qbo_per_minute: int = 500
    qbo_concurrent: int = 10
    qbo_batches_per_minute: int = 40
    qbo_batch_ops: int = 30
    qbo_query_page: int = 1000
    minute: float = 60.0

    @property
    def qbo_ops_per_minute(self) -> int:
        """Operations one rolling minute can carry: every batch slot full, the rest plain."""
        return self.qbo_batches_per_minute * self.qbo_batch_ops + (
            self.qbo_per_minute - self.qbo_batches_per_minute
        )


LIMITS = Limits()


@dataclass(frozen=True)
class Work:
    """The least requests a scenario needs, and its dependency structure.

    `hubspot` / `hubspot_search`: HubSpot requests (general / search). `qbo_reads`: QBO
    plain requests that cannot go in a batch's write budget (queries). `qbo_ops`: QBO
    write operations (batchable: 30 a batch, or one a plain request). `hubspot_after` /
    `qbo_after`: round trips that must finish before the first request to that API (its
    input comes from the other one). `chain`: the longest chain of requests, each needing
    the one before's answer (round trips)."""

    hubspot: int = 0
    hubspot_search: int = 0
    qbo_reads: int = 0
    qbo_ops: int = 0
    hubspot_after: int = 0
    qbo_after: int = 0
    chain: int = 1
    records: int = 0
    """Records the work writes (line items included): for requests per record."""
    detail: str = ""


@dataclass(frozen=True)
class Bound:
    seconds: float
    hubspot_seconds: float
    qbo_seconds: float
    chain_seconds: float
    work: Work

    def explain(self) -> str:
        w = self.work
        searches = f" + {w.hubspot_search} searches" if w.hubspot_search else ""
        return (
            f"HubSpot {w.hubspot} requests{searches}"
            f" -> {self.hubspot_seconds:.2f} s; QBO {w.qbo_ops} write ops + {w.qbo_reads} reads"
            f" -> {self.qbo_seconds:.2f} s; chain {w.chain} round trips -> "
            f"{self.chain_seconds:.2f} s ({w.detail})"
        )


def rolling(count: int, per_window: int, window: float) -> float:
    """Least seconds from the first admission to the last of `count` requests when at most
    `per_window` are admitted in any rolling `window`."""
    if count <= 0 or per_window <= 0:
        return 0.0
    return window * ((count - 1) // per_window)


def hubspot_seconds(work: Work, latency: float, limits: Limits = LIMITS) -> float:
    """Least time until the last HubSpot request is answered (0 when there are none)."""
    if work.hubspot + work.hubspot_search == 0:
        return 0.0
    general = rolling(
        work.hubspot + work.hubspot_search, limits.hubspot_burst, limits.hubspot_window
    )
    search = rolling(work.hubspot_search, limits.hubspot_searches, limits.hubspot_search_window)
    return (work.hubspot_after + 1) * latency + max(general, search)


def qbo_least_requests(work: Work, limits: Limits = LIMITS) -> int:
    """The fewest QBO requests: reads, plus the writes in full batches."""
    return work.qbo_reads + math.ceil(work.qbo_ops / limits.qbo_batch_ops)


def qbo_seconds(work: Work, latency: float, limits: Limits = LIMITS) -> float:
    """Least time until the last QBO request is answered (0 when there are none)."""
    if work.qbo_ops + work.qbo_reads == 0:
        return 0.0
    minutes = math.ceil((work.qbo_ops + work.qbo_reads) / limits.qbo_ops_per_minute)
    admissions = limits.minute * (minutes - 1)
    in_flight = math.ceil(qbo_least_requests(work, limits) / limits.qbo_concurrent) * latency
    # The minutes count from the first admission: a read may go at once (it needs no
    # answer), the first write only after `qbo_after` round trips.
    first = 0.0 if work.qbo_reads else work.qbo_after * latency
    after = work.qbo_after * latency
    return max(first + admissions + latency, after + latency, after + in_flight)


def least_time(work: Work, latency: float, limits: Limits = LIMITS) -> Bound:
    """The bound: the slowest of the APIs and the dependency chain."""
    hubspot = hubspot_seconds(work, latency, limits)
    qbo = qbo_seconds(work, latency, limits)
    chain = work.chain * latency
    return Bound(max(hubspot, qbo, chain), hubspot, qbo, chain, work)


def _pages(n: int, size: int) -> int:
    return math.ceil(n / size) if n > 0 else 0


def work_a(s: Sizes, limits: Limits = LIMITS) -> Work:
    """(a) QBO → HubSpot: read customers, items and invoices (query pages of 1,000, in
    parallel by STARTPOSITION); create contacts, products, invoices (their contact given
    inline), line items (their invoice inline, `hs_product_id` set) in batches of 100, and
    finalize the invoices (one batch update per 100: HubSpot creates invoices as drafts).
    Chain: read → contacts → invoices → lines → finalize."""
    b, page = limits.hubspot_batch, limits.qbo_query_page
    hubspot = (
        _pages(s.customers, b) + _pages(s.items, b) + 2 * _pages(s.invoices, b) + _pages(s.lines, b)
    )
    reads = _pages(s.customers, page) + _pages(s.items, page) + _pages(s.invoices, page)
    return Work(
        hubspot=hubspot,
        qbo_reads=reads,
        hubspot_after=1,
        chain=5,
        records=s.customers + s.items + s.invoices + s.lines,
        detail="contacts, products, invoices, lines created; invoices finalized",
    )


def work_b(s: Sizes, limits: Limits = LIMITS) -> Work:
    """(b) HubSpot → QBO: list contacts and invoices (associations inline) and batch-read
    the line items (100 a request); read the QBO items once (their ids, by SKU); create
    the customers and the invoices (lines inside) in QBO. The products exist on both
    sides and are not written. Chain: list → create customers → create invoices (they
    name their customer)."""
    b, page = limits.hubspot_batch, limits.qbo_query_page
    hubspot = _pages(s.customers, b) + _pages(s.invoices, b) + _pages(s.lines, b)
    return Work(
        hubspot=hubspot,
        qbo_reads=_pages(s.items, page),
        qbo_ops=s.customers + s.invoices,
        qbo_after=1,
        chain=3,
        records=s.customers + s.invoices + s.lines,
        detail="customers and invoices (with their lines) created",
    )


class BoundError(Exception):
    """An efficiency above 1: the bound is not a lower bound (a bug in bench/bound.py)."""


def check_efficiency(bound: float, wall: float, what: str) -> float:
    """`bound / wall`; raises `BoundError` when it is above 1."""
    if wall <= 0:
        raise BoundError(f"{what}: the wall time is {wall} s")
    efficiency = bound / wall
    if efficiency > 1:
        raise BoundError(
            f"{what}: efficiency {efficiency:.3f} > 1 (bound {bound:.2f} s, measured "
            f"{wall:.2f} s): the bound is not a lower bound; fix bench/bound.py"
        )
    return efficiency
