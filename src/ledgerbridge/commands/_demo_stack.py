"""`ledgerbridge demo`: both sandboxes, the engine, the runtime and the web app, in one process.

* HubSpot sandbox on `hubspot_port`, QBO sandbox (realm 1000000001) on `qbo_port`; both
  accept the static token `sandbox`; seeded unless `seed` is None.
* A state store (SQLite) at `db`, or in a fresh temp directory removed at exit, with a
  secret key generated for the run, and one connection set up with the wizard's rules:
  contacts ↔ customers two-way, products QBO → HubSpot (SKU only), invoices two-way
  with payments (enabled as soon as the engine syncs invoices).
* Webhooks wired both ways: the HubSpot sandbox delivers to `/webhooks/hubspot`, signed
  with an app secret generated for the run; the QBO sandbox to `/webhooks/qbo`, signed
  with a generated verifier token. The engine verifies both.
* Workflow actions (R-WF): the engine's `/actions/hubspot/{action}` endpoint verifies the
  same app secret; `Demo.setup_workflow_actions()` registers the action definitions with
  the HubSpot sandbox and defines one example flow of each action.
* The dashboard on `port`, with a one-time sign-in link (`urls["signin"]`, valid a day).
* A settings file (`Demo.config_file`, `write_demo_settings`) with the state's URL and the
  run's key, so that other commands work on the running demo with `--config` (a new
  sign-in link: `ledgerbridge admin signin-link --config …`); removed at exit.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from ledgerbridge.commands._compose import compose
from ledgerbridge.errors import UsageError
from ledgerbridge.runtime.clients import sandbox_options
from ledgerbridge.runtime.embedded import EmbeddedRuntime
from ledgerbridge.runtime.runner import EngineRunner
from ledgerbridge.sandbox.hubspot import cli as hubspot_cli
from ledgerbridge.sandbox.hubspot.app import create_app as hubspot_app
from ledgerbridge.sandbox.qbo import cli as qbo_cli
from ledgerbridge.sandbox.qbo.app import create_app as qbo_app
from ledgerbridge.serving import Served
from ledgerbridge.settings import Settings
from ledgerbridge.store import Store, TokenCipher, generate_key
from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.rules import Direction, InvoiceSettings, ObjectPair, SyncRule
from ledgerbridge.web.auth import allowed_host_names, create_signin_link
from ledgerbridge.web.webhooks import WebhookSecrets

__all__ = [
    "DEMO_REALM",
    "DEMO_TOKEN",
    "Demo",
    "DemoOptions",
    "DemoSandboxes",
    "StaleDemoState",
    "build_demo",
    "cli_hint",
    "demo_rules",
    "demo_sandboxes",
    "ensure_demo_connection",
    "setup_workflow_actions",
    "write_demo_settings",
]

DEMO_REALM = "1000000001"
DEMO_TOKEN = "sandbox"
DEMO_SEED = 1
INCOME_ACCOUNT = "Sales of Product Income"
SIGNIN_MINUTES = 24 * 60


@dataclass(frozen=True, slots=True)
class DemoOptions:
    port: int = 8700
    hubspot_port: int = 8701
    qbo_port: int = 8702
    host: str = "127.0.0.1"
    seed: int | None = DEMO_SEED
    db: Path | None = None
    poll_interval: float = 10.0


def invoices_supported() -> bool:
    """Whether the engine syncs invoices yet (the invoice rule is saved off until then)."""
    from ledgerbridge.hubspot.side.kinds import OBJECTS

    return ObjectPair.INVOICES_INVOICES in OBJECTS


def demo_rules() -> list[SyncRule]:
    """The wizard's defaults, with invoices two-way (payments follow two-way invoices)."""
    invoices = (
        wizard_defaults(ObjectPair.INVOICES_INVOICES)
        .model_copy(
            update={
                "direction": Direction.TWO_WAY,
                "invoice": InvoiceSettings(custom_line_item_income_account=INCOME_ACCOUNT),
                "enabled": invoices_supported(),
            }
        )
        .with_fixed_filters()
    )
    return [
        wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS),
        wizard_defaults(ObjectPair.PRODUCTS_ITEMS),
        invoices,
    ]


