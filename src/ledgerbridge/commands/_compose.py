"""What `run` and `demo` both start: the engine runner, the embedded runtime that decides
when a connection syncs, and the web app — the dashboard (`web.pages`, behind the
sign-in of `web.auth`) with the webhooks, the HubSpot workflow actions, the rules API
(`web.api_rules`) and the Prometheus `/metrics` in — over one store."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from ledgerbridge.runtime.embedded import EmbeddedRuntime, RuntimeOptions
from ledgerbridge.runtime.observe import PassObserver
from ledgerbridge.runtime.runner import EngineRunner
from ledgerbridge.runtime.workflow_actions import wire_actions
from ledgerbridge.settings import Settings
from ledgerbridge.store import Store
from ledgerbridge.store.directory import StoreDirectory
from ledgerbridge.web.api_rules import rules_router, settings_accounts
from ledgerbridge.web.app import create_web_app
from ledgerbridge.web.auth import WebSecurity, configured_host_names
from ledgerbridge.web.metrics import Metrics, metrics_router
from ledgerbridge.web.pages.common import DashboardContext
from ledgerbridge.web.webhooks import WebhookSecrets, webhook_router


@dataclass(frozen=True, slots=True)
class Stack:
    runner: EngineRunner
    runtime: EmbeddedRuntime
    web: FastAPI
    dashboard: DashboardContext

    def run_runtime(self) -> Callable[[], Coroutine[None, None, None]]:
        """The runtime's loop, closing the runner's clients when it ends."""

        async def run() -> None:
            try:
                await self.runtime.run()
            finally:
                await self.runner.aclose()

        return run


def pass_health_listener(
    dashboard: DashboardContext, runner: EngineRunner
) -> Callable[[int, BaseException | None], None]:
    """The runtime's pass listener that keeps the dashboard's sync health: what the pass
    raised, else its report (a pass that finishes with a rule failed as a whole, e.g.
    QuickBooks answering HTTP 500, is a failed pass to the user too)."""

    def listen(connection_id: int, error: BaseException | None) -> None:
        report = runner.last_reports.get(connection_id) if error is None else None
        dashboard.on_pass(connection_id, error, report)

    return listen


def compose(
    store: Store,
    settings: Settings,
    secrets: WebhookSecrets,
    *,
    public_url: str | None = None,
    allowed_hosts: frozenset[str] | None = None,
    config_file: Path | None = None,
) -> Stack:
    """The runner, runtime and web app of `store` (poll interval from `settings`). The
    workflow-action endpoint verifies the same HubSpot app secret as the webhooks, and also
    accepts signatures over `public_url` (the address HubSpot calls, behind a proxy). The
    web app answers to `allowed_hosts` (default: the loopback names, `settings.host`,
    `settings.allowed_hosts` and the host names of the OAuth redirect URIs and
    `public_url`). `config_file`: the settings file other commands need for this store
    (the demo's), named where the dashboard tells the user to run one."""
    metrics = Metrics()
    runner = EngineRunner(store, settings, observer=PassObserver(metrics))
    directory = StoreDirectory(store)
    runtime = EmbeddedRuntime(
        runner,
        directory,
        options=RuntimeOptions(
            poll_interval=settings.poll_interval_seconds,
            coalesce=settings.wake_coalesce_seconds,
            qbo_share=settings.live_qbo_share,
            coalesce_max=settings.wake_coalesce_max_seconds,
        ),
        reconcile=runner.reconcile,
    )
    router = webhook_router(directory=directory, wake=runtime.wake, secrets=secrets)
    actions = wire_actions(
        store, settings, runtime, secrets.hubspot_client_secret, public_url=public_url
    )
    accounts_for = settings_accounts(store, settings)
    rules_api = rules_router(store, accounts_for)
    names = allowed_hosts or configured_host_names(settings, public_url)
    dashboard = DashboardContext(
        store,
        settings,
        wake=runtime.wake,
        reconcile=runner.reconcile,
        security=WebSecurity(allowed_hosts=names),
        accounts_for=accounts_for,
        budget_use=runner.budget_use,
        config_file=config_file,
    )
    runtime.add_listener(pass_health_listener(dashboard, runner))
    routers = [router, actions, rules_api, metrics_router(metrics)]
    web = create_web_app(store, routers=routers, dashboard=dashboard)
    return Stack(runner, runtime, web, dashboard)
