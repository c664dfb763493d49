"""Store round trips on SQLite and PostgreSQL, from an empty database through the migrations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from ledgerbridge.domain import System
from ledgerbridge.store import (
    ConnectionStatus,
    LinkRow,
    RecordStatus,
    SecretKeyError,
    Store,
    TokenCipher,
    generate_key,
)
from ledgerbridge.store.migrate import HEAD, alembic_config, at_head, current_revision
from ledgerbridge.store.repository import ActivityRowIn, RecordStatusEntry
from ledgerbridge.store.schema import metadata
from ledgerbridge.transport.tokens import TokenSet

T0 = dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    clock_values = iter(T0 + dt.timedelta(seconds=i) for i in range(10_000))
    store = Store.open(
        database_url, TokenCipher(generate_key().encode()), clock=lambda: next(clock_values)
    )
    yield store
    store.close()


def _connection(store: Store) -> int:
    with store.begin() as tx:
        return tx.create_connection(
            name="Acme",
            hubspot_base_url="http://127.0.0.1:8701",
            qbo_base_url="http://127.0.0.1:8702",
            hubspot_portal_id="62515",
            qbo_realm_id="1000000001",
            options={"sync_started_at": T0.isoformat()},
        )


def head_revision(engine: Engine) -> str | None:
    """The newest migration (the chain's head)."""
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def test_migration_from_empty_builds_exactly_the_declared_schema(store: Store) -> None:
    assert current_revision(store.engine) == head_revision(store.engine)
    tables = set(inspect(store.engine).get_table_names())
    assert {"connections", "sync_rules", "links", "cursors", "sync_records", "activity"} <= tables
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert diff == []


def test_the_head_the_store_knows_is_alembic_s(store: Store) -> None:
    """`migrate` skips Alembic when the store is at `HEAD`: a migration added without
    moving `HEAD` would never be applied to a store at the old head."""
    assert head_revision(store.engine) == HEAD
    assert at_head(store.engine)
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0005'"))
    assert not at_head(store.engine)


def test_migrating_twice_is_harmless(database_url: str) -> None:
    cipher = TokenCipher(generate_key().encode())
    Store.open(database_url, cipher).close()
    again = Store.open(database_url, cipher)
    assert current_revision(again.engine) == head_revision(again.engine)
    again.close()


def test_connection_round_trip_and_status(store: Store) -> None:
    connection_id = _connection(store)
    with store.begin() as tx:
        tx.update_connection(
            connection_id, status=ConnectionStatus.NEEDS_REAUTH, status_detail="revoked"
        )
    with store.begin() as tx:
        row = tx.get_connection(connection_id)
        assert row is not None
        assert row.qbo_realm_id == "1000000001"
        assert row.status is ConnectionStatus.NEEDS_REAUTH
        assert row.status_detail == "revoked"
        assert row.options == {"sync_started_at": T0.isoformat()}
        assert row.created_at.tzinfo is not None
        assert [c.id for c in tx.list_connections()] == [connection_id]


def test_tokens_round_trip_encrypted(store: Store) -> None:
    connection_id = _connection(store)
    tokens = TokenSet("access-XYZ", "refresh-ABC", T0 + dt.timedelta(hours=1))
    with store.begin() as tx:
        tx.save_tokens(connection_id, System.QUICKBOOKS, tokens)
        assert tx.load_tokens(connection_id, System.HUBSPOT) is None
    with store.begin() as tx:
        assert tx.load_tokens(connection_id, System.QUICKBOOKS) == tokens


def test_tokens_are_not_readable_in_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = Store.open(f"sqlite:///{path}", TokenCipher(generate_key().encode()))
    connection_id = _connection(store)
    secret_access, secret_refresh = "at-" + "S3CRET" * 4, "rt-" + "HIDDEN" * 4
    with store.begin() as tx:
        tx.save_tokens(connection_id, System.HUBSPOT, TokenSet(secret_access, secret_refresh, T0))
    store.close()  # checkpoints the WAL into the main file
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("state.db"))
    assert b"S3CRET" not in raw and b"HIDDEN" not in raw
    assert b"hubspot" in raw.lower() or b"acme" in raw.lower()  # the file is readable otherwise


