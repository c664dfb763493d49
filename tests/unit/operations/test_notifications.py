"""Failure digests and failing-pass warnings (`operations.notifications`) over the real
store; the webhook sender against a real HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request

from ledgerbridge.domain import System
from ledgerbridge.operations.notifications import Notifier, senders_from
from ledgerbridge.settings import NotificationSettings
from ledgerbridge.store import RecordStatus, Store, TokenCipher, generate_key
from ledgerbridge.store.dashboard import dismiss
from ledgerbridge.sync.report import PassReport
from ledgerbridge.sync.rules import ObjectPair
from ledgerbridge.transport.notify import NotifyError, SmtpSender, WebhookSender
from tests.support.servers import serve_in_thread

CONTACTS = "contacts_customers"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    async def send(self, subject: str, body: str) -> None:
        self.messages.append((subject, body))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}", TokenCipher(generate_key().encode()))
    with store.begin() as tx:
        tx.create_connection(name="c", hubspot_base_url="h", qbo_base_url="q")
    yield store
    store.close()


def fail(store: Store, record_id: str, category: str = "ambiguous_match") -> None:
    with store.begin() as tx:
        tx.set_record_status(
            1,
            CONTACTS,
            System.HUBSPOT,
            record_id,
            RecordStatus.FAILED,
            label=f"{record_id}@acme.test",
            error_category=category,
            detail="two customers share it",
        )


def test_notifications_are_off_unless_a_destination_is_set() -> None:
    assert not NotificationSettings().enabled
    assert senders_from(NotificationSettings()) == []
    assert not NotificationSettings(smtp_host="mail.example").enabled  # nobody to write to
    both = NotificationSettings(
        webhook_url="https://hooks.example/x", smtp_host="mail.example", smtp_to=["a@b.c"]
    )
    assert [type(s) for s in senders_from(both)] == [WebhookSender, SmtpSender]


async def test_a_digest_tells_each_new_failure_once(store: Store) -> None:
    inbox = Inbox()
    notifier = Notifier(store, [inbox])
    assert await notifier.digest_once() == 0
    fail(store, "h1")
    fail(store, "h2", "duplicate_display_name")
    assert await notifier.digest_once() == 2
    ((subject, body),) = inbox.messages
    assert subject == "ledgerbridge: 2 new sync failure(s)"
    assert "More than one record matches (1)" in body
    assert "How to fix it: Make the key unique" in body
    assert "h1@acme.test (Contacts ↔ Customers, HubSpot h1, connection 1)" in body
    fail(store, "h1")  # failing again on the next pass: already told
    assert await notifier.digest_once() == 0
    fail(store, "h3")
    with store.begin() as tx:
        dismiss(tx, 1, [(CONTACTS, "hubspot", "h3")], "admin")
    assert await notifier.digest_once() == 0  # a dismissed failure is not news
    fail(store, "h1", "validation")  # fails for another reason: news
    assert await notifier.digest_once() == 1
    assert len(inbox.messages) == 2


async def test_failing_passes_warn_once_per_streak(store: Store) -> None:
    inbox = Inbox()
    notifier = Notifier(store, [inbox], failed_passes=3)
    for _ in range(5):
        notifier.on_pass(7, RuntimeError("QBO is down"))
    await asyncio.sleep(0)  # the warning is sent by a task on the loop
    ((subject, body),) = inbox.messages
    assert subject == "ledgerbridge: connection 7 is not syncing"
    assert "RuntimeError: QBO is down" in body
    notifier.on_pass(7, None)
    for _ in range(3):
        notifier.on_pass(7, RuntimeError("again"))
    await asyncio.sleep(0)
    assert len(inbox.messages) == 2


async def test_a_sender_that_fails_does_not_stop_the_others(store: Store) -> None:
    class Broken:
        async def send(self, subject: str, body: str) -> None:
            raise NotifyError("no route")

    inbox = Inbox()
    notifier = Notifier(store, [Broken(), inbox])
    fail(store, "h1")
    assert await notifier.digest_once() == 1
    assert len(inbox.messages) == 1


async def test_the_webhook_sender_posts_slack_json() -> None:
    received: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> dict[str, str]:
        received.append(await request.json())
        return {"ok": "yes"}

    with serve_in_thread(app) as url:
        await WebhookSender(f"{url}/hook").send("Subject", "Body")
        with pytest.raises(NotifyError, match="answered 404"):
            await WebhookSender(f"{url}/missing").send("Subject", "Body")
    assert received == [{"text": "*Subject*\nBody"}]


def test_the_smtp_sender_writes_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Any] = []

    class FakeSmtp:
        def __init__(self, host: str, port: int, timeout: float) -> None:
            sent.append(("connect", host, port))

        def __enter__(self) -> FakeSmtp:
            return self

        def __exit__(self, *args: object) -> None:
            return None

        def starttls(self) -> None:
            sent.append("starttls")

        def login(self, user: str, password: str) -> None:
            sent.append(("login", user))

        def send_message(self, message: Any) -> None:
            sent.append((message["Subject"], message["To"], message.get_content().strip()))

    monkeypatch.setattr("ledgerbridge.transport.notify.smtplib.SMTP", FakeSmtp)
    sender = SmtpSender(
        "mail.example", 587, "lb@acme.test", ["ops@acme.test"], username="u", password="p"
    )
    asyncio.run(sender.send("Digest", "2 failures"))
    assert sent == [
        ("connect", "mail.example", 587),
        "starttls",
        ("login", "u"),
        ("Digest", "ops@acme.test", "2 failures"),
    ]


async def test_passes_that_finish_with_a_rule_failed_count_as_failing(store: Store) -> None:
    """QuickBooks answering HTTP 500: the pass ends, but its rule failed as a whole."""
    inbox = Inbox()
    notifier = Notifier(store, [inbox], failed_passes=2)
    report = PassReport()
    report.pair(ObjectPair.CONTACTS_CUSTOMERS).error = "service_unavailable: QBO 10000 (HTTP 500)"
    notifier.on_pass(7, None, report)
    notifier.on_pass(7, None, report)
    await asyncio.sleep(0)
    ((subject, body),) = inbox.messages
    assert subject == "ledgerbridge: connection 7 is not syncing"
    assert "Contacts ↔ Customers: service_unavailable: QBO 10000 (HTTP 500)" in body
    notifier.on_pass(7, None, PassReport())  # a pass without errors ends the streak
    notifier.on_pass(7, None, report)
    await asyncio.sleep(0)
    assert len(inbox.messages) == 1
