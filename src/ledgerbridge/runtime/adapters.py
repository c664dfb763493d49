"""The engine's ports implemented with the connectors and the store.

- `HubSpotSide` (`runtime.hubspot_side`): HubSpot contacts and products.
- `QboSide` (`runtime.qbo_side`): QBO customers, items (and invoice reads/writes).
- `StoreState` (`runtime.store_state`): rules, links, cursors, sync records and
  activity, one transaction per rule's pass.

`runtime.connection.build_engine(...)` wires them into a `SyncEngine` for one
stored connection.
"""

from __future__ import annotations

from ledgerbridge.runtime.hubspot_side import HubSpotSide
from ledgerbridge.runtime.qbo_side import QboSide
from ledgerbridge.runtime.store_state import StoreState, load_rules, save_rule

__all__ = ["HubSpotSide", "QboSide", "StoreState", "load_rules", "save_rule"]
