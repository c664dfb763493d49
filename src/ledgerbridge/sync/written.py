"""What a link may take from a write's answer (`sync.record`): never a change the
engine did not make, so echo detection cannot swallow it.

A link's hash for a side says "the engine has seen this side in this state". Taking
it from a write's answer is right only when the answer holds nothing but the pass's
own view of the record plus the engine's writes:

- An update's answer can also carry a user's edit made between the pass's read and
  its write (HubSpot has no conditional writes; the answer includes the edit). The
  fields the engine did not write then differ from the record as the pass read it,
  and the link takes the hash the plan intended instead, so the next pass sees the
  side as changed, reads it again and merges the edit.
- A create retried after a crash (same key, `WriteResult.replayed`) may be answered
  with the record as the first try wrote it, without the source's changes since. The
  link's base takes the written values of the fields the create wrote, and the source
  side is marked unseen, so the next pass compares the source with what the target
  really holds and sends the difference as an update (never the old content back).
"""

from __future__ import annotations

from collections.abc import Mapping

from ledgerbridge.sync.actions import Create, Fields
from ledgerbridge.sync.mapping import snapshot
from ledgerbridge.sync.model import CanonicalValue, RefIndex, SideRecord
from ledgerbridge.sync.rules import SyncRule

UNSEEN = ""
"""A link hash no snapshot has: the next pass that reads the side takes it as changed."""


def edited_meanwhile(
    rule: SyncRule,
    refs: RefIndex,
    before: SideRecord | None,
    answered: SideRecord,
    written: Fields,
) -> bool:
    """Whether `answered` (an update's answer) differs from `before` (the record as
    the pass read it) in a field the update did not write: someone else's edit."""
    if before is None:
        return False
    old = snapshot(rule, before, refs)
    new = snapshot(rule, answered, refs)
    return any(new.get(name) != old.get(name) for name in new if name not in written)


def replayed_base(
    rule: SyncRule, refs: RefIndex, action: Create, answered: SideRecord
) -> dict[str, CanonicalValue]:
    """The base of a link made by a replayed create: the planned base, with the values
    the target really holds for the fields the create wrote."""
    held: Mapping[str, CanonicalValue] = snapshot(rule, answered, refs)
    return {**action.link_after.base, **{name: held.get(name) for name in action.fields}}
