"""The HubSpot connector.

* `client.HubSpotClient`: CRM v3 objects (CRUD, `after` paging, batch ≤100 with 207s
  mapped per input, search, properties) and associations v4, on an injected
  `httpx.AsyncClient`; budgets, retries and tokens from `ledgerbridge.transport`.
* `changes.read_changes`: incremental reads on the last-modified date, deletes included.
* `codec`, `codec_commerce`: HubSpot properties ↔ domain objects (pure).
* `webhooks`: signature v3 and event parsing (pure).
* `errors`: the one table from HubSpot failures to `SyncError`s.
"""
