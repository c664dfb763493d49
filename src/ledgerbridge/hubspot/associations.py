"""Associations v4 for `HubSpotClient`: default and typed, single and batch, batch read.

* `associate_default` → `PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}`
* `batch_associate` → `POST /crm/v4/associations/{from}/{to}/batch/associate/default`
  (or `…/batch/create` with an explicit HUBSPOT_DEFINED type id), ≤100 pairs a call.
  Returns, per pair, None or the `SyncError` that stopped it.
* `remove_association` → `DELETE /crm/v4/objects/{from}/{id}/associations/{to}/{toId}`
* `batch_read_associations` → `…/batch/read`, ≤1000 ids a call, following each
  result's `paging.next.after`; "no associations found" is an empty list, not an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from ledgerbridge.hubspot.batch import chunks, gather_in_order
from ledgerbridge.hubspot.errors import error_from_standard_error
from ledgerbridge.hubspot.objects import ASSOCIATION_TYPE_IDS, object_type
from ledgerbridge.sync.errors import AuthenticationError, ErrorCategory, SyncError, TerminalError

__all__ = ["ASSOCIATION_BATCH", "ASSOCIATION_READ_BATCH", "AssociationsMixin"]

ASSOCIATION_BATCH = 100
ASSOCIATION_READ_BATCH = 1000
T = TypeVar("T")


def _pair_key(from_id: Any, to_id: Any) -> tuple[str, str]:
    return str(from_id), str(to_id)


def _confirmed(results: Sequence[Mapping[str, Any]]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for item in results:
        if "fromObjectId" in item:
            out.add(_pair_key(item["fromObjectId"], item.get("toObjectId")))
        elif isinstance(item.get("from"), Mapping) and isinstance(item.get("to"), Mapping):
            out.add(_pair_key(item["from"].get("id"), item["to"].get("id")))
    return out


def _error_ids(raw: Mapping[str, Any]) -> set[str]:
    ids = {str(raw["id"])} if raw.get("id") is not None else set()
    context = raw.get("context")
    if isinstance(context, Mapping):
        for key in ("fromObjectId", "ids", "id"):
            values = context.get(key)
            if isinstance(values, list):
                ids.update(str(v) for v in values)
    return ids


def _first_failure(answers: Sequence[T | SyncError]) -> list[T]:
    """Every chunk's answer; when some chunk failed, its error (an
    `AuthenticationError` first, else the first in chunk order) is raised."""
    failures = [a for a in answers if isinstance(a, SyncError)]
    for failure in failures:
        if isinstance(failure, AuthenticationError):
            raise failure
    if failures:
        raise failures[0]
    return [a for a in answers if not isinstance(a, SyncError)]


class AssociationsMixin:
    """Association operations; the concrete client supplies `_call`."""

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def associate_default(self, from_obj: str, from_id: str, to_obj: str, to_id: str) -> None:
        """Create the default (unlabelled) association between two records."""
        a, b = object_type(from_obj), object_type(to_obj)
        await self._call("PUT", f"/crm/v4/objects/{a}/{from_id}/associations/default/{b}/{to_id}")

    async def remove_association(
        self, from_obj: str, from_id: str, to_obj: str, to_id: str
    ) -> None:
        """Remove every association between two records (HubSpot answers 204)."""
        a, b = object_type(from_obj), object_type(to_obj)
        await self._call("DELETE", f"/crm/v4/objects/{a}/{from_id}/associations/{b}/{to_id}")

    async def batch_associate(
        self,
        from_obj: str,
        to_obj: str,
        pairs: Sequence[tuple[str, str]],
        type_id: int | None = None,
    ) -> list[SyncError | None]:
        """Associate (from id, to id) pairs; per pair, None or why it failed.

        Without `type_id`, the default association; with it, that HUBSPOT_DEFINED type.
        """
        a, b = object_type(from_obj), object_type(to_obj)
        base = f"/crm/v4/associations/{a}/{b}/batch"

        async def one(chunk: Sequence[tuple[str, str]]) -> list[SyncError | None]:
            outcome: list[SyncError | None] = []
            if type_id is None:
                inputs: list[dict[str, Any]] = [
                    {"from": {"id": f}, "to": {"id": t}} for f, t in chunk
                ]
                path = f"{base}/associate/default"
            else:
                spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
                inputs = [{"from": {"id": f}, "to": {"id": t}, "types": [spec]} for f, t in chunk]
                path = f"{base}/create"
            body = await self._call("POST", path, json={"inputs": inputs}) or {}
            done = _confirmed(body.get("results") or [])
            failures: dict[str, SyncError] = {}
            for raw in body.get("errors") or []:
                for key in _error_ids(raw):
                    failures.setdefault(key, error_from_standard_error(raw))
            for f, t in chunk:
                if _pair_key(f, t) in done:
                    outcome.append(None)
                else:
                    outcome.append(
                        failures.get(str(f))
                        or TerminalError(
                            ErrorCategory.UNKNOWN,
                            f"HubSpot did not confirm the association {a} {f} → {b} {t}",
                        )
                    )
            return outcome

        answers = await gather_in_order([one(chunk) for chunk in chunks(pairs, ASSOCIATION_BATCH)])
        return [error for outcome in _first_failure(answers) for error in outcome]

    async def batch_read_associations(
        self, from_obj: str, to_obj: str, ids: Sequence[str]
    ) -> dict[str, list[str]]:
        """from id → associated `to_obj` ids (every id of `ids` is a key)."""
        a, b = object_type(from_obj), object_type(to_obj)
        path = f"/crm/v4/associations/{a}/{b}/batch/read"
        found: dict[str, list[str]] = {str(i): [] for i in ids}
        pending: list[dict[str, str]] = [{"id": str(i)} for i in dict.fromkeys(ids)]
        while pending:
            follow: list[dict[str, str]] = []
            bodies = _first_failure(
                await gather_in_order(
                    [
                        self._call("POST", path, json={"inputs": list(chunk)})
                        for chunk in chunks(pending, ASSOCIATION_READ_BATCH)
                    ]
                )
            )
            for answer in bodies:
                body = answer or {}
                for raw in body.get("errors") or []:
                    error = error_from_standard_error(raw)
                    if error.category is not ErrorCategory.NOT_FOUND:
                        raise error  # NOT_FOUND: no associations (or no such record)
                for result in body.get("results") or []:
                    from_id = str((result.get("from") or {}).get("id"))
                    targets = found.setdefault(from_id, [])
                    for to in result.get("to") or []:
                        to_id = str(to.get("toObjectId"))
                        if to_id not in targets:
                            targets.append(to_id)
                    paging = result.get("paging") or {}
                    after = (paging.get("next") or {}).get("after")
                    if after:
                        follow.append({"id": from_id, "after": str(after)})
            pending = follow
        return found

    @staticmethod
    def association_type_id(from_obj: str, to_obj: str) -> int:
        """The HUBSPOT_DEFINED default type id from one object type to another."""
        key = (object_type(from_obj), object_type(to_obj))
        if key not in ASSOCIATION_TYPE_IDS:
            raise ValueError(f"no default association type from {key[0]} to {key[1]}")
        return ASSOCIATION_TYPE_IDS[key]
