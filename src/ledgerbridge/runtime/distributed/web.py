"""The web process of the distributed runtime: status page and webhooks; passes are deferred.

`serve_web(settings)` is what `ledgerbridge run` does when `runtime = "distributed"`: the
same web app and webhook endpoints as the embedded runtime, but a webhook's `wake` asks
for a pass in the queue (`Deferrer.wake`) instead of running it here, and at start one
pass of every active connection is asked for (as the embedded runtime passes at start).
The workers (`ledgerbridge worker`) run them.
"""

from __future__ import annotations

from collections.abc import Callable

from ledgerbridge.runtime.distributed.tasks import active_ids
from ledgerbridge.runtime.distributed.worker import open_distributed
from ledgerbridge.serving import Served, serve_all
from ledgerbridge.settings import Settings
from ledgerbridge.store.directory import StoreDirectory
from ledgerbridge.web.app import create_web_app
from ledgerbridge.web.webhooks import WebhookSecrets, webhook_router

__all__ = ["serve_web"]


async def serve_web(
    settings: Settings,
    secrets: WebhookSecrets,
    *,
    extra: list[Served] | None = None,
    started: Callable[[], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (`serve_all`), then close the queue."""
    import asyncio

    queue = await open_distributed(settings, pool_max=5)
    try:
        directory = StoreDirectory(queue.store)
        router = webhook_router(directory=directory, wake=queue.deferrer.wake, secrets=secrets)
        web = create_web_app(queue.store, routers=[router])
        ids = await asyncio.to_thread(active_ids, queue.store)
        await queue.deferrer.request_all(ids)
        await serve_all(
            [*(extra or []), Served(web, settings.host, settings.port, "web")], started=started
        )
        await queue.deferrer.drain()
    finally:
        await queue.aclose()
