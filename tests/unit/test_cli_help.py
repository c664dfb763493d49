"""Command help reads as written: setting names in brackets and placeholders survive the
help's formatting, and a paragraph is not cut where the source's lines break."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from typer.main import get_command
from typer.testing import CliRunner

from ledgerbridge.cli import app

runner = CliRunner()


def _help(*command: str) -> str:
    done = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert done.exit_code == 0, done.output
    return " ".join(done.output.split())  # the words, whatever the wrapping


def test_run_help_names_the_settings_it_needs() -> None:
    text = _help("run")
    assert "[qbo] webhook_verifier_token" in text
    assert "[hubspot] app_id" in text
    assert "{public_url}/webhooks/hubspot" in text


def test_connect_help_shows_the_redirect_uri_whole() -> None:
    assert "http://127.0.0.1:8700/oauth/{service}/callback" in _help("connect")


def test_a_paragraph_is_not_cut_at_the_source_line_breaks() -> None:
    done = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert "(HubSpot app, signed with its client secret)" in done.output


def test_a_flag_shows_no_value_type_and_an_option_that_takes_one_does() -> None:
    done = runner.invoke(app, ["backfill", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    lines = done.output.splitlines()

    def row(option: str) -> str:
        return next(line for line in lines if f" {option} " in line)

    assert "<bool>" not in row("--dry-run")
    assert "<bool>" not in row("--help")
    assert "<str>" in row("--since")
    assert "<int>" in row("--batch-size")


def _command_paths(command: Any, path: list[str]) -> Iterator[list[str]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _command_paths(sub, [*path, name])


def test_no_help_shows_internal_requirement_ids() -> None:
    """Requirement numbers (R-CON-4 …) are for the code and tests, not for users."""
    paths = list(_command_paths(get_command(app), []))
    assert len(paths) > 20  # every command and subcommand, the nested ones included
    for path in paths:
        text = _help(*path)
        assert not re.search(r"\bR-[A-Z]{2,4}-\d+", text), (path, text)


def test_a_wrong_choice_names_the_choices_without_pydantics_prefix() -> None:
    done = runner.invoke(
        app,
        ["rules", "set", "contacts_customers", "--direction", "two-way"],
        env={"COLUMNS": "200"},
    )
    assert done.exit_code == 2
    text = " ".join(done.output.split())
    assert "'two-way' is not one of 'hubspot_to_qbo', 'qbo_to_hubspot', 'two_way'" in text
    assert "Value error" not in text
