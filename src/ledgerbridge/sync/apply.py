"""Step 4 of a rule's pass: apply its planned writes through the two side ports.

The writes of each side go to that side's port in one call (`SidePort.apply`, which
batches them). A side that fails as a whole (after its retries) gives its error to each
of its writes, so the writes already made on the other side are still linked in the
pass's commit (else the next pass would see them as new records and copy them back,
R-BEY-1).

**Echoes of a replayed create.** After a crash, a QBO create sent again (same `requestid`)
answers with the record the crashed pass made; that record is also among this pass's QBO
changes as a new, unlinked record, and the planner has planned its copy into HubSpot.
Copying it would duplicate the contact (R-BEY-1), so a HubSpot create whose source is a
record a QBO create of this pass answered with is dropped. (A record made in HubSpot needs
no such care: it carries the id of its source in our unique property, and the planner
never copies it back.) That needs the QBO answers before the HubSpot writes go.

**Both sides at once when no create is a replay** (issue 18). A fresh QBO create makes a
record after this pass read its changes, so it cannot be among them: when the QBO side's
write journal says none of this pass's QBO creates was sent before (`sent_creates`, a
read of our own store), the two sides' writes go at the same time — in a live pass a
round trip less before the last write lands. When some are replays, or the side keeps no
journal, QBO's writes go first and HubSpot's after, as above.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from ledgerbridge.domain import System
from ledgerbridge.sync.actions import Create, Deactivate
from ledgerbridge.sync.errors import SyncError
from ledgerbridge.sync.model import RefIndex
from ledgerbridge.sync.ports import SidePort, WriteAction, WriteResult
from ledgerbridge.sync.rules import SyncRule

__all__ = ["apply_writes", "write_target"]

H, Q = System.HUBSPOT, System.QUICKBOOKS
Results = dict[int, WriteResult]
"""The outcome of each write, by `id(action)`."""


def write_target(action: WriteAction) -> System:
    if isinstance(action, Deactivate):
        return action.target_ref.system
    return action.target


async def apply_writes(
    sides: Mapping[System, SidePort],
    rule: SyncRule,
    writes: Sequence[WriteAction],
    refs: RefIndex,
) -> tuple[Results, set[int]]:
    """Apply `writes`; the results, and the ids of the writes dropped as echoes."""
    mine = {target: [a for a in writes if write_target(a) is target] for target in (Q, H)}
    if mine[Q] and mine[H] and not await _may_echo(sides[Q], mine):
        parts = await asyncio.gather(
            _apply_side(sides[Q], rule, mine[Q], refs),
            _apply_side(sides[H], rule, mine[H], refs),
        )
        return {key: result for part in parts for key, result in part.items()}, set()
    results: Results = {}
    dropped: set[int] = set()
    for target in (Q, H):
        made = {r.record.ref for r in results.values() if r.ok and r.record is not None}
        echoes = [a for a in mine[target] if isinstance(a, Create) and a.source_ref in made]
        dropped.update(id(a) for a in echoes)
        todo = [a for a in mine[target] if id(a) not in dropped]
        if todo:
            results.update(await _apply_side(sides[target], rule, todo, refs))
    return results, dropped


async def _may_echo(qbo: SidePort, mine: Mapping[System, list[WriteAction]]) -> bool:
    """Whether a HubSpot write may copy back a record a QBO create of this pass answers
    with: a HubSpot create from a QBO record, and a QBO create sent before (or no journal
    to tell)."""
    creates = [a for a in mine[Q] if isinstance(a, Create)]
    copies = [a for a in mine[H] if isinstance(a, Create) and a.source_ref.system is Q]
    if not creates or not copies:
        return False
    journal = qbo.capabilities.sent_creates
    if journal is None:
        return True
    return bool(await journal.sent_creates([a.idempotency_key for a in creates]))


async def _apply_side(
    side: SidePort, rule: SyncRule, mine: list[WriteAction], refs: RefIndex
) -> Results:
    try:
        answers = await side.apply(rule, mine, refs)
    except SyncError as error:  # the side failed as a whole: each write's own outcome
        answers = [WriteResult(action, error=error) for action in mine]
    if len(answers) != len(mine):
        raise AssertionError(f"{side.system} answered {len(answers)} of {len(mine)} writes")
    return {id(action): answer for action, answer in zip(mine, answers, strict=True)}
