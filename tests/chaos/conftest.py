"""The `lab` fixture of the integration tests (both sandboxes over real HTTP, a store)."""

from tests.integration.conftest import lab

__all__ = ["lab"]
