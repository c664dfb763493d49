"""The stored connections as the runtime and the webhook endpoints see them."""

from __future__ import annotations

from ledgerbridge.store import ConnectionStatus, Store


class StoreDirectory:
    """`ConnectionDirectory` over the store (blocking calls; the runtime runs them in a thread)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def connection_ids(self) -> list[int]:
        """Every connection that is not paused (a needs_reauth one only has its status read)."""
        with self._store.begin() as tx:
            return [c.id for c in tx.list_connections() if c.status is not ConnectionStatus.PAUSED]

    def status(self, connection_id: int) -> ConnectionStatus | None:
        with self._store.begin() as tx:
            connection = tx.get_connection(connection_id)
        return connection.status if connection else None

    def mark_needs_reauth(self, connection_id: int, detail: str) -> None:
        with self._store.begin() as tx:
            tx.update_connection(
                connection_id, status=ConnectionStatus.NEEDS_REAUTH, status_detail=detail[:500]
            )

    def by_portal(self, portal_id: str) -> list[int]:
        """Connections of a HubSpot portal (a portal may feed several QBO companies)."""
        with self._store.begin() as tx:
            return [c.id for c in tx.list_connections() if c.hubspot_portal_id == portal_id]

    def by_realm(self, realm_id: str) -> list[int]:
        """Connections of a QBO company (realm)."""
        with self._store.begin() as tx:
            return [c.id for c in tx.list_connections() if c.qbo_realm_id == realm_id]
