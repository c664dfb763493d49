"""The connections table and its encrypted OAuth tokens."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping

from ledgerbridge.domain.refs import System
from ledgerbridge.domain.tokens import TokenSet
from ledgerbridge.errors import SecretKeyError
from ledgerbridge.store import schema
from ledgerbridge.store.base import TxBase, row_as
from ledgerbridge.store.rows import ConnectionRow, ConnectionStatus


def _token_column(system: System) -> str:
    return "hubspot_tokens" if system is System.HUBSPOT else "qbo_tokens"


class ConnectionQueries(TxBase):
    """`Tx` methods on connections and their tokens (encrypted at rest)."""

    def create_connection(
        self,
        *,
        name: str,
        hubspot_base_url: str,
        qbo_base_url: str,
        hubspot_portal_id: str | None = None,
        qbo_realm_id: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> int:
        now = self._clock()
        result = self.connection.execute(
            schema.connections.insert().values(
                name=name,
                hubspot_portal_id=hubspot_portal_id,
                qbo_realm_id=qbo_realm_id,
                hubspot_base_url=hubspot_base_url,
                qbo_base_url=qbo_base_url,
                status=ConnectionStatus.ACTIVE.value,
                options=dict(options or {}),
                created_at=now,
                updated_at=now,
            )
        )
        primary_key = result.inserted_primary_key
        assert primary_key is not None
        return int(primary_key[0])

    @staticmethod
    def _connection(row: RowMapping) -> ConnectionRow:
        return row_as(
            ConnectionRow,
            row,
            status=ConnectionStatus(row["status"]),
            options=dict(row["options"]),
        )

    def get_connection(self, connection_id: int) -> ConnectionRow | None:
        row = (
            self.connection.execute(
                select(schema.connections).where(schema.connections.c.id == connection_id)
            )
            .mappings()
            .first()
        )
        return self._connection(row) if row else None

    def list_connections(self) -> list[ConnectionRow]:
        rows = self.connection.execute(select(schema.connections).order_by("id")).mappings()
        return [self._connection(row) for row in rows]

    def update_connection(
        self,
        connection_id: int,
        *,
        status: ConnectionStatus | None = None,
        status_detail: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        values: dict[str, Any] = {"updated_at": self._clock()}
        if status is not None:
            values["status"] = status.value
            values["status_detail"] = status_detail
        if options is not None:
            values["options"] = dict(options)
        self.connection.execute(
            update(schema.connections)
            .where(schema.connections.c.id == connection_id)
            .values(**values)
        )

    # -- tokens (encrypted at rest) ----------------------------------------------------------

    def set_account(
        self, connection_id: int, system: System, account_id: str, base_url: str
    ) -> None:
        """The account the connection reaches on `system` (HubSpot portal id, QBO realm
        id) and the API base URL it was connected at."""
        hubspot = system is System.HUBSPOT
        self.connection.execute(
            update(schema.connections)
            .where(schema.connections.c.id == connection_id)
            .values(
                {
                    "hubspot_portal_id" if hubspot else "qbo_realm_id": account_id,
                    "hubspot_base_url" if hubspot else "qbo_base_url": base_url,
                    "updated_at": self._clock(),
                }
            )
        )

    def save_tokens(self, connection_id: int, system: System, tokens: TokenSet) -> None:
        self.connection.execute(
            update(schema.connections)
            .where(schema.connections.c.id == connection_id)
            .values(
                {_token_column(system): self._cipher.encrypt(tokens), "updated_at": self._clock()}
            )
        )

    def load_tokens(self, connection_id: int, system: System) -> TokenSet | None:
        column = schema.connections.c[_token_column(system)]
        blob = self.connection.execute(
            select(column).where(schema.connections.c.id == connection_id)
        ).scalar()
        if not blob:
            return None
        try:
            return self._cipher.decrypt(blob)
        except SecretKeyError as exc:
            service, command = (
                ("HubSpot", "hubspot") if system is System.HUBSPOT else ("QuickBooks", "qbo")
            )
            raise SecretKeyError(
                f"the {service} tokens of connection {connection_id} cannot be decrypted with "
                "this secret key",
                fix="use the key they were written with (LEDGERBRIDGE_SECRET_KEY, secret_key "
                "or the key file), or connect the account again: "
                f"`ledgerbridge connect {command} --connection {connection_id}`",
            ) from exc
