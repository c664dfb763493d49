"""`ledgerbridge admin …` and `run`'s refusal to be reachable without a password."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledgerbridge.cli import app
from ledgerbridge.store import Store, TokenCipher, generate_key
from ledgerbridge.store.accounts import TokenKind, admin_account, list_audit, use_token
from ledgerbridge.web.auth import hash_token, verify_password

runner = CliRunner()


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    key = generate_key()
    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("LEDGERBRIDGE_DATABASE_URL", url)
    monkeypatch.setenv("LEDGERBRIDGE_SECRET_KEY", key)
    monkeypatch.setenv("LEDGERBRIDGE_CONFIG", "")
    monkeypatch.chdir(tmp_path)
    store = Store.open(url, TokenCipher(key.encode()))
    yield store
    store.close()


def test_set_password_stores_an_argon2_hash(configured: Store) -> None:
    result = runner.invoke(
        app, ["admin", "set-password", "--password-stdin"], input="a long enough secret\n"
    )
    assert result.exit_code == 0, result.output
    with configured.begin() as tx:
        account = admin_account(tx)
        actions = [e.action for e in list_audit(tx)]
    assert account.password_hash is not None
    assert account.password_hash.startswith("$argon2id$")
    assert verify_password(account.password_hash, "a long enough secret")
    assert not verify_password(account.password_hash, "a long enough secreT")
    assert actions == ["set_password"]


def test_a_short_password_is_refused_with_the_reason(configured: Store) -> None:
    result = runner.invoke(app, ["admin", "set-password", "--password-stdin"], input="short\n")
    assert result.exit_code == 2
    assert "at least 10 characters" in result.output
    with configured.begin() as tx:
        assert admin_account(tx).password_hash is None


def test_token_create_prints_it_once_and_revoke_ends_it(configured: Store) -> None:
    created = runner.invoke(app, ["admin", "token", "create", "monitoring"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[0]
    assert token.startswith("lbt_")
    with configured.begin() as tx:
        assert use_token(tx, TokenKind.API, hash_token(token)) is not None
    again = runner.invoke(app, ["admin", "token", "create", "monitoring"])
    assert again.exit_code == 2
    assert "exists already" in again.output
    assert "monitoring" in runner.invoke(app, ["admin", "token", "list"]).output
    assert runner.invoke(app, ["admin", "token", "revoke", "monitoring"]).exit_code == 0
    with configured.begin() as tx:
        assert use_token(tx, TokenKind.API, hash_token(token)) is None
    missing = runner.invoke(app, ["admin", "token", "revoke", "monitoring"])
    assert missing.exit_code == 2
    assert "no live token" in missing.output


def test_signin_link_prints_a_one_time_link(configured: Store) -> None:
    result = runner.invoke(app, ["admin", "signin-link", "--minutes", "5"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8700/signin/lbs_" in result.output


@pytest.mark.parametrize("how", ["option", "setting"])
def test_run_refuses_a_reachable_address_without_a_password(
    configured: Store, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    args = ["run"]
    if how == "option":
        args += ["--host", "0.0.0.0"]
    else:
        monkeypatch.setenv("LEDGERBRIDGE_HOST", "0.0.0.0")
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "refusing to listen on 0.0.0.0" in result.output
    assert "ledgerbridge admin set-password" in result.output


def test_run_on_a_reachable_address_passes_the_check_once_a_password_is_set(
    configured: Store,
) -> None:
    runner.invoke(
        app, ["admin", "set-password", "--password-stdin"], input="a long enough secret\n"
    )
    result = runner.invoke(app, ["run", "--host", "0.0.0.0"])
    # It goes on to the next check (no connection is set up here), not the refusal.
    assert result.exit_code == 2
    assert "refusing" not in result.output
    assert "no connection is set up yet" in result.output