@dataclass
class Demo:
    options: DemoOptions
    store: Store
    settings: Settings
    connection_id: int
    served: list[Served]
    runtime: EmbeddedRuntime
    runner: EngineRunner
    db_path: Path
    config_file: Path
    temp_dir: Path | None = None
    urls: dict[str, str] = field(default_factory=dict)
    first_pass: asyncio.Event = field(default_factory=asyncio.Event)
    first_error: BaseException | None = None
    hubspot_sandbox: Any = None

    async def setup_workflow_actions(self) -> list[str]:
        """Register the action definitions with the HubSpot sandbox (idempotent) and define
        the example flows (`runtime.workflow_actions.DEMO_FLOWS`); the new flows' ids."""
        return await setup_workflow_actions(
            self.store, self.settings, self.connection_id, self.hubspot_sandbox, self.urls["engine"]
        )

    def _passed(self, connection_id: int, error: BaseException | None) -> None:
        if connection_id == self.connection_id and not self.first_pass.is_set():
            self.first_error = error
            self.first_pass.set()

    async def run_runtime(self) -> None:
        """The runtime until stopped (finishing the pass in flight), then close the clients."""
        try:
            await self.runtime.run()
        finally:
            await self.runner.aclose()

    def close(self) -> None:
        self.store.close()
        shutil.rmtree(self.config_file.parent, ignore_errors=True)
        if self.temp_dir is not None:
            shutil.rmtree(self.temp_dir, ignore_errors=True)


def ensure_demo_connection(store: Store, hubspot_url: str, qbo_url: str, portal_id: str) -> int:
    """The store's first connection; when there is none, create the demo's (static-token
    sandbox connection with `demo_rules()`, saved through the rules service)."""
    from ledgerbridge.operations.rules import ChangeSource, RulesService

    with store.begin() as tx:
        existing = tx.list_connections()
        if existing:
            return existing[0].id
        cid = tx.create_connection(
            name="Demo",
            hubspot_base_url=hubspot_url,
            qbo_base_url=qbo_url,
            hubspot_portal_id=portal_id,
            qbo_realm_id=DEMO_REALM,
            options=sandbox_options(DEMO_TOKEN),
        )
    asyncio.run(RulesService(store, cid).save(demo_rules(), ChangeSource.DEMO))
    return cid


class StaleDemoState(UsageError):
    """`--db` names the state of an earlier demo run: its links point at records of
    sandboxes that are gone (the demo's sandboxes are in memory and start fresh)."""


def check_fresh_state(store: Store, db_path: Path) -> None:
    """Refuse a store that already holds links (see `StaleDemoState`)."""
    with store.begin() as tx:
        links = sum(len(tx.list_links(c.id)) for c in tx.list_connections())
    if links:
        raise StaleDemoState(
            f"{db_path} holds the state of an earlier demo run: {links} link(s) to records "
            "of sandboxes that no longer exist (the demo's sandboxes start fresh on every "
            "run, so they would show as drift and never heal)",
            fix=f"run the demo with a new --db file, delete {db_path}, or leave out --db "
            "(a temporary state)",
        )


SETTINGS_FILE = "ledgerbridge.toml"


def write_demo_settings(directory: Path | None, settings: Settings) -> Path:
    """A settings file for other `ledgerbridge` commands to work on the demo's state
    (`--config`): its database URL, the run's key (the file is its owner's only), the
    runtime and the dashboard's address (the links `admin signin-link` prints). In
    `directory`, or in a new temp directory when None."""
    assert settings.secret_key is not None
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="ledgerbridge-demo-"))
    values: dict[str, str | int] = {
        "database_url": settings.database_url,
        "secret_key": settings.secret_key.get_secret_value(),
        "runtime": settings.runtime,
        "host": settings.host,
        "port": settings.port,
    }
    lines = [
        "# Written by `ledgerbridge demo` for this run only (removed when it stops):",
        "# `ledgerbridge <command> --config <this file>` works on the demo's state.",
        *(f"{name} = {json.dumps(value, ensure_ascii=False)}" for name, value in values.items()),
    ]
    path = directory / SETTINGS_FILE
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")
    return path


def cli_hint(config_file: Path) -> list[str]:
    """The banner's lines on using other commands with the running demo."""
    quoted = shlex.quote(str(config_file))
    return [
        f"Other ledgerbridge commands work on this demo with --config {quoted}",
        f"(or export LEDGERBRIDGE_CONFIG={quoted}); a new sign-in link, e.g. after signing out:",
        f"  ledgerbridge admin signin-link --config {quoted}",
    ]


