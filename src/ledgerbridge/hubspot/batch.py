"""Batch plumbing (pure): chunks of at most 100 inputs, and 207 answers mapped per input.

HubSpot answers a batch with `results` (records) and, on partial failure, HTTP 207
with `errors` (`StandardError`s). Neither list is documented to follow input order,
so each answer is tied back to its input by, in this order:

1. `objectWriteTraceId`: every create/upsert input carries one (its index in the
   chunk); HubSpot echoes it on results and in an error's `context`;
2. the input key: a result's `id` (read/update by id), or its `idProperty` value
   (upsert, read by a unique property, or a create whose properties carry the
   unique property); an error's `id` or `context.ids`;
3. content: a result whose returned property values agree with exactly one input;
4. position: results (or errors) left over are matched, in order, with the inputs
   left over when only one kind is left over and the counts agree (the sandbox and
   HubSpot keep input order).

An input that still has no answer gets a `TerminalError(UNKNOWN)`: we do not
know whether HubSpot applied it (callers that write idempotently may retry it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ledgerbridge.hubspot.errors import error_from_standard_error
from ledgerbridge.hubspot.objects import HubSpotRecord
from ledgerbridge.sync.errors import ErrorCategory, SyncError, TerminalError

__all__ = [
    "MAX_BATCH",
    "BatchItem",
    "BatchResult",
    "chunks",
    "gather_in_order",
    "map_batch_response",
]

MAX_BATCH = 100
T = TypeVar("T")


def chunks(items: Sequence[T], size: int = MAX_BATCH) -> Iterator[Sequence[T]]:
    """`items` in slices of at most `size` (HubSpot batch endpoints take ≤ 100)."""
    if size < 1:
        raise ValueError("chunk size must be positive")
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def gather_in_order(
    calls: Sequence[Coroutine[Any, Any, T]],
) -> list[T | SyncError]:
    """Run independent calls (e.g. the chunks of one batch) concurrently; each one's
    answer, or the `SyncError` it failed with, in the order of `calls`.

    The calls only start requests: the connection's rate budget (concurrency cap and
    windows) decides when each is sent. Any other exception cancels the calls still
    running and is raised (so a bug or a cancellation never leaves requests behind).
    """

    async def caught(call: Coroutine[Any, Any, T]) -> T | SyncError:
        try:
            return await call
        except SyncError as error:
            return error

    if len(calls) == 1:
        return [await caught(calls[0])]
    tasks = [asyncio.ensure_future(caught(call)) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


@dataclass(frozen=True, slots=True)
class BatchItem:
    """What happened to one input: a record, or an error (never both)."""

    index: int
    record: HubSpotRecord | None = None
    error: SyncError | None = None
    created: bool | None = None  # upsert: True when the record was new

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Per-input outcomes of a (possibly chunked) batch call, in input order."""

    items: tuple[BatchItem, ...]

    @property
    def records(self) -> list[HubSpotRecord]:
        return [item.record for item in self.items if item.record is not None]

    @property
    def errors(self) -> list[tuple[int, SyncError]]:
        return [(item.index, item.error) for item in self.items if item.error is not None]

    @property
    def all_ok(self) -> bool:
        return all(item.ok for item in self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> BatchItem:
        return self.items[index]


def _strings(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if value is None:
        return []
    return [str(value)]


def _error_indices(
    item: Mapping[str, Any],
    traces: Mapping[str, int],
    keys: Mapping[str, list[int]],
) -> list[int]:
    context = item.get("context")
    context = context if isinstance(context, Mapping) else {}
    found: list[int] = []
    for trace in _strings(context.get("objectWriteTraceId")) + _strings(
        item.get("objectWriteTraceId")
    ):
        if trace in traces:
            found.append(traces[trace])
    if found:
        return found
    candidates = (
        _strings(item.get("id"))
        + _strings(context.get("ids"))
        + _strings(context.get("fromObjectId"))
    )
    for key in candidates:
        found.extend(keys.get(key, []))
    return sorted(set(found))


def _agrees(record: HubSpotRecord, inp: Mapping[str, Any]) -> bool:
    """The result's returned values equal the input's on every property both carry."""
    wanted = inp.get("properties")
    if not isinstance(wanted, Mapping):
        return False
    common = [k for k, v in wanted.items() if v not in (None, "") and record.get(k) is not None]
    return bool(common) and all(record.get(k) == str(wanted[k]) for k in common)


@dataclass(slots=True)
class _Placed:
    """What each input of one batch call got so far: a record (and whether it was new) or
    an error; none yet while the input is `free`."""

    records: list[HubSpotRecord | None]
    created: list[bool | None]
    errors: list[SyncError | None]

    @classmethod
    def empty(cls, n: int) -> _Placed:
        return cls([None] * n, [None] * n, [None] * n)

    def free(self, i: int) -> bool:
        return self.records[i] is None and self.errors[i] is None

    def record(self, i: int, record: HubSpotRecord, is_new: bool | None) -> None:
        self.records[i], self.created[i] = record, is_new


Stray = tuple[HubSpotRecord, bool | None]


def _input_keys(
    inputs: Sequence[Mapping[str, Any]], id_property: str | None
) -> tuple[dict[str, int], dict[str, list[int]]]:
    """(write trace id → input, key → inputs): the id, else the `id_property` value."""
    traces = {
        str(inp["objectWriteTraceId"]): i
        for i, inp in enumerate(inputs)
        if inp.get("objectWriteTraceId") is not None
    }
    keys: dict[str, list[int]] = {}
    for i, inp in enumerate(inputs):
        if inp.get("id") is not None:
            keys.setdefault(str(inp["id"]), []).append(i)
        elif id_property is not None:  # a create: its key is among its properties
            props = inp.get("properties")
            value = props.get(id_property) if isinstance(props, Mapping) else None
            if value not in (None, ""):
                keys.setdefault(str(value), []).append(i)
    return traces, keys


def _place_errors(
    placed: _Placed, body: Mapping[str, Any], traces: dict[str, int], keys: dict[str, list[int]]
) -> list[SyncError]:
    """Give each error to the inputs it names; the ones naming none are returned."""
    stray: list[SyncError] = []
    for raw in body.get("errors") or []:
        error = error_from_standard_error(raw)
        indices = [i for i in _error_indices(raw, traces, keys) if placed.free(i)]
        if not indices:
            stray.append(error)
        for i in indices:
            placed.errors[i] = error
    return stray


def _place_results(
    placed: _Placed,
    body: Mapping[str, Any],
    traces: dict[str, int],
    keys: dict[str, list[int]],
    id_property: str | None,
) -> list[Stray]:
    """Give each result to its input (by write trace id, else by key); the ones that
    match none are returned."""
    stray: list[Stray] = []
    for raw in body.get("results") or []:
        record = HubSpotRecord.from_api(raw)
        is_new = raw.get("new") if isinstance(raw.get("new"), bool) else None
        trace = raw.get("objectWriteTraceId")
        if trace is not None and str(trace) in traces and placed.free(traces[str(trace)]):
            indices = [traces[str(trace)]]
        else:
            key = record.get(id_property) if id_property else record.id
            indices = [i for i in keys.get(key or "", []) if placed.free(i)]
        if not indices:
            stray.append((record, is_new))
        for i in indices:
            placed.record(i, record, is_new)
    return stray


def _place_strays(
    placed: _Placed,
    inputs: Sequence[Mapping[str, Any]],
    stray_results: Sequence[Stray],
    stray_errors: Sequence[SyncError],
) -> None:
    """The answers no id placed: by agreeing values, else one to one when only results
    (or only errors) are left and their count is the inputs left; else an error."""
    left = [i for i in range(len(inputs)) if placed.free(i)]
    unplaced: list[Stray] = []
    for record, is_new in stray_results:
        matches = [i for i in left if _agrees(record, inputs[i])]
        if len(matches) == 1:
            placed.record(matches[0], record, is_new)
            left.remove(matches[0])
        else:
            unplaced.append((record, is_new))
    if unplaced and not stray_errors and len(unplaced) == len(left):
        for i, (record, is_new) in zip(left, unplaced, strict=True):
            placed.record(i, record, is_new)
        left = []
    elif stray_errors and not unplaced and len(stray_errors) == len(left):
        for i, error in zip(left, stray_errors, strict=True):
            placed.errors[i] = error
        left = []
    for i in left:
        placed.errors[i] = TerminalError(
            ErrorCategory.UNKNOWN,
            "HubSpot's batch answer did not say what happened to this input"
            + (f"; unmatched errors: {[str(e) for e in stray_errors]}" if stray_errors else ""),
        )


def map_batch_response(
    inputs: Sequence[Mapping[str, Any]],
    body: Mapping[str, Any] | None,
    *,
    id_property: str | None = None,
    offset: int = 0,
) -> list[BatchItem]:
    """Tie each answer of one batch call back to its input (see the module docs).

    `id_property`: results are matched on this property's value instead of their
    `id` (upsert; read or update by a unique property). `offset` is added to indices.
    """
    body = body or {}
    placed = _Placed.empty(len(inputs))
    traces, keys = _input_keys(inputs, id_property)
    stray_errors = _place_errors(placed, body, traces, keys)
    stray_results = _place_results(placed, body, traces, keys, id_property)
    _place_strays(placed, inputs, stray_results, stray_errors)
    return [
        BatchItem(offset + i, placed.records[i], placed.errors[i], placed.created[i])
        for i in range(len(inputs))
    ]
