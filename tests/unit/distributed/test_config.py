"""The distributed runtime's settings, schedules and command-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from croniter import croniter
from typer.testing import CliRunner

from ledgerbridge.cli import app
from ledgerbridge.runtime.distributed.app import conninfo
from ledgerbridge.runtime.distributed.tasks import cron_every
from ledgerbridge.settings import Settings

cli = CliRunner()


def test_the_distributed_runtime_needs_a_postgresql_url() -> None:
    with pytest.raises(ValueError, match=r"needs a PostgreSQL database.*postgresql://"):
        Settings(runtime="distributed", database_url="sqlite:///x.db")
    settings = Settings(runtime="distributed", database_url="postgresql://db/ledgerbridge")
    assert settings.runtime == "distributed"
    assert Settings().runtime == "embedded"  # the default stays the embedded runtime


@pytest.mark.parametrize(
    ("seconds", "cron", "period"),
    [
        (1, "* * * * * */1", 1),
        (10, "* * * * * */10", 10),
        (60, "*/1 * * * *", 60),
        (300, "*/5 * * * *", 300),
        (3600, "0 */1 * * *", 3600),
    ],
)
def test_poll_intervals_become_cron_schedules_of_that_period(
    seconds: float, cron: str, period: int
) -> None:
    assert cron_every(seconds) == cron
    ticks = croniter(cron, 1_800_000_000 - 1_800_000_000 % 3600)
    first, second = ticks.get_next(float), ticks.get_next(float)
    assert second - first == period


def test_sqlalchemy_urls_become_libpq_urls() -> None:
    assert conninfo("postgresql+psycopg://u:p@h:5/db") == "postgresql://u:p@h:5/db"
    assert conninfo("postgresql://h/db") == "postgresql://h/db"
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        conninfo("sqlite:///x.db")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEDGERBRIDGE_CONFIG", "")
    monkeypatch.setenv("LEDGERBRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")


def test_worker_on_the_embedded_runtime_says_what_to_set(env: None) -> None:
    result = cli.invoke(app, ["worker"])
    assert result.exit_code == 2
    assert 'runtime = "distributed"' in result.output
    assert "Traceback" not in result.output


def test_distributed_runtime_on_sqlite_is_a_clear_error(
    env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGERBRIDGE_RUNTIME", "distributed")
    for command in (["worker"], ["run"]):
        result = cli.invoke(app, command)
        assert result.exit_code == 2, result.output
        assert "needs a PostgreSQL database" in result.output
        assert "Traceback" not in result.output


def test_a_worker_without_the_shared_key_is_told_to_set_it(
    env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGERBRIDGE_RUNTIME", "distributed")
    monkeypatch.setenv("LEDGERBRIDGE_DATABASE_URL", "postgresql://127.0.0.1:1/none")
    result = cli.invoke(app, ["worker"])
    assert result.exit_code == 2, result.output
    assert "secret_key" in result.output and "keygen" in result.output
