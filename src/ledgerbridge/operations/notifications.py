"""Notifications (off by default; `[notifications]` in the settings): a digest of new sync
failures at most every `digest_minutes`, each failure told once (until it is fixed and
fails again), and a warning when a connection's passes fail `failed_passes` times in a
row. Sent to a Slack-compatible webhook and/or by e-mail (`transport.notify`).

`ledgerbridge run` starts `Notifier.run()` beside the runtime and registers
`Notifier.on_pass` as the runtime's pass listener. Which failures were told is kept in
memory: after a restart, failures still failing are told once more.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Protocol

from ledgerbridge.settings import NotificationSettings
from ledgerbridge.store import Store
from ledgerbridge.store.dashboard import failures_since
from ledgerbridge.store.rows import SyncRecordRow
from ledgerbridge.sync.errors import ErrorCategory
from ledgerbridge.sync.report import PassReport
from ledgerbridge.transport.notify import NotifyError, SmtpSender, WebhookSender

__all__ = ["Notifier", "Sender", "senders_from"]

log = logging.getLogger(__name__)

NAMES = {
    "contacts_customers": "Contacts ↔ Customers",
    "products_items": "Products ↔ Items",
    "invoices_invoices": "Invoices ↔ Invoices",
    "payments": "Payments",
    "deals": "Deals",
}
SIDES = {"hubspot": "HubSpot", "quickbooks": "QuickBooks"}
Key = tuple[int, str, str, str, str | None]


class Sender(Protocol):
    async def send(self, subject: str, body: str) -> None: ...


def senders_from(settings: NotificationSettings) -> list[Sender]:
    senders: list[Sender] = []
    if settings.webhook_url is not None:
        senders.append(WebhookSender(settings.webhook_url.get_secret_value()))
    if settings.smtp_host and settings.smtp_to:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        senders.append(
            SmtpSender(
                settings.smtp_host,
                settings.smtp_port,
                settings.smtp_from,
                list(settings.smtp_to),
                starttls=settings.smtp_starttls,
                username=settings.smtp_username,
                password=password,
            )
        )
    return senders


def _category(value: str | None) -> ErrorCategory:
    try:
        return ErrorCategory(value or "unknown")
    except ValueError:
        return ErrorCategory.UNKNOWN


def digest_text(records: Sequence[SyncRecordRow]) -> str:
    """The failures grouped by category: the title, the fix, and each record."""
    groups: dict[ErrorCategory, list[SyncRecordRow]] = defaultdict(list)
    for record in records:
        groups[_category(record.error_category)].append(record)
    lines: list[str] = []
    for category, rows in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0].value)):
        lines.append(f"{category.headline} ({len(rows)})")
        lines.append(f"  How to fix it: {category.fix}")
        for r in rows:
            name = r.label or r.record_id
            where = f"{NAMES.get(r.object_type, r.object_type)}, {SIDES.get(r.side, r.side)}"
            detail = f": {r.detail}" if r.detail else ""
            lines.append(
                f"  - {name} ({where} {r.record_id}, connection {r.connection_id}){detail}"
            )
    return "\n".join(lines)


class Notifier:
    def __init__(
        self,
        store: Store,
        senders: Sequence[Sender],
        *,
        digest_minutes: float = 15.0,
        failed_passes: int = 3,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.store = store
        self.senders = list(senders)
        self.every = dt.timedelta(minutes=digest_minutes)
        self.failed_passes = failed_passes
        self.clock = clock
        self._since = clock() - self.every
        self._told: set[Key] = set()
        self._in_row: dict[int, int] = defaultdict(int)
        self._tasks: set[asyncio.Task[None]] = set()

    async def _send(self, subject: str, body: str) -> None:
        for sender in self.senders:
            try:
                await sender.send(subject, body)
            except NotifyError as exc:
                log.warning("notification not sent: %s", exc)

    async def digest_once(self) -> int:
        """Send the failures not told yet (one message); returns how many were told."""
        since, now = self._since, self.clock()

        def read() -> list[SyncRecordRow]:
            with self.store.begin() as tx:
                return failures_since(tx, since)

        failing = await asyncio.to_thread(read)
        self._since = now
        new = [
            r
            for r in failing
            if (r.connection_id, r.object_type, r.side, r.record_id, r.error_category)
            not in self._told
        ]
        if not new:
            return 0
        await self._send(f"ledgerbridge: {len(new)} new sync failure(s)", digest_text(new))
        self._told.update(
            (r.connection_id, r.object_type, r.side, r.record_id, r.error_category) for r in new
        )
        return len(new)

    async def run(self) -> None:
        """A digest every `digest_minutes` until cancelled."""
        while True:
            await asyncio.sleep(self.every.total_seconds())
            try:
                await self.digest_once()
            except Exception:  # a notification problem must never stop the engine
                log.exception("the failure digest could not be made")

    def on_pass(
        self, connection_id: int, error: BaseException | None, report: PassReport | None = None
    ) -> None:
        """The runtime's pass listener: warn once when passes fail `failed_passes` in a row.
        A pass fails when it raises `error`, or when its `report` says a rule (its
        payments, its deal roll-up) failed as a whole, e.g. QuickBooks answering HTTP 500:
        the pass ends, but nothing of that rule syncs."""
        why = f"{type(error).__name__}: {error}" if error is not None else _failed_rule(report)
        if why is None:
            self._in_row[connection_id] = 0
            return
        self._in_row[connection_id] += 1
        if self._in_row[connection_id] != self.failed_passes:
            return
        body = (
            f"The last {self.failed_passes} sync passes of connection {connection_id} failed; "
            f"the latest with: {why}. Nothing syncs until this is "
            "fixed: see the dashboard's Connections page and the engine's log."
        )
        task = asyncio.get_running_loop().create_task(
            self._send(f"ledgerbridge: connection {connection_id} is not syncing", body)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _failed_rule(report: PassReport | None) -> str | None:
    """What failed as a whole in a pass that finished (None: nothing did)."""
    for pair in report.pairs.values() if report is not None else ():
        for what, text in (("", pair.error), ("payments of ", pair.payment_error)):
            if text:
                return f"{what}{NAMES.get(pair.object_type.value, pair.object_type.value)}: {text}"
        if pair.deal_error:
            return f"deal totals: {pair.deal_error}"
    return None
