"""What a link may take from a write's answer (`sync.record`): never a change the
engine did not make, so echo detection cannot swallow it.

A link's hash for a side says "the engine has seen this side in this state". Taking
it from a write's answer is right only when the answer holds nothing but the pass's
own view of the record plus the engine's writes:

- A create retried after a crash (same key, `WriteResult.replayed`) may be answered
  with the record as the first try wrote it, without the source's changes since. The
  link's base takes the written values of the fields the create wrote, and the source
  side is marked unseen, so the next pass compares the source with what the target
  really holds and sends the difference as an update (never the old content back).
"""

from __future__ import annotations

from collections.abc import Mapping

from ledgerbridge.sync.actions import Create
from ledgerbridge.sync.mapping import snapshot
from ledgerbridge.sync.model import CanonicalValue, RefIndex, SideRecord
from ledgerbridge.sync.rules import SyncRule

UNSEEN = ""
"""A link hash no snapshot has: the next pass that reads the side takes it as changed."""


def replayed_base(
    rule: SyncRule, refs: RefIndex, action: Create, answered: SideRecord
) -> dict[str, CanonicalValue]:
    """The base of a link made by a replayed create: the planned base, with the values
    the target really holds for the fields the create wrote."""
    held: Mapping[str, CanonicalValue] = snapshot(rule, answered, refs)
    return {**action.link_after.base, **{name: held.get(name) for name in action.fields}}
