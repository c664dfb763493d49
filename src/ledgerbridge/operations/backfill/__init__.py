"""Historical backfill (R-INV-3 Beyond): sync records created before the sync started.

`backfill_ports` runs the unchanged `SyncEngine` (its writes stay idempotent, recorded
and audited) over three wrappers: `backfill_rule` (the stored rule minus its time
filters, e.g. R-INV-2's "after the sync started", plus "created on or after `since`"
per source side); `WindowedSide` (a `SidePort` whose `read_changes` streams the window
one page per engine batch); `BackfillState` (a `StatePort` keeping the backfill's own
position rows under `backfill:<object>`, written in each batch's transaction, activity
tagged `"via": "backfill"`). `backfill_all` runs contacts, products, then invoices.

**Streaming, in a stable order.** The window is read page by page in *creation* order,
by keyset: each page asks for "created at or after B" (QBO: `MetaData.CreateTime`,
whole seconds; HubSpot search: `createdate` / `hs_createdate`, ms) sorted by creation
time, and drops the ids already done at exactly B (`Position.skip`). Creation times
never change, so a record updated during the backfill keeps its place (paging by
offset over a modification-time order would skip records); a deleted one only leaves
its place. When a whole page holds records already done at B (a crowded second), the
page reads all of B (`WindowReader.tie`), then continues strictly after B. The window
is also capped at the run's start ("created at or before `until`"): records created
later (among them the ones this backfill creates on a two-way rule's other side) are
the live sync's, and are not read back as echoes. Memory holds the pages in flight (one,
or two in the pipeline), the prefetched next one and the links: not the window.

**One read per page.** A page is planned as it was read, without a second fresh read:
a record that changes after its read is written with a stale version and fails as
stale (transient: held and retried by the next batch), and its change is also seen by
the live sync's cursor. The next page is prefetched (an asyncio task) while the
engine plans, writes and commits the current batch. Before it is served it is read
again (the same one query) only when it is older than `fresh_for`, and the few of its
records the current batch just linked or wrote are re-read by id. Invoices read from
QBO alone (written to HubSpot) run two engine passes ("turns") at once (`pipeline`):
the next page is read, planned and written while the current one waits for the API or
its commit; pages are served and committed in turn order, and a position only moves
over a page that started at it.

**Resumable.** The position after each batch (before its first held record) is written
in the batch's commit. A later run with the same `since` resumes there; a batch cut by
a crash is re-planned and its writes replay idempotently. Existing counterparts are
linked, not duplicated: contacts / products by the engine's email / SKU matching,
invoices by number + customer + date + amount (`sync.reconcile.invoice_key`, one to
one, as `pair_unlinked`) before the first batch, from a key index built while
streaming one side and then only the matching keys of the other. `dry_run` writes
nothing; it plans the whole window in one pass (its report lists every action anyway).

The window is read through the side's own window port (`SidePort.capabilities.window`:
`hubspot.side.window`, `qbo.side.window`); a side without one is read whole through
`read_changes` (`LoadedWindow`, for in-memory fakes).

The package: `rule` (the backfill rule and its window filter), `position` (the keyset
position, page reads, `LoadedWindow`), `windowed` (`WindowedSide`, the engine's view),
`state` (`BackfillState`, the positions in the store, commits in turn order), `pipeline`
(the turns: each lane an engine over `LaneSide` / `LaneState`), `run` (matching existing
invoices, the turns, `backfill_all`).
"""

from ledgerbridge.hubspot.side.window import HubSpotWindow
from ledgerbridge.operations.backfill.position import (
    LoadedWindow,
    Position,
    read_page,
    reader_for,
    stream,
)
from ledgerbridge.operations.backfill.rule import (
    OBJECTS,
    BackfillError,
    backfill_rule,
    window_filter,
    window_of,
    window_start,
)
from ledgerbridge.operations.backfill.run import (
    BackfillResult,
    Progress,
    backfill_all,
    backfill_ports,
    enabled_objects,
)
from ledgerbridge.operations.backfill.state import BackfillState, progress_key
from ledgerbridge.operations.backfill.windowed import FRESH_FOR, WindowedSide
from ledgerbridge.qbo.side.window import QboWindow
from ledgerbridge.sync.window import EPOCH, Entry, Keep, WindowReader, id_order

__all__ = [
    "EPOCH",
    "FRESH_FOR",
    "OBJECTS",
    "BackfillError",
    "BackfillResult",
    "BackfillState",
    "Entry",
    "HubSpotWindow",
    "Keep",
    "LoadedWindow",
    "Position",
    "Progress",
    "QboWindow",
    "WindowReader",
    "WindowedSide",
    "backfill_all",
    "backfill_ports",
    "backfill_rule",
    "enabled_objects",
    "id_order",
    "progress_key",
    "read_page",
    "reader_for",
    "stream",
    "window_filter",
    "window_of",
    "window_start",
]
