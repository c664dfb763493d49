"""`demo --db PATH` reused across runs (issue 19, finding 8): the fresh sandboxes do not
have the records its links point at; the demo says so and what to do, instead of
starting with state that shows as drift forever."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledgerbridge.cli import app
from ledgerbridge.commands._demo_stack import DemoOptions, StaleDemoState, build_demo
from ledgerbridge.store import LinkRow, Store, TokenCipher, generate_key
from tests.support.servers import free_port


def previous_run(db: Path) -> None:
    """What an earlier demo run leaves: its connection, and links to its sandboxes' records."""
    build_demo(DemoOptions(db=db, seed=None)).close()
    store = Store.open(f"sqlite:///{db}", TokenCipher(generate_key().encode()))
    try:
        with store.begin() as tx:
            (connection,) = tx.list_connections()
            tx.save_link(
                LinkRow(
                    connection_id=connection.id,
                    object_type="contacts_customers",
                    hubspot_id="1001",
                    qbo_id="58",
                    hubspot_version="1",
                    qbo_version="0",
                    hubspot_hash="h",
                    qbo_hash="q",
                    base={},
                    origin="hubspot",
                )
            )
    finally:
        store.close()


def test_a_fresh_db_file_starts_the_demo(tmp_path: Path) -> None:
    demo = build_demo(DemoOptions(db=tmp_path / "fresh.db", seed=None))
    try:
        assert demo.db_path == tmp_path / "fresh.db" and demo.temp_dir is None
    finally:
        demo.close()
    # Re-running on a file with a connection but no links yet is fine too.
    build_demo(DemoOptions(db=tmp_path / "fresh.db", seed=None)).close()


def test_a_db_with_links_of_an_earlier_run_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    previous_run(db)
    with pytest.raises(StaleDemoState, match="earlier demo run: 1 link"):
        build_demo(DemoOptions(db=db, seed=None))


def test_the_demo_command_says_what_to_do_without_a_traceback(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    previous_run(db)
    ports = [str(free_port()) for _ in range(3)]  # 8700-8702 may be taken (a demo running)
    args = ["--port", ports[0], "--hubspot-port", ports[1], "--qbo-port", ports[2]]
    result = CliRunner().invoke(app, ["demo", "--db", str(db), "--no-seed", *args])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "earlier demo run" in text and "new --db file" in text and "leave out --db" in text
    assert "Traceback" not in result.output
