"""`ledgerbridge rules setup`, `rules mapping …` and `rules filter …` (registered on the
`rules` sub-app by `commands.rules.register`)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from ledgerbridge.commands._options import ConfigOption, ConnectionOption
from ledgerbridge.commands.rules import (
    DirectionName,
    PairArg,
    Side,
    SideOption,
    as_pair,
    as_system,
    console,
    filter_app,
    mapping_app,
    rules_app,
    run_change,
)

if TYPE_CHECKING:
    from ledgerbridge.operations.rules import RuleChange, RulesService
    from ledgerbridge.operations.rules.wizard import SetupProposal
    from ledgerbridge.settings import Settings
    from ledgerbridge.store import Store
    from ledgerbridge.sync.rules import FieldMapping, ObjectPair, SyncRule


def register_edits() -> None:
    """Nothing to do: importing this module adds its commands."""


# ---- mappings ----------------------------------------------------------------------------


async def _custom_mapping(
    service: RulesService,
    pair: ObjectPair,
    hubspot: str,
    qbo: str,
    name: str | None,
    direction: DirectionName | None,
) -> FieldMapping:
    """The mapping `mapping add` describes; its type is the HubSpot property's (else text)."""
    from ledgerbridge.domain import System
    from ledgerbridge.sync.rules import CUSTOM_FIELD_TYPES, FieldMapping, FieldType

    info = (await service.fields(pair, System.HUBSPOT)).get(hubspot)
    qbo_info = (await service.fields(pair, System.QUICKBOOKS)).get(qbo)
    kind = next(
        (i.type for i in (info, qbo_info) if i is not None and i.type in CUSTOM_FIELD_TYPES),
        FieldType.TEXT,
    )
    read_only_on = None
    if direction is DirectionName.hubspot_to_qbo:
        read_only_on = System.HUBSPOT
    elif direction is DirectionName.qbo_to_hubspot:
        read_only_on = System.QUICKBOOKS
    return FieldMapping(
        name=name or hubspot,
        hubspot=hubspot,
        qbo=qbo,
        type=kind,
        read_only_on=read_only_on,
        label=name or (info.label if info else hubspot),
    )


