"""The links table: which HubSpot record is which QBO record, with the base snapshot."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.engine import RowMapping

from ledgerbridge.store import schema
from ledgerbridge.store.base import TxBase, id_chunks, row_as, upsert_many
from ledgerbridge.store.rows import LinkRow


class LinkQueries(TxBase):
    """`Tx` methods on links."""

    @staticmethod
    def _link(row: RowMapping) -> LinkRow:
        return row_as(LinkRow, row, base=dict(row["base"]))

    def find_link(
        self,
        connection_id: int,
        object_type: str,
        *,
        hubspot_id: str | None = None,
        qbo_id: str | None = None,
    ) -> LinkRow | None:
        table = schema.links
        if (hubspot_id is None) == (qbo_id is None):
            raise ValueError("find a link by exactly one of hubspot_id or qbo_id")
        side_match = table.c.hubspot_id == hubspot_id if hubspot_id else table.c.qbo_id == qbo_id
        row = (
            self.connection.execute(
                select(table).where(
                    table.c.connection_id == connection_id,
                    table.c.object_type == object_type,
                    side_match,
                )
            )
            .mappings()
            .first()
        )
        return self._link(row) if row else None

    def list_links(self, connection_id: int, object_type: str | None = None) -> list[LinkRow]:
        table = schema.links
        query = select(table).where(table.c.connection_id == connection_id)
        if object_type is not None:
            query = query.where(table.c.object_type == object_type)
        return [
            self._link(r) for r in self.connection.execute(query.order_by(table.c.id)).mappings()
        ]

    def find_links(
        self,
        connection_id: int,
        object_type: str,
        *,
        hubspot_ids: Collection[str] = (),
        qbo_ids: Collection[str] = (),
    ) -> list[LinkRow]:
        """The links of `object_type` whose HubSpot id is in `hubspot_ids` or whose QBO id
        is in `qbo_ids`, ordered by id (each at most once). Uses the unique indexes, in
        chunks of `ID_CHUNK` ids per query."""
        table = schema.links
        found: dict[int, RowMapping] = {}
        for column, wanted in ((table.c.hubspot_id, hubspot_ids), (table.c.qbo_id, qbo_ids)):
            for chunk in id_chunks(wanted):
                rows = self.connection.execute(
                    select(table).where(
                        table.c.connection_id == connection_id,
                        table.c.object_type == object_type,
                        column.in_(chunk),
                    )
                ).mappings()
                for row in rows:
                    found.setdefault(int(row["id"]), row)
        return [self._link(found[key]) for key in sorted(found)]

    def link_base_values(
        self, connection_id: int, object_type: str, name: str
    ) -> list[tuple[str, str, str]]:
        """(HubSpot id, QBO id, value) of the links of `object_type` whose base snapshot
        holds a text value under `name`, without reading the snapshots themselves."""
        table = schema.links
        value = table.c.base[name].as_string()
        rows = self.connection.execute(
            select(table.c.hubspot_id, table.c.qbo_id, value)
            .where(
                table.c.connection_id == connection_id,
                table.c.object_type == object_type,
                value.is_not(None),
            )
            .order_by(table.c.id)
        )
        return [(str(h), str(q), str(v)) for h, q, v in rows]

    def link_id_pairs(
        self, connection_id: int, object_types: Collection[str]
    ) -> list[tuple[str, str, str]]:
        """(object type, HubSpot id, QBO id) of the links of `object_types`: the ids only."""
        table = schema.links
        rows = self.connection.execute(
            select(table.c.object_type, table.c.hubspot_id, table.c.qbo_id)
            .where(
                table.c.connection_id == connection_id,
                table.c.object_type.in_(sorted(set(object_types))),
            )
            .order_by(table.c.id)
        )
        return [(str(t), str(h), str(q)) for t, h, q in rows]

    def save_link(self, link: LinkRow) -> None:
        """Insert or update the pair, keyed on (connection, object type, HubSpot id)."""
        self.save_links([link])

    def save_links(self, links: Sequence[LinkRow]) -> None:
        """`save_link` for many pairs in one statement."""
        now = self._clock()
        rows = [
            {
                "connection_id": link.connection_id,
                "object_type": link.object_type,
                "hubspot_id": link.hubspot_id,
                "qbo_id": link.qbo_id,
                "hubspot_version": link.hubspot_version,
                "qbo_version": link.qbo_version,
                "hubspot_hash": link.hubspot_hash,
                "qbo_hash": link.qbo_hash,
                "base": dict(link.base),
                "origin": link.origin,
                "created_at": now,
                "updated_at": now,
            }
            for link in links
        ]
        columns = ("qbo_id", "hubspot_version", "qbo_version", "hubspot_hash", "qbo_hash")
        upsert_many(
            self.connection,
            schema.links,
            rows,
            ("connection_id", "object_type", "hubspot_id"),
            lambda new: {
                **{name: new[name] for name in columns},
                "base": new["base"],
                "updated_at": new["updated_at"],
            },
        )

    def delete_link(self, connection_id: int, object_type: str, hubspot_id: str) -> None:
        table = schema.links
        self.connection.execute(
            table.delete().where(
                table.c.connection_id == connection_id,
                table.c.object_type == object_type,
                table.c.hubspot_id == hubspot_id,
            )
        )