def test_a_wrong_key_is_a_clear_error(store: Store) -> None:
    connection_id = _connection(store)
    with store.begin() as tx:
        tx.save_tokens(connection_id, System.QUICKBOOKS, TokenSet("a", "r", T0))
    other = Store(store.engine, TokenCipher(generate_key().encode()))
    with pytest.raises(SecretKeyError) as caught, other.begin() as tx:
        tx.load_tokens(connection_id, System.QUICKBOOKS)
    assert caught.value.render() == (
        f"error: the QuickBooks tokens of connection {connection_id} cannot be decrypted with "
        "this secret key — use the key they were written with (LEDGERBRIDGE_SECRET_KEY, "
        "secret_key or the key file), or connect the account again: "
        f"`ledgerbridge connect qbo --connection {connection_id}`"
    )


async def test_token_store_adapter_persists_rotations(store: Store) -> None:
    connection_id = _connection(store)
    token_store = store.token_store(connection_id, System.QUICKBOOKS)
    assert await token_store.load() is None
    rotated = TokenSet("new-access", "rotated-refresh", T0 + dt.timedelta(hours=1))
    await token_store.save(rotated)
    assert await store.token_store(connection_id, System.QUICKBOOKS).load() == rotated


def test_rules_upsert_and_toggle(store: Store) -> None:
    connection_id = _connection(store)
    with store.begin() as tx:
        tx.save_rule(connection_id, "contacts_customers", {"direction": "two_way"})
        tx.save_rule(connection_id, "contacts_customers", {"direction": "hubspot_to_qbo"})
        tx.save_rule(connection_id, "products_items", {"direction": "qbo_to_hubspot"})
        assert tx.set_rule_enabled(connection_id, "products_items", False)
        assert not tx.set_rule_enabled(connection_id, "invoices_invoices", False)
    with store.begin() as tx:
        rules = {r.object_pair: r for r in tx.list_rules(connection_id)}
    assert rules["contacts_customers"].config == {"direction": "hubspot_to_qbo"}
    assert rules["contacts_customers"].enabled
    assert not rules["products_items"].enabled


def test_links_round_trip_and_uniqueness(store: Store) -> None:
    connection_id = _connection(store)
    link = LinkRow(
        connection_id=connection_id,
        object_type="contact",
        hubspot_id="101",
        qbo_id="58",
        hubspot_version="2026-11-22T09:30:00Z",
        qbo_version="0",
        hubspot_hash="a" * 64,
        qbo_hash="a" * 64,
        base={"email": "jane@example.com", "amount": "12.50", "lines": [{"qty": "2"}]},
        origin="hubspot",
    )
    with store.begin() as tx:
        tx.save_link(link)
        tx.save_link(replace(link, qbo_version="1"))
    with store.begin() as tx:
        by_qbo = tx.find_link(connection_id, "contact", qbo_id="58")
        by_hubspot = tx.find_link(connection_id, "contact", hubspot_id="101")
        assert by_qbo == by_hubspot
        assert by_qbo is not None and by_qbo.qbo_version == "1"
        assert by_qbo.base == link.base
        assert by_qbo.origin == "hubspot"
        assert len(tx.list_links(connection_id, "contact")) == 1
        with pytest.raises(ValueError):
            tx.find_link(connection_id, "contact")


def test_a_qbo_record_cannot_be_linked_twice(store: Store) -> None:
    from sqlalchemy.exc import IntegrityError

    connection_id = _connection(store)
    base = dict(
        connection_id=connection_id,
        object_type="item",
        qbo_id="7",
        hubspot_version=None,
        qbo_version=None,
        hubspot_hash=None,
        qbo_hash=None,
        base={},
    )
    with store.begin() as tx:
        tx.save_link(LinkRow(hubspot_id="1", **base))  # type: ignore[arg-type]
    with pytest.raises(IntegrityError), store.begin() as tx:
        tx.save_link(LinkRow(hubspot_id="2", **base))  # type: ignore[arg-type]
    with store.begin() as tx:
        assert [link.hubspot_id for link in tx.list_links(connection_id)] == ["1"]


