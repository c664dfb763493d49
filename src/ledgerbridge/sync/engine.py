"""One sync pass of one connection (ARCHITECTURE.md, "How one sync pass works").

For each enabled rule, in dependency order (contacts ↔ customers, products ↔ items,
invoices):

For the invoice rule, payments follow in the same pass (`sync.payments_pass`), then
the deal roll-up (`sync.deals`, R-INV-6) when the engine has a `DealPort`.

1. read the changes of each side the rule takes changes from, since that side's
   cursor; read the current counterparts of changed linked records (fresh versions);
2. gather the `PlanContext`: cross-pair references from the contact and product link
   ids (`StatePort.load_refs`), match candidates looked up by key on the other side,
   QBO DisplayNames (only when a new customer may be created), the rule's sync start
   time. Only the links this pass needs are loaded (`StatePort.load_links_for`): those
   of the changed records (and of the records they name as their counterpart), of the
   candidates, and of the linked records whose base holds a key of an unlinked record;
   never every link, so a pass costs the same however many records were synced;
3. `plan(...)`;
4. apply the writes in batches through the side ports (idempotent: QBO `requestid`,
   HubSpot upsert on the QBO id), both sides at once unless a QBO create is a replay
   (`sync.apply`);
5. record links, sync records and activity, then the cursors, in ONE commit.

Transient failures leave their records pending and hold the cursor of their side
just before them (nothing is lost: the next pass reads them again). Terminal
failures become failed sync records. An `AuthenticationError` stops the pass and
marks the connection `needs_reauth` (after recording what was already written).
A dry run stops after step 3 and writes nothing, anywhere.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import TypeVar, cast

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.sync.actions import Action, Create, Deactivate, Update, Void
from ledgerbridge.sync.apply import apply_writes
from ledgerbridge.sync.deals import DealPort, run_deal_pass
from ledgerbridge.sync.defaults import MATCH_FIELD
from ledgerbridge.sync.errors import AuthenticationError, SyncError
from ledgerbridge.sync.hashes import SnapshotHashes, drop_unchanged
from ledgerbridge.sync.healing import DEPENDENTS, RetryState, healed_outcomes, new_links
from ledgerbridge.sync.invoices import HOOKS
from ledgerbridge.sync.match import lookup_keys
from ledgerbridge.sync.model import (
    Link,
    PlanContext,
    RefIndex,
    SideRecord,
    held_cursor,
)
from ledgerbridge.sync.payments_pass import LoggedSkips, run_payment_pass
from ledgerbridge.sync.plan import create_key, plan
from ledgerbridge.sync.ports import (
    Changes,
    Commit,
    RecordOutcome,
    SidePort,
    StatePort,
)
from ledgerbridge.sync.record import record_pass
from ledgerbridge.sync.report import (
    PairReport,
    PassReport,
    change_lags,
    planned_links,
    summarize,
)
from ledgerbridge.sync.rules import ObjectPair, SyncRule
from ledgerbridge.sync.settled import SettledRecords

T = TypeVar("T")
U = TypeVar("U")
H, Q = System.HUBSPOT, System.QUICKBOOKS
ORDER = (ObjectPair.CONTACTS_CUSTOMERS, ObjectPair.PRODUCTS_ITEMS, ObjectPair.INVOICES_INVOICES)
CURSOR_MARGIN = dt.timedelta(seconds=1)
DEALS_FULL_EVERY = dt.timedelta(minutes=15)
"""How often the deal roll-up covers every deal, not only those of changed invoices."""
DEALS_FULL_CHUNK = 500
"""Invoices per step of a full deal roll-up: it holds the ids of every invoice link, and
the links (with snapshots) and deals of one chunk at a time, never every link."""
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _gather(*calls: Awaitable[T]) -> list[T]:
    """Await `calls` concurrently; when several fail, an `AuthenticationError` wins
    (it stops the pass), then the first other error; results in order."""
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    if errors:
        auth = [e for e in errors if isinstance(e, AuthenticationError)]
        raise auth[0] if auth else errors[0]
    return cast(list[T], outcomes)


async def _both(first: Awaitable[T], second: Awaitable[U]) -> tuple[T, U]:
    """Two calls of different types at the same time (errors as in `_gather`)."""
    one, two = await _gather(first, second)
    return cast(T, one), cast(U, two)


class SyncEngine:
    """Runs passes of one connection over its two side ports and its state port."""

    def __init__(
        self,
        *,
        hubspot: SidePort,
        qbo: SidePort,
        state: StatePort,
        clock: Callable[[], dt.datetime] = utc_now,
        deals: DealPort | None = None,
    ) -> None:
        self.sides: dict[System, SidePort] = {H: hubspot, Q: qbo}
        self.state = state
        self.clock = clock
        self.deals = deals
        """Deals for the R-INV-6 roll-up (none: the step is skipped)."""
        self._due: set[RecordRef] = set()
        self._hashes = SnapshotHashes()
        self._settled = SettledRecords()
        self._payment_skips: LoggedSkips = {}
        """Records whose last outcome stands until they change (`sync.settled`)."""
        """The failed records due for a retry in the current rule's pass."""
        self._deals_full_at: dt.datetime | None = None
        """When this engine last rolled up every deal (None: not yet)."""

    async def run_pass(
        self, *, dry_run: bool = False, only: Collection[ObjectPair] | None = None
    ) -> PassReport:
        """One pass over every enabled rule (or the rules of `only`)."""
        report = PassReport(dry_run=dry_run)
        try:
            rules = {r.object_pair: r for r in await self.state.load_rules()}
            for pair in ORDER:
                rule = rules.get(pair)
                if rule is None or not rule.enabled or (only is not None and pair not in only):
                    continue  # R-CON-4: a rule that is off keeps its links and cursors
                started = time.perf_counter()
                # A dry run writes no link: a rule sees the contacts and products that the
                # rules before it would link or create (`planned_links`), as the pass would.
                planned = planned_links(RefIndex(), report) if dry_run else None
                try:
                    await self._run_rule(rule, report.pair(pair), dry_run, planned)
                except AuthenticationError:
                    raise
                except SyncError as error:
                    # The rule's read or batch failed as a whole: nothing was recorded and
                    # no cursor moved, so the next pass retries it. Other rules go on.
                    report.pair(pair).error = f"{error.category.value}: {error.detail}"
                    report.pair(pair).failure = error
                finally:
                    report.pair(pair).seconds = time.perf_counter() - started
        except AuthenticationError as error:
            report.stopped = "authentication"
            if not dry_run:
                await self.state.mark_needs_reauth(error.detail)
        return report

    # ---- one rule ----

    async def _links_for(
        self,
        pair: ObjectPair,
        hubspot_ids: Collection[str],
        qbo_ids: Collection[str],
        keys: Collection[str] = (),
    ) -> list[Link]:
        if not (hubspot_ids or qbo_ids or keys):
            return []
        return await self.state.load_links_for(pair, hubspot_ids, qbo_ids, keys)

    async def _read(
        self, rule: SyncRule, refs: RefIndex, dry_run: bool = False
    ) -> tuple[dict[System, Changes], dict[System, list[SideRecord]], list[Link]]:
        """The changes, the records to plan (changes and their linked counterparts) and
        the links of this pair that those records need."""
        pair = rule.object_pair
        sources = sorted(rule.direction.sources)

        async def changed(side: System) -> Changes:
            since = await self.state.get_cursor(side, pair)
            return await self.sides[side].read_changes(rule, since, refs)

        # The two services are independent: read them at the same time.
        changes = dict(zip(sources, await _gather(*(changed(s) for s in sources)), strict=True))
        records = {s: list(changes[s].records) if s in changes else [] for s in System}
        await self._read_due(rule, refs, records)
        # The links of the changed records, and of the records they say they were
        # created from (`SideRecord.counterpart_id`: the planner refuses to link a
        # record to one that is already linked).
        ids = {
            side: {r.ref.id for r in records[side]}
            | {r.counterpart_id for r in records[side.other] if r.counterpart_id is not None}
            for side in System
        }
        links = await self._links_for(pair, ids[H], ids[Q])
        self._hashes.begin(rule)
        drop_unchanged(rule, refs, records, links, self._due, self._hashes)
        if not dry_run:  # a preview plans every record it reads
            self._settled.begin(rule, refs)
            self._settled.drop(rule, records, self._due)
        # Counterparts of changed linked records: their current version and values.
        by_id = {H: {x.hubspot_id: x for x in links}, Q: {x.qbo_id: x for x in links}}
        wanted: dict[System, set[str]] = {}
        for side in System:
            have = {r.ref.id for r in records[side]}
            want = {
                by_id[side.other][r.ref.id].id_on(side)
                for r in records[side.other]
                if r.ref.id in by_id[side.other]
            } - have
            if want:
                wanted[side] = want
        fresh = await _gather(
            *(self.sides[side].read_records(rule, want, refs) for side, want in wanted.items())
        )
        for side, found in zip(wanted, fresh, strict=True):
            records[side].extend(found)
        return changes, records, links

    async def _read_due(
        self, rule: SyncRule, refs: RefIndex, records: dict[System, list[SideRecord]]
    ) -> None:
        """Add the failed records due for a retry (`sync.healing`), read by id."""
        if not isinstance(self.state, RetryState):
            return
        due = await self.state.due_failures(rule.object_pair, self.clock())
        have = {r.ref for side in System for r in records[side]}
        wanted: dict[System, set[str]] = {}
        for ref in due:
            if ref not in have:
                wanted.setdefault(ref.system, set()).add(ref.id)
        self._due = set(due)
        found = await _gather(
            *(self.sides[side].read_records(rule, ids, refs) for side, ids in wanted.items())
        )
        for side, more in zip(wanted, found, strict=True):
            records[side].extend(more)

    async def _heal(
        self,
        rule: SyncRule,
        records: dict[System, list[SideRecord]],
        actions: Sequence[Action],
        outcomes: list[RecordOutcome],
    ) -> None:
        """Clear the failures this pass's plan no longer has (see `sync.healing`)."""
        if not isinstance(self.state, RetryState):
            return
        found = {r.ref for side in System for r in records[side]}
        failed = await self.state.failed_among(rule.object_pair, found | self._due)
        outcomes.extend(healed_outcomes(failed, found, actions, outcomes))

    async def _context(
        self,
        rule: SyncRule,
        links: Sequence[Link],
        records: dict[System, list[SideRecord]],
        refs: RefIndex,
    ) -> tuple[PlanContext, list[Link]]:
        """The plan's context, and `links` with those the match look-ups need: the links
        of the candidates found (a candidate may already be linked to another record) and
        of the linked records whose base holds a key of an unlinked record (a key that
        belongs to a linked record is never given to a new one)."""
        pair = rule.object_pair
        linked = {H: {x.hubspot_id for x in links}, Q: {x.qbo_id for x in links}}
        unlinked = {
            s: [r for r in records[s] if not r.deleted and r.ref.id not in linked[s]]
            for s in System
        }
        candidates: dict[System, list[SideRecord]] = {H: [], Q: []}
        keys = {
            side.other: lookup_keys(rule, unlinked[side], refs)
            for side in System
            if pair in MATCH_FIELD
        }
        keys = {side: found for side, found in keys.items() if found}
        want_names = pair is ObjectPair.CONTACTS_CUSTOMERS and rule.allows(H) and unlinked[H]

        async def no_names() -> frozenset[str]:
            return frozenset()

        # Look-ups on the two services (and the QBO names) run at the same time.
        async def lookups() -> list[list[SideRecord]]:
            return await _gather(
                *(self.sides[side].find_candidates(rule, k, refs) for side, k in keys.items())
            )

        names, found = await _both(
            self.sides[Q].display_names() if want_names else no_names(), lookups()
        )
        for side, records_found in zip(keys, found, strict=True):
            candidates[side] = records_found
        more = {s: {c.ref.id for c in candidates[s]} - linked[s] for s in System}
        all_keys = set().union(*keys.values())
        extra = await self._links_for(pair, more[H], more[Q], all_keys)
        have = {(x.hubspot_id, x.qbo_id) for x in links}
        context = PlanContext(
            sync_started_at=rule.sync_started_at or EPOCH,
            refs=refs,
            qbo_display_names=names,
            hubspot_candidates=candidates[H],
            qbo_candidates=candidates[Q],
            sent_creates=await self._sent_creates(rule, unlinked),
        )
        return context, [*links, *(x for x in extra if (x.hubspot_id, x.qbo_id) not in have)]

    async def _sent_creates(
        self, rule: SyncRule, unlinked: dict[System, list[SideRecord]]
    ) -> frozenset[str]:
        """The keys of creates sent before (by a pass that died) among the unlinked
        records the planner would not create (`PlanContext.sent_creates`): asked of the
        target side's journal only when there are such records."""
        hooks = HOOKS[rule.object_pair]
        found: set[str] = set()
        for side in System:
            journal = self.sides[side.other].capabilities.sent_creates
            if journal is None or not rule.allows(side):
                continue
            keys = [
                create_key(rule.object_pair, r)
                for r in unlinked[side]
                if hooks.skip_create(rule, r) is not None
            ]
            if keys:
                found |= await journal.sent_creates(keys)
        return frozenset(found)

    async def _run_rule(
        self, rule: SyncRule, report: PairReport, dry_run: bool, planned: RefIndex | None = None
    ) -> None:
        pair = rule.object_pair
        refs = await self.state.load_refs()
        if planned is not None:
            refs = refs.with_planned(planned)
        custom_item = self.sides[Q].capabilities.custom_line_item
        if pair is ObjectPair.INVOICES_INVOICES and custom_item is not None:
            custom = await custom_item.custom_line_item(rule)
            refs = RefIndex(refs.contacts, refs.products, custom)
        changes, records, links = await self._read(rule, refs, dry_run)
        context, links = await self._context(rule, links, records, refs)
        actions = plan(rule, links, records[H], records[Q], context)
        if dry_run:
            summarize(actions, report)
            await self._payments(rule, report, dry_run=True)
            return
        writes = [a for a in actions if isinstance(a, Create | Update | Deactivate | Void)]
        results, dropped = await apply_writes(self.sides, rule, writes, refs)
        actions = [a for a in actions if id(a) not in dropped]
        seen = {r.ref: r for side in System for r in records[side]}
        recorded = record_pass(rule, links, actions, results, seen, refs, report)
        await self._heal(rule, records, actions, recorded.records)
        self._settled.note(rule, actions, recorded.records, seen)
        report.retried = len(self._due)
        report.lags = change_lags(writes, results, seen, self.clock())
        cursors = self._cursors(changes, recorded.held)
        await self.state.commit(
            Commit(pair, recorded.commit_links, recorded.records, recorded.activity, cursors)
        )
        if recorded.auth_error is not None:
            raise recorded.auth_error
        cures = pair in DEPENDENTS and new_links(links, recorded.commit_links)
        if cures and isinstance(self.state, RetryState):
            await self.state.retry_dependents(*DEPENDENTS[pair])
        await self._payments(rule, report, dry_run=False)
        changed = {s: {r.ref.id for r in records[s]} for s in System}
        for side, found in changes.items():  # with those read unchanged (`drop_unchanged`)
            changed[side] |= {r.ref.id for r in found.records}
        touched = {
            x.hubspot_id
            for x in (*links, *recorded.commit_links)
            if x.hubspot_id in changed[H] or x.qbo_id in changed[Q]
        }
        await self._deals(rule, report, touched, refs)

    async def _payments(self, rule: SyncRule, report: PairReport, *, dry_run: bool) -> None:
        """Payments ride in the invoice rule's pass, after the invoices (R-PAY-1)."""
        if rule.object_pair is not ObjectPair.INVOICES_INVOICES or not rule.payments_enabled:
            return
        try:
            await run_payment_pass(
                rule,
                self.sides,
                self.state,
                report,
                dry_run=dry_run,
                logged_skips=self._payment_skips,
            )
        except AuthenticationError:
            raise
        except SyncError as error:
            # Nothing of the payment pass was recorded; the next pass retries it.
            report.payment_error = f"{error.category.value}: {error.detail}"

    async def _deals(
        self, rule: SyncRule, report: PairReport, touched: set[str], refs: RefIndex
    ) -> None:
        """The deal roll-up rides in the invoice rule's pass, after payments (R-INV-6):
        the deals of the invoices this pass changed (`touched`, HubSpot ids), and every
        deal at this engine's first roll-up and then every `DEALS_FULL_EVERY` (a user
        associating an invoice with a deal changes no invoice, so no pass sees it)."""
        if rule.object_pair is not ObjectPair.INVOICES_INVOICES or self.deals is None:
            return
        now = self.clock()
        full = self._deals_full_at is None or now - self._deals_full_at >= DEALS_FULL_EVERY
        try:
            qbo, state = self.sides[Q], self.state
            if full:  # every invoice's deals, a chunk of invoices at a time
                ids = [h for h, _ in await state.load_link_ids(ObjectPair.INVOICES_INVOICES)]
                for start in range(0, len(ids), DEALS_FULL_CHUNK):
                    chunk = ids[start : start + DEALS_FULL_CHUNK]
                    await run_deal_pass(
                        rule, self.deals, qbo, state, (), refs, report, touched=chunk
                    )
                self._deals_full_at = now
            else:
                await run_deal_pass(rule, self.deals, qbo, state, (), refs, report, touched=touched)
        except AuthenticationError:
            raise
        except SyncError as error:
            # Recorded deals stay recorded; the rest is retried by the next pass.
            report.deal_error = f"{error.category.value}: {error.detail}"

    @staticmethod
    def _cursors(changes: dict[System, Changes], held: set[RecordRef]) -> dict[System, dt.datetime]:
        """The next cursor of each side read, never past a record that must be read again."""
        cursors: dict[System, dt.datetime] = {}
        for side, found in changes.items():
            stamps = [r.updated_at for r in found.records if r.ref in held]
            if (cursor := held_cursor(found.next_cursor, stamps, CURSOR_MARGIN)) is not None:
                cursors[side] = cursor
        return cursors
