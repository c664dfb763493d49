"""Where OAuth token sets are kept. `TokenSet` itself is a domain value type
(`ledgerbridge.domain.tokens`), re-exported here."""

from __future__ import annotations

from typing import Protocol

from ledgerbridge.domain.tokens import TokenSet

__all__ = ["MemoryTokenStore", "TokenSet", "TokenStore"]


class TokenStore(Protocol):
    """Durable, encrypted home of one connection's tokens for one service."""

    async def load(self) -> TokenSet | None: ...

    async def save(self, tokens: TokenSet) -> None: ...


class MemoryTokenStore:
    """A TokenStore in memory (tests, and the sandboxes' static tokens)."""

    def __init__(self, tokens: TokenSet | None = None) -> None:
        self.tokens = tokens
        self.saves = 0

    async def load(self) -> TokenSet | None:
        return self.tokens

    async def save(self, tokens: TokenSet) -> None:
        self.tokens = tokens
        self.saves += 1
