"""The process chaos run (issue 19): the real `ledgerbridge run` against both sandboxes over
real HTTP, with faults, a mixed workload on both sides, SIGKILLs and replayed webhooks.

From its seed (printed; `CHAOS_SEED=N` replays the same choices — the engine's timing is
the machine's, so a replay takes the same decisions, not the same interleaving):

1. both companies get people (some the same email on both sides) and QBO items;
2. faults on: 4 % 429s, 2 % 500s and 2 % timeouts after commit (the write is made, the
   answer comes after the engine's HTTP timeout) on every API request of both sandboxes;
3. the engine starts and is SIGKILLed the moment its first record appears on either side
   (a remote write made, nothing saved locally yet), then restarted;
4. users work on both sides (contacts, customers, items, edits both sides, invoices made
   in HubSpot and in QBO, payments both sides, voids both sides) while the engine syncs;
   three more SIGKILLs at random moments (each followed by a restart), and a sample of
   the webhooks both sandboxes delivered is delivered again (replays);
5. faults off; the time until nothing changes any more (both sandboxes and the engine's
   sync records, for QUIET seconds) is the time to settle.

The checks (`checks.py`): duplicates, records lost, `ledgerbridge reconcile`.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from ledgerbridge.sandbox.hubspot.signing import signed_headers
from tests.chaos.stack import APP_SECRET, Stack
from tests.chaos.users import Users

QUIET = 6.0  # seconds without any change, while the engine reads both sides: settled
POLLED = 4  # requests to each side during the quiet time (the engine is not paused)


@dataclass
class Figures:
    seed: int
    size: int
    created: dict[str, int] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    voided_unsynced: list[str] = field(default_factory=list)
    failed: dict[str, int] = field(default_factory=dict)
    reconcile_exit: int = -1
    drift: int = -1
    known_drift: list[str] = field(default_factory=list)
    other_drift: list[str] = field(default_factory=list)
    kills: int = 0
    first_kill_writes: int = 0
    replayed: int = 0
    settle_seconds: float = -1.0
    wall_seconds: float = 0.0
    requests: dict[str, int] = field(default_factory=dict)
    throttled: dict[str, int] = field(default_factory=dict)
    server_errors: dict[str, int] = field(default_factory=dict)
    timeouts_after_commit: int = 0
    given_up: int = 0

    def summary(self) -> str:
        lines = [
            f"process chaos: CHAOS_SEED={self.seed} CHAOS_SIZE={self.size}",
            f"  created by users: {self.created}",
            f"  duplicates: {len(self.duplicates)} {self.duplicates[:10]}",
            f"  lost: {len(self.lost)} {self.lost[:10]}",
            f"  voided before they were synced (not copied): {self.voided_unsynced}",
            f"  failed (with a category): {self.failed}",
            f"  reconcile: exit {self.reconcile_exit}, drift {self.drift} "
            f"(known issue: {len(self.known_drift)}, other: {len(self.other_drift)})",
            f"  other drift: {self.other_drift[:10]}",
            f"  known-issue drift: {self.known_drift[:5]}",
            f"  SIGKILLs: {self.kills} (the first after {self.first_kill_writes} remote "
            f"record(s) appeared); webhooks replayed: {self.replayed}",
            f"  engine requests: {self.requests}, 429s: {self.throttled}, "
            f"5xx: {self.server_errors}, timeouts after commit: {self.timeouts_after_commit}",
            f"  settled {self.settle_seconds:.1f} s after the faults stopped; "
            f"wall time {self.wall_seconds:.0f} s; user requests given up: {self.given_up}",
        ]
        return "\n".join(lines)


class ProcessChaos:
    def __init__(self, stack: Stack, seed: int, size: int) -> None:
        self.stack, self.seed, self.size = stack, seed, size
        self.rng = random.Random(seed)
        self.users = Users(stack.hubspot, stack.qbo, random.Random(seed + 1), seed)
        self.figures = Figures(seed, size)

    # ---- phases ----

    def seed_companies(self) -> None:
        users = self.users
        for _ in range(max(2, self.size // 25)):
            users.qbo_item()
        for _ in range(max(2, self.size // 5)):
            users.hs_contact()
        for _ in range(max(2, self.size // 8)):
            users.qbo_customer()
        users.sharing = False

    def first_write_kill(self) -> None:
        """Start the engine and SIGKILL it as soon as a record it made appears anywhere."""
        stack = self.stack
        before = stack.remote_writes()
        stack.start()
        deadline = time.monotonic() + 120
        while stack.remote_writes() == before:
            exited = stack.process is None or stack.process.poll() is not None
            if exited or time.monotonic() > deadline:
                raise AssertionError(f"the engine wrote nothing:\n{stack.output()}")
            time.sleep(0.005)
        stack.kill()
        self.figures.first_kill_writes = stack.remote_writes() - before
        self.figures.kills += 1
        stack.start()

    def workload(self) -> None:
        """`size` user actions in rounds, the engine syncing; three SIGKILLs at random
        moments (a random round, a random delay into it); replays halfway and at the end."""
        rounds = 8
        per_round = max(1, self.size // rounds)
        kill_rounds = set(self.rng.sample(range(rounds), 3))
        for round_ in range(rounds):
            for _ in range(per_round):
                self.users.act()
            if round_ in kill_rounds:
                self.stack.wait_healthy()  # a kill of a process still starting proves little
                time.sleep(self.rng.uniform(0.0, 1.5))
                self.stack.kill()
                self.figures.kills += 1
                self.stack.start()
            if round_ in (rounds // 2, rounds - 1):
                self.stack.wait_healthy()
                self.replay_webhooks()
            time.sleep(0.3)

    def replay_webhooks(self) -> None:
        """Deliver again a sample of the webhooks both sandboxes sent: QBO's byte for byte
        (same body and signature), HubSpot's events signed afresh (as its retries are)."""
        stack, rng = self.stack, self.rng
        with httpx.Client(timeout=10) as http:
            qbo = http.get(f"{stack.qbo}/_sandbox/webhooks/deliveries").json()
            for delivery in rng.sample(qbo, min(len(qbo), 10)):
                headers = {"intuit-signature": delivery["signature"]}
                headers["Content-Type"] = "application/json"
                url = f"{stack.engine_url}/webhooks/qbo"
                self._replay(http, url, delivery["body"], headers)
            hubspot = http.get(f"{stack.hubspot}/_sandbox/webhooks/deliveries").json()["results"]
            for delivery in rng.sample(hubspot, min(len(hubspot), 10)):
                url = f"{stack.engine_url}/webhooks/hubspot"
                body = json.dumps(delivery["events"])
                stamp = int(time.time() * 1000)
                self._replay(http, url, body, signed_headers(APP_SECRET, "POST", url, body, stamp))

    def _replay(self, http: httpx.Client, url: str, body: str, headers: dict[str, str]) -> None:
        response = http.post(url, content=body.encode(), headers=headers)
        assert response.status_code < 300, (url, response.status_code, response.text[:300])
        self.figures.replayed += 1

    def fingerprint(self) -> tuple[Any, ...]:
        stack = self.stack
        with stack.store.begin() as tx:
            records = tx.list_records(stack.connection_id, limit=1_000_000)
            links = len(tx.list_links(stack.connection_id))
        statuses = Counter((r.object_type, r.status.value, r.error_category) for r in records)
        return stack.remote_writes(), links, sorted(statuses.items())

    def engine_requests(self) -> tuple[int, int]:
        traffic = self.stack.traffic
        return traffic["hubspot"].requests, traffic["qbo"].requests

    def settle(self, timeout: float) -> None:
        """Faults off; wait until nothing has changed for QUIET seconds while the engine
        kept reading both sides (a paused engine is quiet too, but not settled)."""
        self.stack.faults(on=False)
        started = last_change = time.monotonic()
        seen, requests = self.fingerprint(), self.engine_requests()
        while True:
            if time.monotonic() - started > timeout:
                raise AssertionError(f"not settled after {timeout:.0f} s: {seen}")
            assert self.stack.process is not None
            if self.stack.process.poll() is not None:
                raise AssertionError(f"the engine exited:\n{self.stack.output()}")
            time.sleep(0.5)
            now = self.fingerprint()
            if now != seen:
                seen, last_change, requests = now, time.monotonic(), self.engine_requests()
                continue
            polled = [n - r for n, r in zip(self.engine_requests(), requests, strict=True)]
            if time.monotonic() - last_change >= QUIET and min(polled) >= POLLED:
                break
        self.figures.settle_seconds = last_change - started

    def run(self, settle_timeout: float) -> Figures:
        started = time.monotonic()
        try:
            self.seed_companies()
            self.stack.faults(on=True)
            self.first_write_kill()
            self.workload()
            self.settle(settle_timeout)
        finally:
            self.stack.stop()
        figures, traffic = self.figures, self.stack.traffic
        for side, t in traffic.items():
            figures.requests[side] = t.requests
            figures.throttled[side] = t.throttled
            figures.server_errors[side] = t.server_errors
            figures.timeouts_after_commit += t.hung
        figures.given_up = self.users.given_up
        figures.created = {
            f"{side} {kind}": len(ids)
            for kind, sides in self.users.made.items()
            for side, ids in sides.items()
        }
        figures.created["voids"] = sum(len(v) for v in self.users.voided.values())
        figures.wall_seconds = time.monotonic() - started
        return figures
