"""Encryption at rest for OAuth tokens (Fernet: AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from ledgerbridge.domain.tokens import TokenSet
from ledgerbridge.errors import SecretKeyError as SecretKeyError


class TokenCipher:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise SecretKeyError(
                "the secret key (LEDGERBRIDGE_SECRET_KEY, secret_key or the key file) is "
                "malformed: it must be 32 url-safe base64-encoded bytes"
            ) from exc

    def encrypt(self, tokens: TokenSet) -> str:
        return self._fernet.encrypt(json.dumps(tokens.to_json()).encode()).decode("ascii")

    def decrypt(self, blob: str) -> TokenSet:
        try:
            plain = self._fernet.decrypt(blob.encode("ascii"))
        except InvalidToken as exc:
            raise SecretKeyError(
                "stored tokens cannot be decrypted with this secret key",
                fix="use the key they were written with, or reconnect the account",
            ) from exc
        data: dict[str, str | None] = json.loads(plain)
        return TokenSet.from_json(data)


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def load_or_create_key(secret_key: str | None, key_file: Path) -> bytes:
    """The configured key, else the one in `key_file`, else a new one written there (0600)."""
    if secret_key:
        if not secret_key.isascii():
            raise SecretKeyError(
                "the secret key (LEDGERBRIDGE_SECRET_KEY or secret_key) is malformed: "
                "it has characters that are not ASCII"
            )
        return secret_key.encode("ascii")
    if key_file.is_file():
        return key_file.read_bytes().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(generate_key() + "\n")
    return key_file.read_bytes().strip()
