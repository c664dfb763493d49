"""The web process of the distributed runtime: dashboard, webhooks and workflow actions;
the passes are queued, not run here.

`serve_web(settings, secrets)` is what `ledgerbridge run` does when `runtime =
"distributed"`: the same web app, webhook endpoints and workflow-action endpoint as the
embedded runtime, but a webhook's `wake` asks for a pass in the queue (`Deferrer.wake`)
instead of running it here, and at start one pass of every active connection is asked for
(as the embedded runtime passes at start). The workers (`ledgerbridge worker`) run them,
and associate the workflow documents their passes synced (R-WF-4).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

from ledgerbridge.runtime.distributed.tasks import active_ids
from ledgerbridge.runtime.distributed.worker import Queue, open_distributed
from ledgerbridge.runtime.workflow_actions import register_at_start, wire_actions
from ledgerbridge.serving import Served, serve_all
from ledgerbridge.settings import Settings
from ledgerbridge.store.directory import StoreDirectory
from ledgerbridge.web.api_rules import rules_router, settings_accounts
from ledgerbridge.web.app import create_web_app
from ledgerbridge.web.auth import WebSecurity, configured_host_names
from ledgerbridge.web.pages.common import DashboardContext
from ledgerbridge.web.webhooks import WebhookSecrets, webhook_router

__all__ = ["PassesElsewhere", "serve_web", "web_app"]


class PassesElsewhere:
    """The runtime the workflow-action endpoint listens to, in a process that runs no pass
    (the workers call the association after their passes themselves)."""

    def add_listener(self, listener: Callable[[int, BaseException | None], None]) -> None:
        return None


def web_app(
    queue: Queue,
    secrets: WebhookSecrets,
    public_url: str | None = None,
    config_file: Path | None = None,
) -> FastAPI:
    """The web app of the distributed runtime over `queue`'s store: the embedded runtime's,
    but its webhooks queue passes, and no `/metrics` (the passes run in the workers).
    `config_file`: as `commands._compose.compose`'s (the demo's settings file)."""
    directory = StoreDirectory(queue.store)
    router = webhook_router(directory=directory, wake=queue.deferrer.wake, secrets=secrets)
    actions = wire_actions(
        queue.store,
        queue.settings,
        PassesElsewhere(),
        secrets.hubspot_client_secret,
        public_url=public_url,
    )
    settings = queue.settings
    accounts_for = settings_accounts(queue.store, settings)
    rules_api = rules_router(queue.store, accounts_for)
    # The same dashboard and sign-in as the embedded runtime's (`commands._compose`); a
    # retry or a connect asks the queue for a pass. "Run now" of a reconciliation and the
    # budget per connection are the workers' (they hold the clients), so not offered here.
    names = configured_host_names(settings, public_url)
    dashboard = DashboardContext(
        queue.store,
        settings,
        wake=queue.deferrer.wake,
        security=WebSecurity(allowed_hosts=names),
        accounts_for=accounts_for,
        config_file=config_file,
    )
    routers = [router, actions, rules_api]
    return create_web_app(queue.store, routers=routers, dashboard=dashboard)


async def serve_web(
    settings: Settings,
    secrets: WebhookSecrets,
    *,
    public_url: str,
    started: Callable[[], None] | None = None,
    note: Callable[[str], None] = print,
) -> None:
    """Serve until SIGINT/SIGTERM (`serve_all`), then close the queue."""
    queue = await open_distributed(settings, pool_max=5)
    try:
        web = web_app(queue, secrets, public_url)
        ids = await asyncio.to_thread(active_ids, queue.store)
        await queue.deferrer.request_all(ids)

        async def register_actions() -> None:
            app_id = settings.hubspot.app_id
            note(await register_at_start(queue.store, settings, app_id, public_url))
            await asyncio.Event().wait()  # serve_all stops when a background task ends

        await serve_all(
            [Served(web, settings.host, settings.port, "web")],
            also=[register_actions],
            started=started,
        )
        await queue.deferrer.drain()
    finally:
        await queue.aclose()
