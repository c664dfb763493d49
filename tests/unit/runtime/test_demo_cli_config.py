"""Other commands work on a running demo (new-user walkthrough, finding 1).

The demo keeps its state in a temp directory with a key of its own: a user who signed out
ran `ledgerbridge admin signin-link`, which made a new database in the current folder and
printed a link the demo refused. The demo now writes a settings file for the run, prints
`--config <it>`, and its sign-in page names that exact command."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ledgerbridge.cli import app
from ledgerbridge.commands._demo_stack import Demo, DemoOptions, build_demo, cli_hint
from ledgerbridge.settings import load_settings
from tests.support.servers import free_port

runner = CliRunner()
LINK = re.compile(r"(http://\S+/signin/\S+)")


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Another terminal: an empty folder, no LEDGERBRIDGE_* variable."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for name in list(os.environ):
        if name.startswith("LEDGERBRIDGE_"):
            monkeypatch.delenv(name)
    return folder


@pytest.fixture
def demo(elsewhere: Path) -> Iterator[Demo]:
    built = build_demo(DemoOptions(port=free_port(), seed=None))
    yield built
    built.close()


def test_the_demo_writes_a_settings_file_only_its_owner_reads(demo: Demo) -> None:
    config = demo.config_file
    assert stat.S_IMODE(config.stat().st_mode) == 0o600  # it holds the run's key
    settings = load_settings(config)
    assert settings.database_url == demo.settings.database_url
    assert settings.secret_key == demo.settings.secret_key
    assert (settings.host, settings.port) == ("127.0.0.1", demo.options.port)
    assert any(f"admin signin-link --config {config}" in line for line in cli_hint(config))


def test_signin_link_with_the_printed_config_signs_into_the_running_demo(
    demo: Demo, elsewhere: Path
) -> None:
    result = runner.invoke(app, ["admin", "signin-link", "--config", str(demo.config_file)])
    assert result.exit_code == 0, result.output
    found = LINK.search(result.output)
    assert found and found.group(1).startswith(demo.urls["engine"] + "/signin/")
    rules = runner.invoke(app, ["rules", "list", "--config", str(demo.config_file)])
    assert rules.exit_code == 0, rules.output
    assert "contacts_customers" in rules.output
    assert list(elsewhere.iterdir()) == []  # no ledgerbridge.db, no ledgerbridge.key here


async def test_the_demos_sign_in_page_names_the_command_with_its_config(demo: Demo) -> None:
    (web,) = [s.app for s in demo.served if s.name == "web"]
    transport = httpx.ASGITransport(app=web)
    async with httpx.AsyncClient(transport=transport, base_url=demo.urls["engine"]) as client:
        command = f"ledgerbridge admin signin-link --config {demo.config_file}"
        page = await client.get("/login")
        assert command in page.text
        used = await client.get(demo.urls["signin"])
        assert used.status_code == 303
        again = await client.get(demo.urls["signin"])
        assert again.status_code == 400 and "used already" in again.text
        assert f"make a new link with `{command}`" in again.text


def test_the_settings_file_goes_with_the_demo(elsewhere: Path) -> None:
    built = build_demo(DemoOptions(port=free_port(), seed=None, db=Path("kept.db")))
    config = built.config_file
    # A relative --db is named absolutely: the file is read from other folders.
    assert load_settings(config).database_url == f"sqlite:///{elsewhere / 'kept.db'}"
    built.close()
    assert not config.exists() and (elsewhere / "kept.db").exists()
