"""Every user mistake found by trying the product as a new user prints one line,
`error: <what> — <what to do>`, on stderr with exit code 2, and never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from ledgerbridge.cli import app
from ledgerbridge.settings import Settings
from ledgerbridge.store import ConnectionStatus
from ledgerbridge.store.configured import open_store
from tests.support.servers import free_port

runner = CliRunner()

# The commands that read the settings; each gets what it needs past option parsing.
COMMANDS = {
    "dry-run": ["dry-run"],
    "reconcile": ["reconcile"],
    "backfill": ["backfill", "--object", "contacts", "--since", "2026-01-01"],
    "fees": ["fees", "--since", "2026-01-01", "--until", "2026-01-31"],
    "invoice-pdf": ["invoice-pdf", "1", "--out", "invoice.pdf"],
    "run": ["run"],
}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory with SQLite state and a key file in it, no settings file."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("LEDGERBRIDGE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LEDGERBRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    monkeypatch.setenv("LEDGERBRIDGE_KEY_FILE", str(tmp_path / "ledgerbridge.key"))
    return tmp_path


def user_error(result: Result, what: str, fix: str) -> str:
    """The one error line (asserting exit 2, no traceback, `what — fix`)."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert " — " in line
    shown_what, shown_fix = line.removeprefix("error: ").split(" — ", 1)
    assert what in shown_what, line
    assert fix in shown_fix, line
    return line


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process listens on (as a running `ledgerbridge demo` would)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound by nobody listening: connecting to it is refused."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_mistyped_setting_names_the_key_and_the_likely_one(env: Path, command: list[str]) -> None:
    (env / "ledgerbridge.toml").write_text('databse_url = "sqlite:///other.db"\n')
    result = runner.invoke(app, command)
    user_error(
        result,
        "unknown setting `databse_url` (did you mean `database_url`?)",
        "remove the unknown key, in ledgerbridge.toml",
    )


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_setting_of_the_wrong_type_names_the_key_and_the_value(
    env: Path, command: list[str]
) -> None:
    (env / "ledgerbridge.toml").write_text('port = "eighty"\n')
    result = runner.invoke(app, command)
    user_error(
        result,
        "`port` (or LEDGERBRIDGE_PORT): Input should be a valid integer",
        "correct the value",
    )
    assert "(got 'eighty')" in result.stderr


def test_a_toml_syntax_error_names_the_file_and_the_line(env: Path) -> None:
    (env / "ledgerbridge.toml").write_text('port = 8700\n[qbo\nclient_id = "x"\n')
    result = runner.invoke(app, ["dry-run"])
    line = user_error(result, "ledgerbridge.toml is not valid TOML", "correct the syntax")
    assert "line 2" in line


def test_a_toml_syntax_error_in_a_config_option_names_that_file(env: Path) -> None:
    settings = env / "conf" / "prod.toml"
    settings.parent.mkdir()
    settings.write_text("port = = 1\n")
    result = runner.invoke(app, ["reconcile", "--config", str(settings)])
    line = user_error(result, f"{settings} is not valid TOML", f"that line of {settings}")
    assert "line 1" in line


