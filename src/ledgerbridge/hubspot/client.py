"""`HubSpotClient`: the CRM v3 objects API (CRUD, paging, batch, search, properties)
and associations v4, over one connection's `Session`.

Every method takes a plural object type (`contacts`, `companies`, `deals`,
`quotes`, `products`, `line_items`, `invoices`, `commerce_payments`) or any alias
of one ("contact", "0-1"). Failures are `SyncError`s (see `hubspot.errors`).

Idempotent creates: `upsert_by_unique` writes through `batch/upsert` keyed on a
unique-value property that holds the QuickBooks id (`ledgerbridge_qbo_id` unless
configured otherwise; create it once with `ensure_unique_property`). A write that
HubSpot committed but whose answer was lost is simply retried: the second upsert
finds the record and updates it instead of creating a second one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import httpx

from ledgerbridge.hubspot.associations import AssociationsMixin
from ledgerbridge.hubspot.batch import (
    MAX_BATCH,
    BatchItem,
    BatchResult,
    chunks,
    gather_in_order,
)
from ledgerbridge.hubspot.batch import map_batch_response as _map
from ledgerbridge.hubspot.errors import ConflictError
from ledgerbridge.hubspot.objects import HubSpotRecord, object_type
from ledgerbridge.hubspot.properties import PropertiesMixin
from ledgerbridge.hubspot.search import MAX_SEARCH_RESULTS, Page, SearchMixin, next_after
from ledgerbridge.hubspot.session import DEFAULT_BASE_URL, HubSpotLimits, Session
from ledgerbridge.sync.errors import AuthenticationError, ErrorCategory, SyncError, TerminalError
from ledgerbridge.transport.budget import Sleep
from ledgerbridge.transport.oauth import TokenProvider
from ledgerbridge.transport.retry import RetryPolicy

__all__ = ["DEFAULT_UNIQUE_PROPERTY", "MAX_SEARCH_RESULTS", "HubSpotClient", "Page"]

DEFAULT_UNIQUE_PROPERTY = "ledgerbridge_qbo_id"
Properties = Mapping[str, str]


InlineAssociation = tuple[str, str, int]  # (to object type, to id, HUBSPOT_DEFINED type id)


def _inline(to_obj: str, to_id: str, type_id: int) -> dict[str, Any]:
    """An association in a create body (API-NOTES B1); `to_obj` is implied by the type."""
    spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
    return {"to": {"id": to_id}, "types": [spec]}


def _csv(values: Sequence[str]) -> str:
    return ",".join(values)


class HubSpotClient(AssociationsMixin, SearchMixin, PropertiesMixin):
    """Async HubSpot client for one connection, on an injected `httpx.AsyncClient`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenProvider,
        *,
        base_url: str = DEFAULT_BASE_URL,
        limits: HubSpotLimits | None = None,
        retry: RetryPolicy | None = None,
        unique_property: str = DEFAULT_UNIQUE_PROPERTY,
        batch_size: int = MAX_BATCH,
        page_size: int = 100,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
        self.session = Session(
            http, tokens, base_url=base_url, limits=limits, retry=retry, clock=clock, sleep=sleep
        )
        self.unique_property = unique_property
        self._unique_ready = set()
        self._unique_setting_up = {}
        self.batch_size = batch_size
        self.page_size = page_size

    @property
    def requests(self) -> int:
        """HTTP attempts sent so far (every retry counts)."""
        return self.session.requests

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return await self.session.request(method, path, **kwargs)

    # ------------------------------------------------------------ single records

    async def get(
        self,
        obj: str,
        record_id: str,
        properties: Sequence[str] = (),
        associations: Sequence[str] = (),
        *,
        id_property: str | None = None,
        archived: bool = False,
    ) -> HubSpotRecord:
        params = {"archived": "true" if archived else "false"}
        if properties:
            params["properties"] = _csv(properties)
        if associations:
            params["associations"] = _csv([object_type(a) for a in associations])
        if id_property:
            params["idProperty"] = id_property
        body = await self._call(
            "GET", f"/crm/v3/objects/{object_type(obj)}/{record_id}", params=params
        )
        return HubSpotRecord.from_api(body)

    async def create(
        self,
        obj: str,
        properties: Properties,
        associations: Sequence[Mapping[str, Any]] = (),
    ) -> HubSpotRecord:
        """Create one record. Not idempotent: prefer `upsert_by_unique` for synced records."""
        body: dict[str, Any] = {"properties": dict(properties)}
        if associations:
            body["associations"] = list(associations)
        answer = await self._call("POST", f"/crm/v3/objects/{object_type(obj)}", json=body)
        return HubSpotRecord.from_api(answer)

    async def update(
        self,
        obj: str,
        record_id: str,
        properties: Properties,
        *,
        id_property: str | None = None,
    ) -> HubSpotRecord:
        params = {"idProperty": id_property} if id_property else None
        answer = await self._call(
            "PATCH",
            f"/crm/v3/objects/{object_type(obj)}/{record_id}",
            params=params,
            json={"properties": dict(properties)},
        )
        return HubSpotRecord.from_api(answer)

    async def archive(self, obj: str, record_id: str) -> None:
        """Move a record to the recycle bin (HubSpot answers 204 for unknown ids too)."""
        await self._call("DELETE", f"/crm/v3/objects/{object_type(obj)}/{record_id}")

    async def list_all(
        self,
        obj: str,
        properties: Sequence[str] = (),
        associations: Sequence[str] = (),
        *,
        archived: bool = False,
    ) -> AsyncIterator[HubSpotRecord]:
        """Every record (or every archived one), following `paging.next.after`."""
        params = {"limit": str(self.page_size), "archived": "true" if archived else "false"}
        if properties:
            params["properties"] = _csv(properties)
        if associations:
            params["associations"] = _csv([object_type(a) for a in associations])
        path = f"/crm/v3/objects/{object_type(obj)}"
        after: str | None = None
        seen: set[str] = set()
        while True:
            page = dict(params, after=after) if after else params
            body = await self._call("GET", path, params=page)
            for raw in body.get("results", []):
                yield HubSpotRecord.from_api(raw)
            after = next_after(body)
            if after is None:
                return
            if after in seen:  # a server that repeats a cursor would loop forever
                raise TerminalError(ErrorCategory.UNKNOWN, f"paging of {path} repeated {after!r}")
            seen.add(after)

    # ------------------------------------------------------------ batches

    async def _batch(
        self,
        obj: str,
        action: str,
        inputs: Sequence[Mapping[str, Any]],
        extra: Mapping[str, Any] | None = None,
        *,
        id_property: str | None = None,
        size: int | None = None,
        isolate: bool = False,
    ) -> BatchResult:
        """One request per chunk of ≤100 inputs, sent concurrently (the session's
        budget paces them); the items come back in input order.

        A chunk whose request fails as a whole: by default the first such failure
        (in chunk order) is raised once every chunk has finished; with `isolate`,
        the failure becomes the error of each input of that chunk only, and the
        other chunks keep their answers. An `AuthenticationError` is always raised.
        """
        path = f"/crm/v3/objects/{object_type(obj)}/batch/{action}"
        parts = list(chunks(inputs, size or self.batch_size))
        offsets = [sum(len(p) for p in parts[:i]) for i in range(len(parts))]

        async def one(chunk: Sequence[Mapping[str, Any]], offset: int) -> list[BatchItem]:
            body = await self._call("POST", path, json={**(extra or {}), "inputs": list(chunk)})
            return _map(chunk, body, id_property=id_property, offset=offset)

        answers = await gather_in_order(
            [one(chunk, offset) for chunk, offset in zip(parts, offsets, strict=True)]
        )
        for answer in answers:
            if isinstance(answer, AuthenticationError):
                raise answer
        items: list[BatchItem] = []
        for chunk, offset, answer in zip(parts, offsets, answers, strict=True):
            if not isinstance(answer, SyncError):
                items.extend(answer)
            elif isolate:
                items.extend(BatchItem(offset + i, error=answer) for i in range(len(chunk)))
            else:
                raise answer
        return BatchResult(tuple(items))

    async def batch_read(
        self,
        obj: str,
        ids: Sequence[str],
        properties: Sequence[str] = (),
        *,
        id_property: str | None = None,
        isolate: bool = False,
    ) -> BatchResult:
        """Records by id (or by a unique property); missing ones are NOT_FOUND errors."""
        extra: dict[str, Any] = {"properties": list(properties)}
        if id_property:
            extra["idProperty"] = id_property
        inputs = [{"id": i} for i in ids]
        return await self._batch(
            obj, "read", inputs, extra, id_property=id_property, isolate=isolate
        )

    async def batch_create(
        self,
        obj: str,
        inputs: Sequence[Properties],
        associations: Sequence[Sequence[Mapping[str, Any]]] | None = None,
        *,
        id_property: str | None = None,
        isolate: bool = False,
    ) -> BatchResult:
        """Create records, ≤100 per request. Not idempotent: see `create_by_unique`.

        `id_property`: a unique property every input sets; answers are matched to
        inputs on its value."""
        bodies: list[dict[str, Any]] = []
        for i, properties in enumerate(inputs):
            body: dict[str, Any] = {
                "properties": dict(properties),
                "objectWriteTraceId": str(i % self.batch_size),
            }
            if associations is not None and associations[i]:
                body["associations"] = list(associations[i])
            bodies.append(body)
        return await self._batch(obj, "create", bodies, id_property=id_property, isolate=isolate)

    async def create_by_unique(
        self,
        obj: str,
        inputs: Sequence[tuple[str, Properties, Sequence[InlineAssociation]]],
    ) -> BatchResult:
        """Idempotent create with the associations inline (one request per 100).

        `inputs` are (key, properties, associations): the key is written to our
        unique property, each association (to object, to id, HUBSPOT_DEFINED type
        id from `obj`) goes in the create body. HubSpot's batch upsert takes no
        associations, so this is a batch create: a replayed create (a lost answer,
        a crash before the link was saved) meets a 409 on the unique property.
        Those inputs, and the inputs of a chunk refused as a whole with a 409, are
        then upserted on the key and associated by separate calls (only then do
        they cost more requests). Items: `created` True for a record made by the
        create, False for one that existed. Failures are per input, never raised
        (except `AuthenticationError`).
        """
        unique = self.unique_property
        bodies = [{**props, unique: key} for key, props, _ in inputs]
        inline = [[_inline(*a) for a in assocs] for _, _, assocs in inputs]
        result = await self.batch_create(obj, bodies, inline, id_property=unique, isolate=True)
        items = [
            dataclasses.replace(item, created=True) if item.record is not None else item
            for item in result.items
        ]
        replayed = [i for i, item in enumerate(items) if isinstance(item.error, ConflictError)]
        if not replayed:
            return BatchResult(tuple(items))
        again = await self.batch_upsert(
            obj, unique, [(inputs[i][0], inputs[i][1]) for i in replayed], isolate=True
        )
        for i, item in zip(replayed, again.items, strict=True):
            items[i] = dataclasses.replace(item, index=i, created=False)
        pairs: dict[tuple[str, int], list[tuple[int, str, str]]] = {}
        for i in replayed:
            record = items[i].record
            if record is None:
                continue
            for to_obj, to_id, type_id in inputs[i][2]:
                pairs.setdefault((to_obj, type_id), []).append((i, record.id, to_id))
        groups = list(pairs.items())
        outcomes = await gather_in_order(
            [
                self.batch_associate(obj, to_obj, [(f, t) for _, f, t in todo], type_id)
                for (to_obj, type_id), todo in groups
            ]
        )
        for (_, todo), outcome in zip(groups, outcomes, strict=True):
            if isinstance(outcome, AuthenticationError):
                raise outcome
            errors = [outcome] * len(todo) if isinstance(outcome, SyncError) else outcome
            for (i, _, _), error in zip(todo, errors, strict=True):
                if error is not None and items[i].error is None:
                    items[i] = BatchItem(i, error=error)
        return BatchResult(tuple(items))

    async def batch_update(
        self,
        obj: str,
        inputs: Sequence[tuple[str, Properties]],
        *,
        id_property: str | None = None,
        isolate: bool = False,
    ) -> BatchResult:
        bodies: list[dict[str, Any]] = []
        for record_id, properties in inputs:
            body: dict[str, Any] = {"id": record_id, "properties": dict(properties)}
            if id_property:
                body["idProperty"] = id_property
            bodies.append(body)
        return await self._batch(obj, "update", bodies, id_property=id_property, isolate=isolate)

    async def batch_upsert(
        self,
        obj: str,
        id_property: str,
        inputs: Sequence[tuple[str, Properties]],
        *,
        isolate: bool = False,
    ) -> BatchResult:
        """Create or update by a unique-value property; `created` says which happened."""
        bodies = [
            {
                "id": key,
                "idProperty": id_property,
                "properties": {**properties, id_property: key},
                "objectWriteTraceId": str(i % self.batch_size),
            }
            for i, (key, properties) in enumerate(inputs)
        ]
        return await self._batch(obj, "upsert", bodies, id_property=id_property, isolate=isolate)

    async def batch_archive(self, obj: str, ids: Sequence[str]) -> None:
        await self._batch(obj, "archive", [{"id": i} for i in ids])

    async def upsert_by_unique(
        self,
        obj: str,
        inputs: Sequence[tuple[str, Properties]],
        id_property: str | None = None,
        *,
        isolate: bool = False,
    ) -> BatchResult:
        """Idempotent create-or-update keyed on our unique property (the QBO id).

        `inputs` are (QBO id, properties). Retrying after a lost answer never
        creates a second record. A 409 on another unique property comes back as
        a per-input `ConflictError` naming the record that holds the value.
        """
        return await self.batch_upsert(
            obj, id_property or self.unique_property, inputs, isolate=isolate
        )
