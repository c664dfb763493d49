"""`ledgerbridge rules …`: set up and change what syncs (the rules service's CLI face).

Every change goes through `operations.rules.RulesService` (the same validation and
messages as the rules file and REST) and is kept in the history as coming from `cli`
(`apply`: `file`). A refused change prints every problem and saves nothing (exit 2).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledgerbridge.commands._options import ConfigOption, ConnectionOption, JsonOption, RuleName

if TYPE_CHECKING:
    from rich.console import Console

    from ledgerbridge.domain import System
    from ledgerbridge.operations.rules import RuleChange, RulesService
    from ledgerbridge.settings import Settings
    from ledgerbridge.store import Store
    from ledgerbridge.sync.catalogue import SideFields
    from ledgerbridge.sync.rules import ObjectPair

rules_app = typer.Typer(
    rich_markup_mode="markdown",
    help="Set up and change what syncs: rules, mappings, filters (see docs/rules.md).",
    no_args_is_help=True,
)
mapping_app = typer.Typer(
    rich_markup_mode="markdown", help="Field mappings of a rule.", no_args_is_help=True
)
filter_app = typer.Typer(
    rich_markup_mode="markdown", help="Filters of a rule.", no_args_is_help=True
)
rules_app.add_typer(mapping_app, name="mapping")
rules_app.add_typer(filter_app, name="filter")


class DirectionName(StrEnum):
    hubspot_to_qbo = "hubspot_to_qbo"
    qbo_to_hubspot = "qbo_to_hubspot"
    two_way = "two_way"


class ConflictName(StrEnum):
    hubspot_wins = "hubspot_wins"
    qbo_wins = "qbo_wins"


class NamePolicy(StrEnum):
    strict = "strict"
    disambiguate = "disambiguate"


class Side(StrEnum):
    hubspot = "hubspot"
    qbo = "qbo"


PairArg = Annotated[RuleName, typer.Argument(help="contacts_customers, products_items, …")]
SideOption = Annotated[Side, typer.Option("--side", help="hubspot or qbo.")]


def register(app: typer.Typer) -> None:
    from ledgerbridge.commands import _rules_edit  # the mapping, filter and setup commands

    _rules_edit.register_edits()
    app.add_typer(rules_app, name="rules")


def console() -> Console:
    from rich.console import Console

    return Console()


def as_pair(name: RuleName) -> ObjectPair:
    from ledgerbridge.sync.rules import ObjectPair

    return ObjectPair(name.value)


def as_system(side: Side) -> System:
    from ledgerbridge.domain import System

    return System.HUBSPOT if side is Side.hubspot else System.QUICKBOOKS


def run_change(
    config: Path | None,
    connection: int | None,
    action: Callable[[RulesService], Awaitable[list[RuleChange] | RuleChange]],
    *,
    dry_run: bool = False,
) -> None:
    """Run a change with the live accounts, print what changed (errors: exit 2)."""
    from ledgerbridge.commands._options import configured_store
    from ledgerbridge.commands._rules_view import print_changes
    from ledgerbridge.operations.rules.live import live_service

    async def run(settings: Settings, store: Store) -> list[RuleChange] | RuleChange:
        async with live_service(store, settings, connection) as service:
            return await action(service)

    with configured_store(config, existing=True) as (settings, store):
        result = asyncio.run(run(settings, store))
    changes = result if isinstance(result, list) else [result] if result.lines else []
    print_changes(console(), changes, dry_run=dry_run)


@rules_app.command("list")
def list_rules(
    connection: ConnectionOption = None, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """The connection's rules: on or off, direction, conflict policy, counts."""
    from ledgerbridge.commands._options import configured_store
    from ledgerbridge.commands._rules_view import print_json, rule_json, rules_table
    from ledgerbridge.operations.rules.live import offline_service

    with configured_store(config, existing=True) as (_, store):
        rules = offline_service(store, connection).rules()
    if as_json:
        print_json([rule_json(r) for r in rules])
    else:
        rules_table(console(), rules)


