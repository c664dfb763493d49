"""Every command `ledgerbridge reconcile` suggests exists and runs as written.

A user copies the command out of the report: it must name a real command, and carry
every option that command requires (`backfill` needs `--since`)."""

from __future__ import annotations

import datetime as dt
import re
import shlex

import pytest
import typer
from typer.testing import CliRunner

from ledgerbridge.cli import app
from ledgerbridge.domain import System
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.model import RefIndex
from ledgerbridge.sync.reconcile import reconcile
from ledgerbridge.sync.reconcile_rules import (
    EARLIEST_SINCE,
    backfill_since,
    gone_action,
    unlinked_action,
)
from ledgerbridge.sync.rules import ObjectPair

from .sync.factories import contact, customer

runner = CliRunner()
COMMAND = re.compile(r"`(ledgerbridge [^`]+)`")
KINDS = ("match", "ambiguous", "duplicate", "missing")


def every_advice() -> list[str]:
    """The action text of every kind of difference, for every rule, side and setting."""
    texts = []
    for pair in ObjectPair:
        for archive in (False, True):
            rule = wizard_defaults(pair).model_copy(update={"propagate_archive": archive})
            for side in System:
                for note in (None, "not linked because: excluded by a filter"):
                    for kind in KINDS:
                        texts.append(unlinked_action(rule, kind, side, note, "hubspot:2"))
                        day = dt.date(2026, 1, 15)
                        texts.append(unlinked_action(rule, kind, side, note, "hubspot:2", day))
                for state in ("deleted", "missing"):
                    texts.append(gone_action(rule, side, state))
    return texts


def suggested_commands() -> list[str]:
    return sorted({found for text in every_advice() for found in COMMAND.findall(text)})


def test_reconcile_advice_names_commands() -> None:
    found = suggested_commands()
    assert any(c.startswith("ledgerbridge backfill ") for c in found)
    assert any(c.startswith("ledgerbridge dry-run ") for c in found)
    assert not any("status" in c for c in found), found  # there is no `status` command


@pytest.mark.parametrize("line", suggested_commands())
def test_every_command_in_reconcile_advice_exists(line: str) -> None:
    args = shlex.split(line)[1:]
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("line", suggested_commands())
def test_every_command_in_reconcile_advice_is_complete(line: str) -> None:
    """Parsed as the command line would be (required options, choices), not run: a
    missing `--since` raises `MissingParameter`."""
    args = shlex.split(line)[1:]
    command = typer.main.get_command(app)
    ctx = command.context_class(command, info_name="ledgerbridge")
    while hasattr(command, "get_command"):  # a group: the next word names the command
        name = args.pop(0)
        sub = command.get_command(ctx, name)
        assert sub is not None, f"{line}: no command {name!r}"
        command = sub
        if hasattr(command, "get_command"):
            ctx = command.context_class(command, info_name=name, parent=ctx)
        else:
            ctx = command.make_context(name, args, parent=ctx)
    since = ctx.params.get("since")
    if since is not None:
        dt.date.fromisoformat(since)


def test_the_backfill_starts_on_the_day_the_oldest_record_was_created() -> None:
    hs = contact("1", "ann@x.io", raw={"createdate": "2026-02-03T10:00:00.000Z"})
    qb = customer("7", "ann@x.io", raw={"MetaData": {"CreateTime": "2025-12-31T20:00:00-08:00"}})
    assert backfill_since([hs, qb]) == dt.date(2026, 1, 1)  # QuickBooks' time, in UTC
    assert backfill_since([contact("2", "b@x.io", raw={"createdate": "1767225600000"})]) == (
        dt.date(2026, 1, 1)
    )
    assert backfill_since([contact("3", "c@x.io", raw={"createdate": "soon"})]) is None
    rule = wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS)
    report = reconcile(rule, [], [hs], [qb], RefIndex())
    (match,) = report.unlinked
    assert "`ledgerbridge backfill --object contacts --since 2026-01-01`" in match.action
    unknown = unlinked_action(rule, "missing", System.HUBSPOT, None, "")
    assert f"--since {EARLIEST_SINCE.isoformat()}`" in unknown
