"""The dashboard's people side of the store: the admin account, API tokens and one-time
sign-in links (stored as SHA-256 hashes only), and the audit log of people's actions.

Password hashing and token generation are the web layer's (`web.auth`); this module only
keeps what it is given.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping

from ledgerbridge.store import schema
from ledgerbridge.store.repository import Tx, utc_now

__all__ = [
    "AdminAccount",
    "AuditEntry",
    "TokenKind",
    "TokenRow",
    "admin_account",
    "create_token",
    "list_audit",
    "list_tokens",
    "record_audit",
    "revoke_token",
    "set_password_hash",
    "use_token",
]

ADMIN_USERNAME = "admin"


class TokenKind(StrEnum):
    API = "api"
    SIGNIN = "signin"


@dataclass(frozen=True, slots=True)
class AdminAccount:
    username: str
    password_hash: str | None
    session_secret: str
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: int
    kind: TokenKind
    name: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str
    action: str
    connection_id: int | None
    target: str | None
    details: dict[str, Any]


def _now(_tx: Tx) -> dt.datetime:
    return utc_now()


def admin_account(tx: Tx) -> AdminAccount:
    """The admin account, created (without a password) on first use."""
    table = schema.admin_account
    row = tx.connection.execute(select(table).order_by(table.c.id).limit(1)).mappings().first()
    if row is None:
        now = _now(tx)
        values = {
            "username": ADMIN_USERNAME,
            "password_hash": None,
            "session_secret": secrets.token_urlsafe(48),
            "created_at": now,
            "updated_at": now,
        }
        tx.connection.execute(table.insert().values(**values))
        return AdminAccount(ADMIN_USERNAME, None, str(values["session_secret"]), now)
    return AdminAccount(
        row["username"], row["password_hash"], row["session_secret"], row["updated_at"]
    )


def set_password_hash(tx: Tx, password_hash: str, username: str | None = None) -> None:
    """Set the admin's password hash (and user name); a new session secret ends every session."""
    account = admin_account(tx)
    tx.connection.execute(
        update(schema.admin_account).values(
            username=username or account.username,
            password_hash=password_hash,
            session_secret=secrets.token_urlsafe(48),
            updated_at=_now(tx),
        )
    )


def create_token(
    tx: Tx,
    kind: TokenKind,
    name: str,
    token_hash: str,
    *,
    expires_at: dt.datetime | None = None,
) -> int:
    table = schema.auth_tokens
    if kind is TokenKind.API:
        taken = tx.connection.execute(
            select(table.c.id).where(
                table.c.kind == kind.value, table.c.name == name, table.c.revoked_at.is_(None)
            )
        ).first()
        if taken is not None:
            raise ValueError(f"a token named {name!r} exists already; revoke it or pick a new name")
    result = tx.connection.execute(
        table.insert().values(
            kind=kind.value,
            name=name,
            token_hash=token_hash,
            created_at=_now(tx),
            expires_at=expires_at,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _token(row: RowMapping) -> TokenRow:
    return TokenRow(
        id=row["id"],
        kind=TokenKind(row["kind"]),
        name=row["name"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


def use_token(
    tx: Tx, kind: TokenKind, token_hash: str, *, now: dt.datetime | None = None
) -> TokenRow | None:
    """The live token with this hash (not revoked, not expired at `now`), marked used; None
    otherwise. A sign-in link is spent by its first use."""
    table = schema.auth_tokens
    now = now or _now(tx)
    row = (
        tx.connection.execute(
            select(table).where(
                table.c.kind == kind.value,
                table.c.token_hash == token_hash,
                table.c.revoked_at.is_(None),
            )
        )
        .mappings()
        .first()
    )
    if row is None or (row["expires_at"] is not None and row["expires_at"] <= now):
        return None
    values: dict[str, Any] = {"last_used_at": now}
    if kind is TokenKind.SIGNIN:
        values["revoked_at"] = now
    spent = tx.connection.execute(
        update(table).where(table.c.id == row["id"], table.c.revoked_at.is_(None)).values(**values)
    )
    if spent.rowcount != 1:
        return None  # spent by a concurrent request
    return _token(row)


def list_tokens(tx: Tx, kind: TokenKind = TokenKind.API) -> list[TokenRow]:
    table = schema.auth_tokens
    rows = tx.connection.execute(
        select(table).where(table.c.kind == kind.value).order_by(table.c.id)
    ).mappings()
    return [_token(r) for r in rows]


def revoke_token(tx: Tx, name: str) -> bool:
    """Revoke the live API token called `name`; False when there is none."""
    table = schema.auth_tokens
    result = tx.connection.execute(
        update(table)
        .where(
            table.c.kind == TokenKind.API.value,
            table.c.name == name,
            table.c.revoked_at.is_(None),
        )
        .values(revoked_at=_now(tx))
    )
    return result.rowcount > 0


def record_audit(
    tx: Tx,
    actor: str,
    action: str,
    *,
    connection_id: int | None = None,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    tx.connection.execute(
        schema.audit_log.insert().values(
            at=_now(tx),
            actor=actor,
            action=action,
            connection_id=connection_id,
            target=target[:300] if target else None,
            details=dict(details or {}),
        )
    )


def list_audit(tx: Tx, *, offset: int = 0, limit: int = 50) -> list[AuditEntry]:
    table = schema.audit_log
    rows = tx.connection.execute(
        select(table).order_by(table.c.id.desc()).offset(offset).limit(limit)
    ).mappings()
    return [
        AuditEntry(
            id=r["id"],
            at=r["at"],
            actor=r["actor"],
            action=r["action"],
            connection_id=r["connection_id"],
            target=r["target"],
            details=dict(r["details"]),
        )
        for r in rows
    ]
