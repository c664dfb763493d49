"""CRM search (`HubSpotClient.search_page`, `search`): one page, or every match up to
HubSpot's 10,000-result cap."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from ledgerbridge.hubspot.errors import SearchLimitError
from ledgerbridge.hubspot.objects import HubSpotRecord, object_type
from ledgerbridge.sync.errors import ErrorCategory

MAX_SEARCH_RESULTS = 10_000
Page = tuple[int, list[HubSpotRecord], str | None]  # (total, records, next after)


def next_after(body: Mapping[str, Any]) -> str | None:
    paging = body.get("paging")
    nxt = paging.get("next") if isinstance(paging, Mapping) else None
    after = nxt.get("after") if isinstance(nxt, Mapping) else None
    return str(after) if after not in (None, "") else None


class SearchMixin:
    """Search operations; the concrete client supplies `_call`."""

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def search_page(
        self,
        obj: str,
        filter_groups: Sequence[Mapping[str, Any]] = (),
        sorts: Sequence[Mapping[str, Any] | str] = (),
        properties: Sequence[str] = (),
        *,
        limit: int = 200,
        after: str | None = None,
        query: str | None = None,
    ) -> Page:
        """One search request: (total, records, next `after` or None)."""
        body: dict[str, Any] = {
            "filterGroups": list(filter_groups),
            "sorts": list(sorts),
            "properties": list(properties),
            "limit": limit,
        }
        if after:
            body["after"] = after
        if query:
            body["query"] = query
        answer = await self._call(
            "POST", f"/crm/v3/objects/{object_type(obj)}/search", json=body, search=True
        )
        records = [HubSpotRecord.from_api(raw) for raw in answer.get("results", [])]
        return int(answer.get("total", len(records))), records, next_after(answer)

    async def search(
        self,
        obj: str,
        filter_groups: Sequence[Mapping[str, Any]] = (),
        sorts: Sequence[Mapping[str, Any] | str] = (),
        properties: Sequence[str] = (),
        *,
        limit: int = 200,
        query: str | None = None,
    ) -> AsyncIterator[HubSpotRecord]:
        """Every match, page by page. HubSpot serves at most 10,000 results per query:
        when there are more, `SearchLimitError` is raised after the 10,000th (use
        `changes.read_changes`, which slices by time, or narrower filters)."""
        after: str | None = None
        fetched = 0
        while True:
            page_limit = limit
            if after is not None and after.isdigit():
                page_limit = min(limit, MAX_SEARCH_RESULTS - int(after))
            total, records, after = await self.search_page(
                obj, filter_groups, sorts, properties, limit=page_limit, after=after, query=query
            )
            for record in records:
                yield record
            fetched += len(records)
            if after is None or not records:
                break
            if after.isdigit() and int(after) >= MAX_SEARCH_RESULTS:
                break
        if total > fetched and fetched >= MAX_SEARCH_RESULTS:
            raise SearchLimitError(
                ErrorCategory.VALIDATION,
                f"search on {obj} matched {total} records; HubSpot serves only "
                f"{MAX_SEARCH_RESULTS} per query",
            )
