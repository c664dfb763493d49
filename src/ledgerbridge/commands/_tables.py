"""The Rich tables the commands print (the operations return plain reports: `dry-run`,
`fees`, `reconcile`, `backfill --dry-run`)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from ledgerbridge.operations.fees import FeeReport
from ledgerbridge.operations.reconcile import ReconcileReport
from ledgerbridge.sync.actions import Skip
from ledgerbridge.sync.reconcile import show
from ledgerbridge.sync.report import PassReport, describe

FLOWS = {"hubspot_to_qbo": "to QuickBooks", "qbo_to_hubspot": "to HubSpot"}


def _line(line: dict[str, Any]) -> str:
    what = line.get("description") or "(no description)"
    text = f"{line.get('quantity') or '1'} × {what} at {line.get('unit_price') or '0'}"
    extras = [
        f"{name.replace('_', ' ')} {line[name]}"
        for name in ("product", "discount", "service_date")
        if line.get(name)
    ]
    return text + (f" ({', '.join(extras)})" if extras else "")


def _value(value: Any) -> str:
    if isinstance(value, list) and all(isinstance(x, dict) for x in value):
        count = f"{len(value)} line" + ("" if len(value) == 1 else "s")
        return f"{count}: " + "; ".join(_line(x) for x in value)
    return str(value)


def _fields(data: dict[str, Any]) -> str:
    """The fields it would write, as people read them: `name value`, lines spelt out,
    unset fields left out."""
    fields = data.get("fields") or {}
    return ", ".join(
        _value(value) if name == "lines" else f"{name.replace('_', ' ')} {_value(value)}"
        for name, value in sorted(fields.items())
        if value is not None
    )


def _details(data: dict[str, Any]) -> str:
    action = data["action"]
    if action in ("create", "update"):
        flow = FLOWS.get(str(data.get("direction")), str(data.get("direction")))
        return f"{flow}: {_fields(data)}"
    if action == "link":
        return f"matched on {data['matched_on']}"
    if action == "exclude":
        return f"filter: {data['filter']}"
    if action == "fail":
        return f"{data['title']}: {data['detail']}"
    if action == "void":
        flow = FLOWS.get(str(data.get("direction")), str(data.get("direction")))
        return f"{flow}: voided (never deleted)"
    return "made inactive in QuickBooks"


DRY_RUN_ROWS = 50
"""Actions listed per rule by `dry-run` unless `--all` (the totals always count them all)."""


def add_more_row(table: Table, rule: str, hidden: int, noun: str, hint: str) -> None:
    """The last row of a list cut short: how many rows are not shown, and how to see them."""
    if hidden > 0:
        table.add_row(rule, "…", f"{hidden} {noun}", hint)


def dry_run_table(
    report: PassReport, limit: int | None = None, hint: str = "--all or --json lists every one"
) -> Table:
    """The totals first (in the title), then each rule's actions, at most `limit` a rule
    (None: all) with a last row saying how many more there are and how to see them."""
    counts = ", ".join(
        f"{name} {report.total(name)}"
        for name in ("created", "updated", "linked", "excluded", "failed", "skipped")
    )
    table = Table(title=f"Dry run: nothing was written. It would be: {counts}")
    for column in ("Rule", "Action", "Record", "Details"):
        table.add_column(column)
    for pair in report.pairs.values():
        shown = [a for a in pair.actions if not isinstance(a, Skip)]
        hidden = 0 if limit is None else max(0, len(shown) - limit)
        for action in shown[: len(shown) - hidden]:
            data = describe(action)
            record = (
                data.get("source")
                or data.get("target")
                or data.get("record")
                or (f"{data.get('hubspot')} ↔ {data.get('qbo')}")
            )
            details = _details(data)
            table.add_row(pair.object_type.value, data["action"], str(record), details)
        add_more_row(table, pair.object_type.value, hidden, "more", hint)
        if pair.error:
            table.add_row(pair.object_type.value, "error", "", pair.error)
    return table


def fees_table(report: FeeReport) -> Table:
    table = Table(title=f"HubSpot payment fees, {report.since} to {report.until}")
    for column in ("Currency", "Payments", "Amount", "Processing fees", "Platform fees", "Total"):
        table.add_column(column, justify="left" if column == "Currency" else "right")
    for currency in sorted(report.currencies):
        sums = report.currencies[currency]
        table.add_row(
            currency,
            str(sums.payments),
            str(sums.amount),
            str(sums.processing_fees),
            str(sums.platform_fees),
            str(sums.total_fees),
        )
    notes = [f"{report.not_settled} payment(s) in the period did not settle"]
    if report.unreadable:
        notes.append(f"{len(report.unreadable)} payment(s) could not be read")
    table.caption = "; ".join(notes)
    return table


def reconcile_table(report: ReconcileReport) -> Table:
    table = Table(title="Reconciliation: HubSpot ↔ QuickBooks")
    for column in ("Rule", "Drift", "Record", "Details", "To fix"):
        table.add_column(column)
    for drift in report.pairs:
        rule = drift.object_type.value
        for f in drift.fields:
            details = (
                f"{f.field}: HubSpot {show(f.hubspot_value)!r} ≠ QuickBooks {show(f.qbo_value)!r}"
            )
            record = f"hubspot:{f.hubspot_id} ↔ quickbooks:{f.qbo_id}"
            table.add_row(rule, "field", record, details, f.action)
        for u in drift.unlinked:
            others = ", ".join(str(c) for c in u.counterparts)
            details = {
                "match": f"same key {u.key!r} as unlinked {others}",
                "ambiguous": f"key {u.key!r} shared by {others}",
                "duplicate": f"key {u.key!r} belongs to linked {others}",
                "missing": "no counterpart on the other side",
            }[u.kind.value]
            if u.note:
                details = f"{details} ({u.note})"
            table.add_row(rule, f"unlinked: {u.kind.value}", str(u.ref), details, u.action)
        for g in drift.gone:
            record = f"hubspot:{g.hubspot_id} ↔ quickbooks:{g.qbo_id}"
            table.add_row(rule, "gone", record, f"{g.side.value} record is {g.state}", g.action)
    for pair, error in report.errors.items():
        table.add_row(pair.value, "error", "", error, "fix the connection, then run it again")
    table.caption = f"{report.drift} difference(s); checked: {_checked(report)}"
    return table


def _checked(report: ReconcileReport) -> str:
    checked = ", ".join(f"{p.object_type.value} ({p.links} links)" for p in report.pairs)
    return checked or "nothing"


def reconcile_in_sync(report: ReconcileReport) -> str | None:
    """The one line that says all is well (None when there is something to show)."""
    if report.drift or report.errors or not report.pairs:
        return None
    return f"In sync: no difference; checked {_checked(report)}."