@mapping_app.command("add")
def mapping_add(
    pair: PairArg,
    hubspot: Annotated[str, typer.Option("--hubspot", help="HubSpot property name.")],
    qbo: Annotated[
        str, typer.Option("--qbo", help="QBO field path, or `CustomField:<name>` on invoices.")
    ],
    name: Annotated[str | None, typer.Option(help="Mapping name (default: --hubspot).")] = None,
    direction: Annotated[
        DirectionName | None, typer.Option(help="Only this way (default: the rule's).")
    ] = None,
    connection: ConnectionOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a custom mapping (see `rules fields` for what each side has)."""
    from ledgerbridge.operations.rules import ChangeSource

    async def act(service: RulesService) -> RuleChange:
        target = as_pair(pair)
        mapping = await _custom_mapping(service, target, hubspot, qbo, name, direction)
        return await service.add_mapping(target, mapping, ChangeSource.CLI)

    run_change(config, connection, act)


@mapping_app.command("remove")
def mapping_remove(
    pair: PairArg,
    field: Annotated[str, typer.Argument(help="Mapping name (or one of its fields).")],
    connection: ConnectionOption = None,
    config: ConfigOption = None,
) -> None:
    """Remove a custom mapping (default mappings are turned off instead)."""
    from ledgerbridge.operations.rules import ChangeSource

    run_change(
        config, connection, lambda s: s.remove_mapping(as_pair(pair), field, ChangeSource.CLI)
    )


@mapping_app.command("on")
def mapping_on(
    pair: PairArg,
    field: Annotated[str, typer.Argument(help="Mapping name (or one of its fields).")],
    connection: ConnectionOption = None,
    config: ConfigOption = None,
) -> None:
    """Turn a mapping on."""
    from ledgerbridge.operations.rules import ChangeSource

    run_change(
        config,
        connection,
        lambda s: s.set_mapping_enabled(as_pair(pair), field, True, ChangeSource.CLI),
    )


@mapping_app.command("off")
def mapping_off(
    pair: PairArg,
    field: Annotated[str, typer.Argument(help="Mapping name (or one of its fields).")],
    connection: ConnectionOption = None,
    config: ConfigOption = None,
) -> None:
    """Turn a mapping off (the field is then left alone on both sides)."""
    from ledgerbridge.operations.rules import ChangeSource

    run_change(
        config,
        connection,
        lambda s: s.set_mapping_enabled(as_pair(pair), field, False, ChangeSource.CLI),
    )


# ---- filters -----------------------------------------------------------------------------


@filter_app.command("add")
def filter_add(
    pair: PairArg,
    side: SideOption,
    prop: Annotated[str, typer.Option("--property", help="Property (on --side) to test.")],
    operator: Annotated[str, typer.Option(help="equals, contains, after, is_known, …")],
    value: Annotated[
        str | None, typer.Option(help="Value (for `in`: comma-separated values).")
    ] = None,
    associated: Annotated[
        str | None, typer.Option(help="Test the associated records of this type instead.")
    ] = None,
    connection: ConnectionOption = None,
    config: ConfigOption = None,
) -> None:
    """Only sync the records of --side that pass this filter."""
    from pydantic import ValidationError

    from ledgerbridge.errors import UsageError
    from ledgerbridge.operations.rules import ChangeSource
    from ledgerbridge.sync.rules import Direction, Filter, FilterOperator, FilterScope

    try:
        op = FilterOperator(operator)
        parsed: str | tuple[str, ...] | None = value
        if op is FilterOperator.IN and value is not None:
            parsed = tuple(v.strip() for v in value.split(",") if v.strip())
        new = Filter(
            flow=Direction.flow_from(as_system(side)),
            scope=FilterScope.ASSOCIATED if associated else FilterScope.PRIMARY,
            association=associated,
            property=prop,
            operator=op,
            value=parsed,
        )
    except (ValueError, ValidationError) as exc:
        known = ", ".join(o.value for o in FilterOperator)
        raise UsageError(
            f"not a valid filter: {exc}", fix=f"use one of the operators {known}"
        ) from exc
    run_change(config, connection, lambda s: s.add_filter(as_pair(pair), new, ChangeSource.CLI))


@filter_app.command("remove")
def filter_remove(
    pair: PairArg,
    side: SideOption,
    prop: Annotated[str, typer.Option("--property", help="The filter's property.")],
    connection: ConnectionOption = None,
    config: ConfigOption = None,
) -> None:
    """Remove a filter: the records it held back sync at the next pass."""
    from ledgerbridge.operations.rules import ChangeSource

    run_change(
        config,
        connection,
        lambda s: s.remove_filter(as_pair(pair), as_system(side), prop, ChangeSource.CLI),
    )


# ---- setup -------------------------------------------------------------------------------


def _ask_direction(rule: SyncRule, allowed: list[str]) -> SyncRule:
    from ledgerbridge.operations.rules.service import redirect
    from ledgerbridge.sync.hints import PAIR_NAMES
    from ledgerbridge.sync.rules import ConflictPolicy, Direction

    default = rule.direction.value if rule.direction.value in allowed else allowed[0]
    answer = typer.prompt(
        f"{PAIR_NAMES[rule.object_pair].capitalize()}: direction ({', '.join(allowed)})",
        default=default,
    )
    while answer not in allowed:
        answer = typer.prompt(f"Choose one of {', '.join(allowed)}", default=default)
    rule = redirect(rule, Direction(answer))
    if rule.direction is Direction.TWO_WAY:
        policies = [p.value for p in ConflictPolicy]
        choice = typer.prompt(
            f"  A field changed on both sides: who wins ({', '.join(policies)})",
            default=rule.conflict_policy.value,
        )
        while choice not in policies:
            choice = typer.prompt(f"Choose one of {', '.join(policies)}", default=policies[0])
        rule = rule.model_copy(update={"conflict_policy": ConflictPolicy(choice)})
    return rule


def _ask(proposal: SetupProposal) -> list[SyncRule]:
    """The interactive steps: a direction per rule (and who wins a conflict when two-way),
    then the income account (R-PRD-3)."""
    from ledgerbridge.sync.rules import Direction, InvoiceSettings

    every = [d.value for d in Direction]
    rules = [_ask_direction(r, every) for r in proposal.rules[:2]]
    invoice_choices = every if proposal.outbound_invoices_allowed else ["qbo_to_hubspot"]
    invoices = _ask_direction(proposal.rules[2], invoice_choices)
    settings = invoices.invoice or InvoiceSettings()
    if invoices.direction is not Direction.QBO_TO_HUBSPOT and proposal.income_accounts:
        console().print("Income accounts: " + ", ".join(proposal.income_accounts))
        account = typer.prompt(
            "Income account for 'Custom line item' (invoice lines that match no product)",
            default=settings.custom_line_item_income_account or proposal.income_accounts[0],
        )
        settings = settings.model_copy(update={"custom_line_item_income_account": account})
    return [*rules, invoices.model_copy(update={"invoice": settings})]


@rules_app.command("setup")
def setup(
    defaults: Annotated[
        bool, typer.Option("--defaults", help="Take HubSpot's defaults, no questions.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Save without asking to confirm.")] = False,
    income_account: Annotated[
        str | None, typer.Option(help="Income account of 'Custom line item'.")
    ] = None,
    connection: ConnectionOption = None,
    config: ConfigOption = None,
) -> None:
    """Set up sync: contacts ↔ customers, products, then invoices (HubSpot's order)."""
    from ledgerbridge.commands._options import configured_store
    from ledgerbridge.commands._rules_view import print_changes, rules_table
    from ledgerbridge.operations.rules import ChangeSource
    from ledgerbridge.operations.rules.live import live_service
    from ledgerbridge.operations.rules.wizard import propose

    out = console()

    async def run(settings: Settings, store: Store) -> list[RuleChange] | None:
        async with live_service(store, settings, connection) as service:
            today = dt.datetime.now(dt.UTC).date()
            proposal = await propose(service, today=today, income_account=income_account)
            for warning in proposal.warnings:
                out.print(f"[yellow]warning:[/] {warning}")
            for note in proposal.notes:
                out.print(f"note: {note}")
            rules = proposal.rules if defaults else _ask(proposal)
            rules_table(out, rules)
            if not yes and not typer.confirm("Save these rules?", default=True):
                return None
            return await service.save(rules, ChangeSource.CLI)

    with configured_store(config, existing=True) as (settings, store):
        changes = asyncio.run(run(settings, store))
    if changes is None:
        out.print("Nothing saved.")
        return
    print_changes(out, changes, dry_run=False)
    out.print("Next: `ledgerbridge run` syncs with these rules.")


__all__ = ["Side", "register_edits"]