def test_cursors_and_sync_records_and_activity(store: Store) -> None:
    connection_id = _connection(store)
    with store.begin() as tx:
        assert tx.get_cursor(connection_id, System.QUICKBOOKS, "invoice") is None
        tx.set_cursor(connection_id, System.QUICKBOOKS, "invoice", "2026-11-01T00:00:00Z")
        tx.set_cursor(connection_id, System.QUICKBOOKS, "invoice", "2026-11-02T00:00:00Z")
        tx.set_record_status(
            connection_id,
            "invoice",
            System.HUBSPOT,
            "9",
            RecordStatus.FAILED,
            label="INV-9",
            error_category="missing_customer",
            detail="no email",
        )
        tx.set_record_status(connection_id, "invoice", System.HUBSPOT, "9", RecordStatus.SYNCED)
        tx.set_record_status(
            connection_id,
            "invoice",
            System.HUBSPOT,
            "10",
            RecordStatus.EXCLUDED,
            excluded_by="status is not draft",
        )
        tx.set_record_status(
            connection_id,
            "contact",
            System.HUBSPOT,
            "3",
            RecordStatus.FAILED,
            error_category="duplicate_display_name",
        )
        for operation in ("read", "create"):
            tx.append_activity(
                connection_id,
                object_type="invoice",
                side=System.HUBSPOT,
                record_id="9",
                direction="hubspot_to_qbo",
                operation=operation,
                outcome="ok",
                details={"qbo_id": "130"},
            )
    with store.begin() as tx:
        assert tx.get_cursor(connection_id, System.QUICKBOOKS, "invoice") == "2026-11-02T00:00:00Z"
        records = {r.record_id: r for r in tx.list_records(connection_id, object_type="invoice")}
        assert records["9"].status is RecordStatus.SYNCED
        assert records["9"].attempts == 2
        assert records["9"].label == "INV-9"
        assert records["9"].error_category is None and records["9"].last_synced_at is not None
        assert records["10"].excluded_by == "status is not draft"
        assert tx.count_records(connection_id) == {
            "invoice": {RecordStatus.SYNCED: 1, RecordStatus.EXCLUDED: 1},
            "contact": {RecordStatus.FAILED: 1},
        }
        failed = tx.list_records(connection_id, status=RecordStatus.FAILED)
        assert [r.record_id for r in failed] == ["3"]
        activity = tx.list_activity(connection_id, record_id="9")
        assert [a.operation for a in activity] == ["create", "read"]
        assert activity[0].details == {"qbo_id": "130"}


def test_a_failed_transaction_writes_nothing(store: Store) -> None:
    connection_id = _connection(store)
    with pytest.raises(RuntimeError), store.begin() as tx:
        tx.set_cursor(connection_id, System.HUBSPOT, "contact", "x")
        tx.append_activity(
            connection_id,
            object_type="contact",
            side=System.HUBSPOT,
            record_id="1",
            direction="hubspot_to_qbo",
            operation="create",
            outcome="ok",
        )
        raise RuntimeError("crash before commit")
    with store.begin() as tx:
        assert tx.get_cursor(connection_id, System.HUBSPOT, "contact") is None
        assert tx.list_activity(connection_id) == []


def test_bulk_links_statuses_and_activity_match_the_one_by_one_writes(store: Store) -> None:
    cid = _connection(store)
    entry = RecordStatusEntry("contacts_customers", System.HUBSPOT, "1", RecordStatus.SYNCED, "Ann")
    with store.begin() as tx:
        tx.set_record_statuses(cid, [entry])
        tx.save_links(
            [
                LinkRow(cid, "contacts_customers", str(i), f"q{i}", "1", "0", "h", "q", {"n": i})
                for i in range(3)
            ]
        )
        tx.append_activities(
            cid,
            [
                ActivityRowIn(
                    "contacts_customers", System.HUBSPOT, "1", "hubspot_to_qbo", "create", "ok"
                )
            ],
        )
    failed = replace(entry, status=RecordStatus.FAILED, label=None, error_category="validation")
    with store.begin() as tx:
        tx.set_record_statuses(cid, [failed])
        tx.save_links(
            [LinkRow(cid, "contacts_customers", "1", "q1", "2", "0", "h2", "q", {"n": 9})]
        )
        (record,) = tx.list_records(cid)
        links = {link.hubspot_id: link for link in tx.list_links(cid)}
        activity = tx.list_activity(cid)
    assert (record.status, record.attempts, record.label) == (RecordStatus.FAILED, 2, "Ann")
    assert record.error_category == "validation"
    assert record.last_synced_at is not None  # kept from the synced attempt
    assert len(links) == 3 and links["1"].hubspot_version == "2" and links["1"].base == {"n": 9}
    assert [(a.record_id, a.operation) for a in activity] == [("1", "create")]


def test_only_an_in_memory_store_shares_one_connection(tmp_path: Path) -> None:
    cipher = TokenCipher(generate_key().encode())
    in_memory = Store.open("sqlite://", cipher)
    on_disk = Store.open(f"sqlite:///{tmp_path / 'state.db'}", cipher)
    try:
        assert in_memory.one_connection and not on_disk.one_connection
    finally:
        in_memory.close()
        on_disk.close()
