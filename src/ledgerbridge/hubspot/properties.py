"""CRM property definitions (`HubSpotClient.ensure_property`): read, created on first
need, and our unique-value property that holds the QuickBooks id."""

from __future__ import annotations

import asyncio
from typing import Any

from ledgerbridge.hubspot.errors import ConflictError
from ledgerbridge.hubspot.objects import object_type
from ledgerbridge.sync.errors import ErrorCategory, SyncError, TerminalError


class PropertiesMixin:
    """Property operations; the concrete client supplies `_call` and `unique_property`."""

    unique_property: str
    _unique_ready: set[str]
    _unique_setting_up: dict[str, asyncio.Lock]

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def ensure_property(
        self,
        obj: str,
        name: str,
        label: str,
        type: str = "string",
        field_type: str = "text",
        has_unique_value: bool = False,
        *,
        group_name: str | None = None,
        description: str = "",
    ) -> dict[str, Any]:
        """The property's definition, creating it first if it does not exist (reads first,
        so calling it again costs one GET). A property that exists with a different
        `hasUniqueValue` is a `TerminalError`: HubSpot cannot change it afterwards."""
        kind = object_type(obj)
        path = f"/crm/v3/properties/{kind}"
        existing = await self._read_property(path, name)
        if existing is None:
            if group_name is None:
                groups = await self._call("GET", f"{path}/groups")
                names = [str(g.get("name")) for g in groups.get("results", []) if g.get("name")]
                group_name = names[0] if names else f"{kind.rstrip('s')}information"
            definition = {
                "name": name,
                "label": label,
                "type": type,
                "fieldType": field_type,
                "groupName": group_name,
                "description": description,
                "hasUniqueValue": has_unique_value,
            }
            try:
                existing = await self._call("POST", path, json=definition)
            except ConflictError:  # created meanwhile by another worker
                existing = await self._read_property(path, name)
            if existing is None:
                raise TerminalError(ErrorCategory.UNKNOWN, f"property {name} vanished on {kind}")
        if bool(existing.get("hasUniqueValue", False)) != has_unique_value:
            raise TerminalError(
                ErrorCategory.VALIDATION,
                f"property {name} on {kind} exists with hasUniqueValue="
                f"{existing.get('hasUniqueValue')}; HubSpot cannot change that",
            )
        result: dict[str, Any] = existing
        return result

    async def list_properties(self, obj: str) -> list[dict[str, Any]]:
        """Every property definition of `obj` (HubSpot's and the portal's custom ones)."""
        body = await self._call("GET", f"/crm/v3/properties/{object_type(obj)}")
        return [p for p in body.get("results", []) if isinstance(p, dict)]

    async def ensure_unique_property(self, obj: str) -> dict[str, Any]:
        """Our unique-value property that holds the QuickBooks id, on `obj`."""
        return await self.ensure_property(
            obj,
            self.unique_property,
            "QuickBooks ID (ledgerbridge)",
            has_unique_value=True,
            description="The id of the linked QuickBooks record; written by ledgerbridge.",
        )

    async def unique_property_ready(self, obj: str) -> None:
        """`ensure_unique_property` once per object type for this client: callers that
        write at the same time (a backfill's concurrent objects, its pipelined turns, the
        set-up done ahead by `HubSpotPort.prepare_writes`) wait for the first one's
        set-up instead of repeating it. A failed set-up is not remembered: the next
        caller tries again (and raises the error where it writes)."""
        kind = object_type(obj)
        async with self._unique_setting_up.setdefault(kind, asyncio.Lock()):
            if kind not in self._unique_ready:
                await self.ensure_unique_property(kind)
                self._unique_ready.add(kind)

    async def _read_property(self, path: str, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await self._call("GET", f"{path}/{name}")
        except SyncError as error:
            if error.category is ErrorCategory.NOT_FOUND:
                return None
            raise
        return found
