"""Every HTTP endpoint of the OpenAPI schema, fuzzed with schemathesis (issue 19): never a
5xx, and every response conforms to the schema. (The webhook endpoints are not in the
schema; `test_webhook_fuzz.py` fuzzes them with Hypothesis.)

Driven by hand (schemathesis' strategies under Hypothesis' `@given`): its pytest plugin
does not work with this pytest version.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from ledgerbridge.store import Store, TokenCipher, generate_key
from ledgerbridge.web.app import create_web_app
from ledgerbridge.web.metrics import Metrics, metrics_router


@pytest.fixture
def schema(tmp_path: Path) -> Iterator[Any]:
    """The web app's OpenAPI schema, served in-process over a store with one connection."""
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}", TokenCipher(generate_key().encode()))
    with store.begin() as tx:
        tx.create_connection(
            name="A",
            hubspot_base_url="http://127.0.0.1:8701",
            qbo_base_url="http://127.0.0.1:8702",
            hubspot_portal_id="62515",
            qbo_realm_id="1000000001",
        )
    app = create_web_app(store, routers=[metrics_router(Metrics())])
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        store.close()


def test_every_endpoint_answers_without_a_5xx_and_as_its_schema_says(schema: Any) -> None:
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the schema lists no operation"
    called: list[str] = []
    for operation in operations:

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        @given(operation.as_strategy())
        def check(case: Any) -> None:
            response = case.call()
            called.append(f"{case.method} {case.path}")
            assert response.status_code < 500, (case.method, case.path, response.status_code)
            case.validate_response(response)

        check()
    assert {"GET /healthz", "GET /api/status"} <= set(called)
