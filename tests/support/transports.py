"""httpx transports for tests: count requests, and give up on slow answers like a real client.

`httpx.ASGITransport` waits for the app to finish, so a sandbox that "times out after
commit" (commits, then hangs) would hang the test. `RecordingTransport(inner,
read_timeout=…)` raises `httpx.ReadTimeout` when an answer takes longer, the way a real
client's read timeout does, and cancels the hung app call.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx


class RecordingTransport(httpx.AsyncBaseTransport):
    """Wraps another transport; records every request; optional read timeout."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, read_timeout: float | None = None):
        self.inner = inner
        self.read_timeout = read_timeout
        self.requests: list[httpx.Request] = []
        self.timeouts = 0
        self.statuses: Counter[int] = Counter()

    def count(self, path_suffix: str, method: str | None = None) -> int:
        """Requests whose path ends with `path_suffix` (and with `method`, if given)."""
        return sum(
            1
            for r in self.requests
            if r.url.path.endswith(path_suffix) and (method is None or r.method == method)
        )

    def by_path(self) -> Counter[str]:
        return Counter(r.url.path.rsplit("/", 1)[-1] for r in self.requests)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        try:
            if self.read_timeout is None:
                response = await self.inner.handle_async_request(request)
            else:
                response = await asyncio.wait_for(
                    self.inner.handle_async_request(request), self.read_timeout
                )
        except httpx.TimeoutException:
            self.timeouts += 1
            raise
        except TimeoutError as exc:
            self.timeouts += 1
            raise httpx.ReadTimeout("the test transport's read timeout", request=request) from exc
        self.statuses[response.status_code] += 1
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