@rules_app.command("show")
def show(
    pair: PairArg,
    connection: ConnectionOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """One rule in full: mappings with their toggles, filters (fixed ones locked), options."""
    from ledgerbridge.commands._options import configured_store
    from ledgerbridge.commands._rules_view import print_json, rule_json, show_rule
    from ledgerbridge.operations.rules.live import offline_service

    with configured_store(config, existing=True) as (_, store):
        rule = offline_service(store, connection).rule(as_pair(pair))
    if as_json:
        print_json(rule_json(rule))
    else:
        show_rule(console(), rule)


@rules_app.command("set")
def set_rule(
    pair: PairArg,
    direction: Annotated[DirectionName | None, typer.Option(help="Which way records flow.")] = None,
    conflict: Annotated[ConflictName | None, typer.Option(help="Who wins a conflict.")] = None,
    display_name_policy: Annotated[
        NamePolicy | None, typer.Option(help="A taken QBO DisplayName.")
    ] = None,
    option: Annotated[
        list[str] | None, typer.Option("--option", help="NAME=VALUE (repeatable).")
    ] = None,
    connection: ConnectionOption = None,
    config: ConfigOption = None,
) -> None:
    """Change a rule's direction, conflict policy, display-name policy or options."""
    from ledgerbridge.operations.rules import ChangeSource
    from ledgerbridge.sync.rules import ConflictPolicy, Direction, DisplayNamePolicy

    options: dict[str, str] = {}
    for item in option or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--option")
        options[name.strip()] = value
    run_change(
        config,
        connection,
        lambda s: s.update(
            as_pair(pair),
            ChangeSource.CLI,
            direction=Direction(direction.value) if direction else None,
            conflict_policy=ConflictPolicy(conflict.value) if conflict else None,
            display_name_policy=(
                DisplayNamePolicy(display_name_policy.value) if display_name_policy else None
            ),
            options=options,
        ),
    )


@rules_app.command("enable")
def enable(pair: PairArg, connection: ConnectionOption = None, config: ConfigOption = None) -> None:
    """Turn a rule on: it goes on from where it stopped."""
    from ledgerbridge.operations.rules import ChangeSource

    run_change(config, connection, lambda s: s.enable(as_pair(pair), ChangeSource.CLI))


@rules_app.command("disable")
def disable(
    pair: PairArg, connection: ConnectionOption = None, config: ConfigOption = None
) -> None:
    """Turn a rule off; its links, cursors and history are kept."""
    from ledgerbridge.operations.rules import ChangeSource

    run_change(config, connection, lambda s: s.disable(as_pair(pair), ChangeSource.CLI))


@rules_app.command("fields")
def fields(
    pair: PairArg,
    side: SideOption,
    connection: ConnectionOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """The fields a mapping or a filter can name, read live from the side (with types)."""
    from ledgerbridge.commands._options import configured_store
    from ledgerbridge.commands._rules_view import fields_table, print_json
    from ledgerbridge.operations.rules.fields import field_entries
    from ledgerbridge.operations.rules.live import live_service

    async def read(settings: Settings, store: Store) -> SideFields:
        async with live_service(store, settings, connection) as service:
            return await service.fields(as_pair(pair), as_system(side))

    with configured_store(config, existing=True) as (settings, store):
        found = asyncio.run(read(settings, store))
    if as_json:
        print_json(field_entries(found))
    else:
        fields_table(console(), found)


@rules_app.command("export")
def export(
    file: Annotated[Path | None, typer.Argument(help="Write here (default: print).")] = None,
    connection: ConnectionOption = None,
    config: ConfigOption = None,
) -> None:
    """The connection's whole configuration as one TOML document (fixed filters locked)."""
    from ledgerbridge.commands._options import configured_store
    from ledgerbridge.operations.rules.document import export_document
    from ledgerbridge.operations.rules.live import offline_service

    with configured_store(config, existing=True) as (_, store):
        service = offline_service(store, connection)
        text = export_document(
            service.rules(), title=f"ledgerbridge sync rules of connection {service.connection_id}"
        )
    if file is None:
        typer.echo(text, nl=False)
    else:
        file.write_text(text, encoding="utf-8")
        typer.echo(f"Wrote {file}.", err=True)


@rules_app.command("apply")
def apply(
    file: Annotated[Path, typer.Argument(help="A rules file (from `rules export`).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the changes only.")] = False,
    connection: ConnectionOption = None,
    config: ConfigOption = None,
) -> None:
    """Validate the whole file, show what differs, and save all of it or nothing."""
    from ledgerbridge.errors import UsageError
    from ledgerbridge.operations.rules import ChangeSource
    from ledgerbridge.operations.rules.document import parse_document

    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot read {file}: {exc.strerror}", fix="give the path of a rules file"
        ) from exc
    rules = parse_document(text)
    run_change(
        config,
        connection,
        lambda s: s.save(rules, ChangeSource.FILE, dry_run=dry_run),
        dry_run=dry_run,
    )


@rules_app.command("history")
def history(
    pair: Annotated[RuleName | None, typer.Argument(help="Only this rule.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    connection: ConnectionOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every rule change: when, what, and from where (cli, file, api, dashboard)."""
    from ledgerbridge.commands._options import configured_store
    from ledgerbridge.commands._rules_view import history_json, history_table, print_json
    from ledgerbridge.operations.rules.live import offline_service

    with configured_store(config, existing=True) as (_, store):
        rows = offline_service(store, connection).history(
            pair=as_pair(pair) if pair else None, limit=limit
        )
    if as_json:
        print_json(history_json(rows))
    else:
        history_table(console(), rows)


@rules_app.command("excluded")
def excluded(
    pair: Annotated[RuleName | None, typer.Argument(help="Only this rule.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    connection: ConnectionOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """The records the filters hold back, each with the filter that excluded it."""
    from ledgerbridge.commands._options import configured_store
    from ledgerbridge.commands._rules_view import excluded_json, excluded_table, print_json
    from ledgerbridge.runtime.connection import pick_connection
    from ledgerbridge.store import RecordStatus

    with configured_store(config, existing=True) as (_, store):
        cid = pick_connection(store, connection)
        with store.begin() as tx:
            rows = tx.list_records(
                cid,
                status=RecordStatus.EXCLUDED,
                object_type=pair.value if pair else None,
                limit=limit,
            )
    if as_json:
        print_json(excluded_json(rows))
    else:
        excluded_table(console(), rows)