async def setup_workflow_actions(
    store: Store, settings: Settings, connection_id: int, hubspot_sandbox: Any, engine_url: str
) -> list[str]:
    """`Demo.setup_workflow_actions` for any demo whose HubSpot sandbox runs in-process."""
    from ledgerbridge.operations.workflow_actions import register_definitions
    from ledgerbridge.runtime.clients import build_clients
    from ledgerbridge.runtime.workflow_actions import define_demo_flows

    with store.begin() as tx:
        row = tx.get_connection(connection_id)
    assert row is not None
    clients = build_clients(row, settings=settings, store=store)
    try:
        app_id = str(hubspot_sandbox.config.app_id)
        ids = await register_definitions(clients.hubspot, app_id, engine_url)
    finally:
        await clients.aclose()
    return define_demo_flows(hubspot_sandbox.workflows, ids)


@dataclass(frozen=True, slots=True)
class DemoSandboxes:
    """Both sandboxes of the demo, their webhooks pointed at the engine's endpoints."""

    served: list[Served]
    secrets: WebhookSecrets
    portal_id: str
    urls: dict[str, str]
    hubspot_sandbox: Any


def demo_sandboxes(options: DemoOptions) -> DemoSandboxes:
    host = options.host
    engine_url = f"http://{host}:{options.port}"
    hubspot_url = f"http://{host}:{options.hubspot_port}"
    qbo_url = f"http://{host}:{options.qbo_port}"
    app_secret = secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(24)

    hubspot_config = hubspot_cli.build_config(
        host=host,
        port=options.hubspot_port,
        token=DEMO_TOKEN,
        seed=options.seed,
        webhook_url=f"{engine_url}/webhooks/hubspot",
    )
    hubspot_config.app_client_secret = app_secret
    qbo_config = qbo_cli.build_config(
        realms=[DEMO_REALM],
        token=DEMO_TOKEN,
        seed=options.seed,
        webhook_url=f"{engine_url}/webhooks/qbo",
        webhook_verifier=verifier,
    )
    hubspot = hubspot_app(hubspot_config)
    return DemoSandboxes(
        served=[
            Served(hubspot, host, options.hubspot_port, "hubspot"),
            Served(qbo_app(qbo_config), host, options.qbo_port, "qbo"),
        ],
        secrets=WebhookSecrets(SecretStr(app_secret), SecretStr(verifier)),
        portal_id=str(hubspot_config.portal_id),
        urls={"engine": engine_url, "hubspot": hubspot_url, "qbo": qbo_url},
        hubspot_sandbox=hubspot.state.sandbox,
    )


def build_demo(options: DemoOptions) -> Demo:
    """Everything the demo serves and runs, ready for `serve_all`."""
    host = options.host
    sandboxes = demo_sandboxes(options)
    hubspot_url, qbo_url = sandboxes.urls["hubspot"], sandboxes.urls["qbo"]

    temp_dir = None
    if options.db is None:
        temp_dir = Path(tempfile.mkdtemp(prefix="ledgerbridge-demo-"))
        db_path = temp_dir / "ledgerbridge-demo.db"
    else:
        db_path = options.db.resolve()  # the settings file is read from any folder
    key = generate_key()
    settings = Settings(
        database_url=f"sqlite:///{db_path}",
        secret_key=SecretStr(key),
        host=host,
        port=options.port,
        poll_interval_seconds=options.poll_interval,
    )
    config_file = write_demo_settings(temp_dir, settings)
    store = Store.open(settings.database_url, TokenCipher(key.encode()))
    try:
        check_fresh_state(store, db_path)
    except StaleDemoState:
        store.close()
        shutil.rmtree(config_file.parent, ignore_errors=True)
        raise
    cid = ensure_demo_connection(store, hubspot_url, qbo_url, sandboxes.portal_id)

    stack = compose(
        store,
        settings,
        sandboxes.secrets,
        allowed_hosts=allowed_host_names(host),
        config_file=config_file,
    )
    runner, runtime = stack.runner, stack.runtime
    served = [*sandboxes.served, Served(stack.web, host, options.port, "web")]
    demo = Demo(
        options=options,
        store=store,
        settings=settings,
        connection_id=cid,
        served=served,
        runtime=runtime,
        runner=runner,
        db_path=db_path,
        config_file=config_file,
        temp_dir=temp_dir,
        urls={
            **sandboxes.urls,
            "signin": create_signin_link(store, sandboxes.urls["engine"], minutes=SIGNIN_MINUTES),
        },
        hubspot_sandbox=sandboxes.hubspot_sandbox,
    )
    runtime.add_listener(demo._passed)
    return demo
