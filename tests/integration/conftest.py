"""Fixtures: both sandboxes over real HTTP, a store, and the default rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ledgerbridge.sync.defaults import wizard_defaults
from ledgerbridge.sync.rules import Direction, ObjectPair, SyncRule
from tests.integration.harness import Lab, open_lab


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    async with open_lab("http", f"sqlite:///{tmp_path / 'state.db'}") as running:
        yield running


def contacts_rule(**changes: Any) -> SyncRule:
    return wizard_defaults(ObjectPair.CONTACTS_CUSTOMERS).model_copy(update=changes)


def products_rule(**changes: Any) -> SyncRule:
    rule = wizard_defaults(ObjectPair.PRODUCTS_ITEMS)
    if changes.get("direction") is not None and "filters" not in changes:
        changes["filters"] = ()
    return rule.model_copy(update=changes)


__all__ = ["Direction", "contacts_rule", "products_rule"]
