"""The sandbox's in-memory portal: records, property definitions, associations, events.

Everything a HubSpot portal stores lives here; HTTP routers translate requests into
calls on `SandboxState`. Every change emits a `ChangeEvent` to the listeners
(webhooks, flow runner). The whole state can be saved to and loaded from JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import commerce
from .config import HubSpotSandboxConfig
from .errors import HubSpotError, conflict, not_found, validation
from .schema import (
    INVOICE_SOURCE_PROPERTY,
    OBJECT_TYPES,
    AssociationType,
    PropertyDef,
    association_type,
    default_properties,
)
from .values import invalid_property, iso_ms, normalize, property_error

TIMESTAMP_PROPS = ("createdate", "hs_createdate", "lastmodifieddate", "hs_lastmodifieddate")

# changeSource values used in events: public API writes vs. "a user in HubSpot".
SOURCE_INTEGRATION = "INTEGRATION"
SOURCE_CRM_UI = "CRM_UI"


@dataclass
class Record:
    id: str
    object_type: str
    properties: dict[str, str]
    created_at: int
    updated_at: int
    archived: bool = False
    archived_at: int | None = None
    history: dict[str, list[list[Any]]] = field(default_factory=dict)

    def to_api(
        self,
        wanted: Iterable[str] | None,
        with_history: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        defaults = OBJECT_TYPES[self.object_type].defaults
        names = list(wanted) if wanted else list(defaults)
        always = [n for n in defaults if n in TIMESTAMP_PROPS] + ["hs_object_id"]
        props = {name: self.properties.get(name) or None for name in [*names, *always]}
        body: dict[str, Any] = {
            "id": self.id,
            "properties": props,
            "createdAt": iso_ms(self.created_at),
            "updatedAt": iso_ms(self.updated_at),
            "archived": self.archived,
        }
        if self.archived_at is not None:
            body["archivedAt"] = iso_ms(self.archived_at)
        if with_history:
            body["propertiesWithHistory"] = {
                name: [
                    {"value": v, "timestamp": iso_ms(ts), "sourceType": src}
                    for v, ts, src in reversed(self.history.get(name, []))
                ]
                for name in with_history
            }
        return body


@dataclass
class ChangeEvent:
    kind: str  # creation | propertyChange | deletion | associationChange
    object_type: str
    object_id: str
    occurred_at: int
    change_source: str
    property_name: str | None = None
    property_value: str | None = None
    association: dict[str, Any] | None = None


Listener = Callable[[ChangeEvent], None]


class SandboxState:
    """One emulated portal."""

    def __init__(self, config: HubSpotSandboxConfig) -> None:
        self.config = config
        self.listeners: list[Listener] = []
        self.reset()

    # ------------------------------------------------------------ lifecycle

    def reset(self) -> None:
        self.objects: dict[str, dict[str, Record]] = {name: {} for name in OBJECT_TYPES}
        self.properties: dict[str, dict[str, PropertyDef]] = {
            name: default_properties(name) for name in OBJECT_TYPES
        }
        # (from_type, from_id, to_type, to_id) -> type ids
        self.associations: dict[tuple[str, str, str, str], set[int]] = {}
        # An index of `associations` (only ever added to; `associated` re-checks the pairs):
        # (from_type, from_id) -> to_type -> to_ids, so a look-up needs no scan of them all.
        self._linked: dict[tuple[str, str], dict[str, set[str]]] = {}
        # Unique-value indexes, built on first use: (object_type, property) -> value -> ids
        # (emails lower-cased). `find` re-checks every candidate, so they may hold stale ids.
        self._unique_index: dict[tuple[str, str], dict[str, set[str]]] = {}
        self.next_id = 1001
        self.next_invoice_number = 1001
        self.webhook_settings: dict[str, Any] | None = None
        self.webhook_subscriptions: dict[str, dict[str, Any]] = {}
        self.action_definitions: dict[str, dict[str, Any]] = {}
        self.flows: dict[str, dict[str, Any]] = {}
        self.pending_totals: dict[str, None] | None = None  # `commerce.totals_once`

    def now_ms(self) -> int:
        return int(self.config.clock() * 1000)

    def new_id(self) -> str:
        value = self.next_id
        self.next_id += 1
        return str(value)

    def emit(self, event: ChangeEvent) -> None:
        for listener in list(self.listeners):
            listener(event)

    # ------------------------------------------------------------ properties

    def prop_defs(self, object_type: str) -> dict[str, PropertyDef]:
        return self.properties[object_type]

    def unique_props(self, object_type: str) -> set[str]:
        names = {p.name for p in self.properties[object_type].values() if p.has_unique_value}
        if object_type == "contacts":
            names.add("email")
        return names | {"hs_object_id"}

    def check_values(
        self, object_type: str, values: dict[str, Any], *, allow_read_only: bool = False
    ) -> dict[str, str]:
        defs = self.properties[object_type]
        clean: dict[str, str] = {}
        problems: list[dict[str, Any]] = []
        for name, raw in values.items():
            definition = defs.get(name)
            if definition is None:
                message = f'Property "{name}" does not exist'
                problems.append(invalid_property(name, "PROPERTY_DOESNT_EXIST", message))
                continue
            if definition.read_only and not allow_read_only:
                message = f'"{name}" is a read only property; its value cannot be set.'
                problems.append(invalid_property(name, "READ_ONLY_VALUE", message))
                continue
            value, problem = normalize(definition, raw)
            if problem is not None:
                problems.append(problem)
            elif value is not None:
                clean[name] = value
        if problems:
            raise property_error(problems)
        return clean

    # ------------------------------------------------------------ records

    def find(self, object_type: str, key: str, id_property: str | None = None) -> Record | None:
        table = self.objects[object_type]
        if not id_property or id_property == "hs_object_id":
            found = table.get(key)
            return found if found is not None and not found.archived else None
        if id_property not in self.unique_props(object_type):
            raise validation(
                f"{id_property} is not a unique property; use a property with unique values",
                sub_category="crm.object.ID_PROPERTY_NOT_UNIQUE",
            )
        wanted = key.lower() if id_property == "email" else key
        if not wanted:
            return None
        candidates = self._by_value(object_type, id_property).get(wanted, ())
        for record_id in sorted(candidates, key=int):  # table (= id) order, as a scan would
            record = table.get(record_id)
            if record is None or record.archived:
                continue
            value = record.properties.get(id_property, "")
            if id_property == "email":
                value = value.lower()
            if value == wanted:
                return record
        return None

    def _by_value(self, object_type: str, name: str) -> dict[str, set[str]]:
        """value -> ids of the records that had it (a superset: `find` re-checks)."""
        index = self._unique_index.get((object_type, name))
        if index is None:
            index = {}
            for record in self.objects[object_type].values():
                self._index_value(index, record, name)
            self._unique_index[(object_type, name)] = index
        return index

    @staticmethod
    def _index_value(index: dict[str, set[str]], record: Record, name: str) -> None:
        value = record.properties.get(name, "")
        if name == "email":
            value = value.lower()
        if value:
            index.setdefault(value, set()).add(record.id)

    def _reindex(self, record: Record) -> None:
        """Add `record`'s current values to the unique-value indexes built so far."""
        for (object_type, name), index in self._unique_index.items():
            if object_type == record.object_type:
                self._index_value(index, record, name)

    def get(self, object_type: str, key: str, id_property: str | None = None) -> Record:
        record = self.find(object_type, key, id_property)
        if record is None:
            raise not_found(f"Object not found.  objectId are usually numeric.  {key}")
        return record

    def _check_unique(self, object_type: str, values: dict[str, str], own_id: str | None) -> None:
        for name in self.unique_props(object_type) - {"hs_object_id"}:
            value = values.get(name)
            if not value:
                continue
            other = self.find(object_type, value, name)
            if other is not None and other.id != own_id:
                singular = OBJECT_TYPES[object_type].singular.replace("_", " ").capitalize()
                raise conflict(
                    f"{singular} already exists with {name} {value}. Existing ID: {other.id}",
                    context={"id": [other.id], "propertyName": [name]},
                )

    def create(
        self,
        object_type: str,
        values: dict[str, Any],
        *,
        source: str = SOURCE_INTEGRATION,
        associations: list[tuple[str, str, int]] | None = None,
        checked: bool = False,
    ) -> Record:
        internal = source != SOURCE_INTEGRATION
        clean = (
            values if checked else self.check_values(object_type, values, allow_read_only=internal)
        )
        if object_type == "invoices":
            commerce.prepare_new_invoice(self, clean, source)
        self._check_unique(object_type, clean, None)
        for to_type, to_id, _ in associations or []:
            self.get(to_type, to_id)
        now = self.now_ms()
        record = Record(self.new_id(), object_type, {}, now, now)
        stamp = iso_ms(now)
        record.properties.update({k: v for k, v in clean.items() if v != ""})
        for name in TIMESTAMP_PROPS:
            record.properties[name] = stamp
        record.properties["hs_object_id"] = record.id
        for name, value in record.properties.items():
            record.history[name] = [[value, now, source]]
        self.objects[object_type][record.id] = record
        self._reindex(record)
        self.emit(ChangeEvent("creation", object_type, record.id, now, source))
        for to_type, to_id, type_id in associations or []:
            self.associate(object_type, record.id, to_type, to_id, type_id, source=source)
        commerce.after_change(self, object_type, record.id)
        return self.objects[object_type][record.id]

    def update(
        self,
        object_type: str,
        key: str,
        values: dict[str, Any],
        *,
        id_property: str | None = None,
        source: str = SOURCE_INTEGRATION,
        checked: bool = False,
    ) -> Record:
        record = self.get(object_type, key, id_property)
        internal = source != SOURCE_INTEGRATION
        clean = (
            values if checked else self.check_values(object_type, values, allow_read_only=internal)
        )
        self._check_unique(object_type, clean, record.id)
        if object_type == "invoices":
            commerce.check_invoice_update(self, record, clean, source)
        self.set_props(record, clean, source)
        commerce.after_change(self, object_type, record.id)
        return record

    def set_props(self, record: Record, changes: dict[str, str], source: str) -> None:
        """Write values (no validation), maintain timestamps and emit propertyChange events."""
        changed = {k: v for k, v in changes.items() if record.properties.get(k, "") != v}
        if not changed:
            return
        now = max(self.now_ms(), record.updated_at)
        for name, value in changed.items():
            if value == "":
                record.properties.pop(name, None)
            else:
                record.properties[name] = value
            record.history.setdefault(name, []).append([value, now, source])
        self._reindex(record)
        record.updated_at = now
        record.properties["lastmodifieddate"] = iso_ms(now)
        record.properties["hs_lastmodifieddate"] = iso_ms(now)
        for name, value in changed.items():
            event = ChangeEvent(
                "propertyChange", record.object_type, record.id, now, source, name, value
            )
            self.emit(event)

    def archive(self, object_type: str, key: str, *, source: str = SOURCE_INTEGRATION) -> None:
        record = self.objects[object_type].get(key)
        if record is None or record.archived:
            return  # HubSpot answers 204 for an unknown id too
        if object_type == "invoices":
            commerce.check_invoice_archive(record)
        linked = [
            (object_type, key, to_type, to_id)
            for to_type, to_ids in self._linked.get((object_type, key), {}).items()
            for to_id in sorted(to_ids)
            if (object_type, key, to_type, to_id) in self.associations
        ]
        if len(linked) > 1:  # the order a scan of `associations` gives
            order = {k: i for i, k in enumerate(self.associations)}
            linked.sort(key=order.__getitem__)
        for from_type, from_id, to_type, to_id in linked:
            self.disassociate(from_type, from_id, to_type, to_id, source=source)
        now = self.now_ms()
        record.archived = True
        record.archived_at = now
        self.emit(ChangeEvent("deletion", object_type, key, now, source))

    def live(self, object_type: str) -> list[Record]:
        return [r for r in self.objects[object_type].values() if not r.archived]

    # ------------------------------------------------------------ associations

    def associate(
        self,
        from_type: str,
        from_id: str,
        to_type: str,
        to_id: str,
        type_id: int,
        *,
        source: str = SOURCE_INTEGRATION,
    ) -> AssociationType:
        spec = association_type(from_type, to_type, type_id)
        if spec is None:
            raise validation(
                f"{type_id} is not a valid association type between {from_type} and {to_type}",
                sub_category="crm.associations.INVALID_ASSOCIATION_TYPE",
            )
        self.get(from_type, from_id)
        self.get(to_type, to_id)
        key = (from_type, from_id, to_type, to_id)
        if type_id not in self.associations.get(key, set()):
            self.associations.setdefault(key, set()).add(type_id)
            self._link(key)
            if spec.reverse_id is not None:
                rkey = (to_type, to_id, from_type, from_id)
                self.associations.setdefault(rkey, set()).add(spec.reverse_id)
                self._link(rkey)
            self._association_event(spec, from_id, to_id, source, removed=False)
            commerce.after_association(self, from_type, from_id, to_type, to_id)
        return spec

    def disassociate(
        self,
        from_type: str,
        from_id: str,
        to_type: str,
        to_id: str,
        type_ids: set[int] | None = None,
        *,
        source: str = SOURCE_INTEGRATION,
    ) -> None:
        key = (from_type, from_id, to_type, to_id)
        present = self.associations.get(key, set())
        removing = set(present) if type_ids is None else present & type_ids
        for type_id in removing:
            spec = association_type(from_type, to_type, type_id)
            present.discard(type_id)
            if spec is not None and spec.reverse_id is not None:
                rkey = (to_type, to_id, from_type, from_id)
                self.associations.get(rkey, set()).discard(spec.reverse_id)
                if not self.associations.get(rkey):
                    self.associations.pop(rkey, None)
            if spec is not None:
                self._association_event(spec, from_id, to_id, source, removed=True)
        if not present:
            self.associations.pop(key, None)
        if removing:
            commerce.after_association(self, from_type, from_id, to_type, to_id)

    def _link(self, key: tuple[str, str, str, str]) -> None:
        self._linked.setdefault(key[:2], {}).setdefault(key[2], set()).add(key[3])

    def associated(self, from_type: str, from_id: str, to_type: str) -> dict[str, set[int]]:
        """to_id -> type ids, in id order."""
        to_ids = self._linked.get((from_type, from_id), {}).get(to_type, ())
        found = {}
        for to_id in to_ids:
            ids = self.associations.get((from_type, from_id, to_type, to_id))
            if ids:
                found[to_id] = ids
        return dict(sorted(found.items(), key=lambda item: int(item[0])))

    def _association_event(
        self, spec: AssociationType, from_id: str, to_id: str, source: str, *, removed: bool
    ) -> None:
        info = {
            "associationType": spec.v3_name.upper(),
            "associationTypeId": spec.type_id,
            "associationCategory": "HUBSPOT_DEFINED",
            "fromObjectTypeId": OBJECT_TYPES[spec.from_type].type_id,
            "fromObjectId": int(from_id),
            "toObjectTypeId": OBJECT_TYPES[spec.to_type].type_id,
            "toObjectId": int(to_id),
            "associationRemoved": removed,
            "isPrimaryAssociation": spec.label == "Primary",
        }
        event = ChangeEvent(
            "associationChange", spec.from_type, from_id, self.now_ms(), source, association=info
        )
        self.emit(event)

    # ------------------------------------------------------------ persistence

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "objects": {
                name: [r.__dict__ for r in table.values()] for name, table in self.objects.items()
            },
            "properties": {
                name: [p.to_json() for p in defs.values()] for name, defs in self.properties.items()
            },
            "associations": [[*k, sorted(v)] for k, v in self.associations.items()],
            "next_id": self.next_id,
            "next_invoice_number": self.next_invoice_number,
            "webhook_settings": self.webhook_settings,
            "webhook_subscriptions": self.webhook_subscriptions,
            "action_definitions": self.action_definitions,
            "flows": self.flows,
        }

    def load_json(self, data: dict[str, Any]) -> None:
        self.reset()
        for name, rows in data.get("objects", {}).items():
            self.objects[name] = {row["id"]: Record(**row) for row in rows}
        for name, rows in data.get("properties", {}).items():
            self.properties[name] = {row["name"]: PropertyDef.from_json(row) for row in rows}
        for from_type, from_id, to_type, to_id, ids in data.get("associations", []):
            self.associations[(from_type, from_id, to_type, to_id)] = set(ids)
            self._link((from_type, from_id, to_type, to_id))
        self.next_id = int(data.get("next_id", self.next_id))
        self.next_invoice_number = int(data.get("next_invoice_number", self.next_invoice_number))
        self.webhook_settings = data.get("webhook_settings")
        self.webhook_subscriptions = dict(data.get("webhook_subscriptions", {}))
        self.action_definitions = dict(data.get("action_definitions", {}))
        self.flows = dict(data.get("flows", {}))

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json()), encoding="utf-8")
        tmp.replace(path)

    def load(self, path: Path) -> None:
        self.load_json(json.loads(path.read_text(encoding="utf-8")))


def invoice_source(record: Record) -> str:
    return record.properties.get(INVOICE_SOURCE_PROPERTY, "")


__all__ = ["ChangeEvent", "HubSpotError", "Record", "SandboxState"]
