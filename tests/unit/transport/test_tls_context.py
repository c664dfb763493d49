"""Every HTTP client of the engine shares one TLS context: building one loads the CA
bundle (~22 ms of CPU), which a distributed worker paid on each connection's first pass."""

from __future__ import annotations

from ledgerbridge.transport.http import new_http_client


async def test_two_clients_share_one_tls_context() -> None:
    async with new_http_client() as first, new_http_client() as second:
        contexts = [c._transport._pool._ssl_context for c in (first, second)]  # type: ignore[attr-defined]
    assert contexts[0] is contexts[1]
    assert contexts[0].verify_mode.name == "CERT_REQUIRED"  # still verifies certificates