def test_a_malformed_secret_key(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGERBRIDGE_SECRET_KEY", "not-a-fernet-key")
    result = runner.invoke(app, ["dry-run"])
    user_error(
        result,
        "the secret key (LEDGERBRIDGE_SECRET_KEY, secret_key or the key file) is malformed",
        "make a key with `ledgerbridge keygen`",
    )
    assert "not-a-fernet-key" not in result.output


def test_a_secret_key_that_is_not_ascii(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGERBRIDGE_SECRET_KEY", "clé-secrète")
    result = runner.invoke(app, ["reconcile"])
    user_error(result, "is malformed: it has characters that are not ASCII", "ledgerbridge keygen")


def test_an_unreachable_postgresql_server(
    env: Path, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    url = f"postgresql://ledger:hunter2@127.0.0.1:{closed_port}/x"
    monkeypatch.setenv("LEDGERBRIDGE_DATABASE_URL", url)
    result = runner.invoke(app, ["reconcile"])
    line = user_error(
        result,
        f"cannot open the database postgresql://ledger:***@127.0.0.1:{closed_port}/x",
        "start the database server",
    )
    assert "refused" in line
    assert "hunter2" not in result.output


def test_an_unsupported_database(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGERBRIDGE_DATABASE_URL", "mysql://ledger:hunter2@localhost/x")
    result = runner.invoke(app, ["dry-run"])
    user_error(
        result,
        "database URL mysql://ledger:***@localhost/x is not supported: ledgerbridge keeps "
        "its state in SQLite or PostgreSQL",
        "LEDGERBRIDGE_DATABASE_URL",
    )
    assert "hunter2" not in result.output


def test_invoice_pdf_into_a_folder_that_does_not_exist(env: Path) -> None:
    result = runner.invoke(app, ["invoice-pdf", "1", "--out", "missing/invoice.pdf"])
    user_error(
        result,
        "cannot write missing/invoice.pdf: the folder missing does not exist",
        "create it first (mkdir -p missing) or choose another --out path",
    )
    assert not (env / "missing").exists()


@pytest.mark.parametrize("option", ["--port", "--hubspot-port", "--qbo-port"])
def test_a_second_demo_names_the_taken_port_and_its_option(
    env: Path, taken_port: int, option: str
) -> None:
    db = env / "demo.db"
    # The other two on free ports: the defaults (8700-8702) may be taken by a running demo.
    ports = {o: str(free_port()) for o in ("--port", "--hubspot-port", "--qbo-port")}
    ports[option] = str(taken_port)
    args = [x for pair in ports.items() for x in pair]
    result = runner.invoke(app, ["demo", *args, "--db", str(db)])
    user_error(
        result,
        f"port {taken_port} on 127.0.0.1 is already in use",
        f"choose another port with {option}",
    )
    assert not db.exists()  # refused before anything was built or served


def test_a_second_run_names_the_taken_port_and_the_setting(
    env: Path, monkeypatch: pytest.MonkeyPatch, taken_port: int
) -> None:
    store = open_store(Settings())
    with store.begin() as tx:
        cid = tx.create_connection(
            name="default", hubspot_base_url="http://h.test", qbo_base_url="http://q.test"
        )
        tx.update_connection(cid, status=ConnectionStatus.ACTIVE)
    store.close()
    monkeypatch.setenv("LEDGERBRIDGE_PORT", str(taken_port))
    result = runner.invoke(app, ["run"])
    user_error(
        result,
        f"port {taken_port} on 127.0.0.1 is already in use",
        "`port` in ledgerbridge.toml or LEDGERBRIDGE_PORT",
    )


def _run_subprocess(env: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`ledgerbridge run` in its own process, so that its logging set-up is its own."""
    variables = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERBRIDGE_")}
    variables["LEDGERBRIDGE_DATABASE_URL"] = f"sqlite:///{env / 'fresh.db'}"
    variables["LEDGERBRIDGE_KEY_FILE"] = str(env / "ledgerbridge.key")
    return subprocess.run(
        [sys.executable, "-m", "ledgerbridge.cli", "run", *args],
        cwd=env,
        env=variables,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_run_does_not_print_migration_log_lines_before_its_error(env: Path) -> None:
    quiet = _run_subprocess(env)
    assert quiet.returncode == 2, quiet.stderr
    assert quiet.stderr.splitlines() == [
        "error: no connection is set up yet — run `ledgerbridge connect hubspot` and "
        "`ledgerbridge connect qbo` to (re)connect"
    ]
    (env / "fresh.db").unlink()
    verbose = _run_subprocess(env, "--verbose")  # the same fresh database, migrated again
    assert verbose.returncode == 2
    assert "alembic" in verbose.stderr and "Running upgrade" in verbose.stderr


ON_EXISTING_STATE = {
    **{name: args for name, args in COMMANDS.items() if name != "run"},
    "rules list": ["rules", "list"],
    "rules show": ["rules", "show", "contacts_customers"],
    "rules setup": ["rules", "setup", "--defaults", "--yes"],
    "admin signin-link": ["admin", "signin-link"],
    "admin token list": ["admin", "token", "list"],
    "admin token revoke": ["admin", "token", "revoke", "monitoring"],
}


@pytest.mark.parametrize("name", ON_EXISTING_STATE)
def test_a_command_on_existing_state_run_where_there_is_none_creates_nothing(
    env: Path, name: str
) -> None:
    result = runner.invoke(app, ON_EXISTING_STATE[name])
    user_error(
        result,
        f"there is no ledgerbridge state at {env / 'state.db'}",
        "point LEDGERBRIDGE_DATABASE_URL",
    )
    assert not (env / "state.db").exists()
    assert not (env / "ledgerbridge.key").exists()


def test_signin_link_in_a_folder_without_state_says_where_it_looked_and_creates_nothing(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a new user runs it in another terminal while the demo runs (no settings at all)."""
    monkeypatch.delenv("LEDGERBRIDGE_DATABASE_URL")
    monkeypatch.delenv("LEDGERBRIDGE_KEY_FILE")
    result = runner.invoke(app, ["admin", "signin-link"])
    user_error(
        result,
        f"there is no ledgerbridge state at {env / 'ledgerbridge.db'} (database URL "
        "sqlite:///./ledgerbridge.db); nothing was created",
        "for a running `ledgerbridge demo`, add the --config it printed",
    )
    assert list(env.iterdir()) == []


def test_set_password_and_token_create_still_make_the_state_on_first_use(env: Path) -> None:
    """Setting up the sign-in before the first `run` is fine: they write, by design."""
    result = runner.invoke(app, ["admin", "token", "create", "monitoring"])
    assert result.exit_code == 0, result.output
    assert (env / "state.db").exists()
