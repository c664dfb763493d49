"""`create_app(config)`: the HubSpot sandbox as a FastAPI application."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..disconnects import quiet_disconnects
from . import admin, associations, crm, oauth, webhooks, workflows
from .config import HubSpotSandboxConfig
from .errors import HubSpotError, correlation_id, unauthorized
from .ratelimit import RateLimiter, injected_429
from .state import SandboxState

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
UNMETERED_PREFIXES = ("/_sandbox", "/oauth")


class Sandbox:
    """Everything the app holds; reachable as `app.state.sandbox`."""

    def __init__(
        self, config: HubSpotSandboxConfig, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.config = config
        self.transport = transport
        self.state = SandboxState(config)
        self.limiter = RateLimiter(config)
        self.tokens = oauth.TokenStore()
        self.rng = random.Random(config.random_seed)
        self.webhooks = webhooks.WebhookDispatcher(self)
        self.workflows = workflows.FlowRunner(self)
        self.state.listeners.extend([self.webhooks.on_event, self.workflows.on_event])
        self._load_initial()

    def _load_initial(self) -> None:
        path = self.config.state_file
        if path is not None and path.exists():
            self.state.load(path)
        elif self.config.seed is not None:
            from .seed import seed_portal

            seed_portal(self.state, self.config.seed)

    def reset(self, seed: int | None = None) -> None:
        self.state.reset()
        self.limiter.reset()
        self.tokens = oauth.TokenStore()
        self.webhooks.pending.clear()
        self.webhooks.deliveries.clear()
        self.workflows.executions.clear()
        self.workflows.deliveries.clear()
        self.workflows.enrolled.clear()
        if seed is not None:
            from .seed import seed_portal

            seed_portal(self.state, seed)

    def http_client(self, timeout: float) -> httpx.AsyncClient:
        """The client used for outgoing calls (webhooks, workflow actions)."""
        return httpx.AsyncClient(transport=self.transport, timeout=timeout)

    def save(self) -> None:
        if self.config.state_file is not None:
            self.state.save(self.config.state_file)

    async def settle(self) -> None:
        """Wait until queued webhooks are delivered and running flows are idle."""
        await self.workflows.drain()
        await self.webhooks.drain()
        await self.workflows.drain()

    def authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token:
            if token == self.config.static_token:
                return True
            return self.tokens.valid_access(token, self.config.clock())
        hapikey = request.query_params.get("hapikey")
        return hapikey is not None and hapikey == self.config.static_token


def create_app(
    config: HubSpotSandboxConfig, *, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """Build the sandbox. `transport` (optional) carries the sandbox's own outgoing
    calls (webhooks, workflow actions), e.g. an `httpx.ASGITransport` in tests."""
    sandbox = Sandbox(config, transport)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        sandbox.save()

    app = FastAPI(
        title="HubSpot sandbox",
        description="A local emulator of the HubSpot CRM, webhooks, OAuth and workflow actions.",
        lifespan=lifespan,
        docs_url="/_sandbox/docs",
        redoc_url=None,
        openapi_url="/_sandbox/openapi.json",
    )
    app.state.sandbox = sandbox
    quiet_disconnects(app)

    @app.exception_handler(HubSpotError)
    async def hubspot_error(_request: Request, exc: HubSpotError) -> Response:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        category = "OBJECT_NOT_FOUND" if exc.status_code == 404 else "VALIDATION_ERROR"
        body = {
            "status": "error",
            "message": str(exc.detail),
            "correlationId": correlation_id(),
            "category": category,
        }
        return JSONResponse(body, status_code=exc.status_code)

    @app.middleware("http")
    async def gateway(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        if path.startswith(UNMETERED_PREFIXES):
            response = await call_next(request)
            if request.method in WRITE_METHODS and path.startswith("/_sandbox"):
                sandbox.save()
            return response
        cfg = sandbox.config
        if cfg.latency_ms > 0:
            await asyncio.sleep(cfg.latency_ms / 1000)
        if not sandbox.authorized(request):
            return unauthorized().response()
        limited = sandbox.limiter.check(is_search=path.endswith("/search"))
        if limited is not None:
            return limited
        if cfg.fault_429_rate and sandbox.rng.random() < cfg.fault_429_rate:
            return injected_429(sandbox.limiter)
        if cfg.fault_500_rate and sandbox.rng.random() < cfg.fault_500_rate:
            body = {
                "status": "error",
                "message": "internal error (injected by the sandbox)",
                "correlationId": correlation_id(),
                "category": "INTERNAL_ERROR",
            }
            return JSONResponse(body, status_code=500)
        response = await call_next(request)
        for name, value in sandbox.limiter.headers().items():
            response.headers[name] = value
        if request.method in WRITE_METHODS:
            sandbox.save()
            if cfg.timeout_after_commit_rate and (
                sandbox.rng.random() < cfg.timeout_after_commit_rate
            ):
                await asyncio.sleep(cfg.hang_seconds)
        return response

    for module in (crm, associations, webhooks, workflows, oauth, admin):
        app.include_router(module.build_router())
    return app
