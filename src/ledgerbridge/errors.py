"""The exceptions ledgerbridge raises on purpose, under one base.

Every error a user can cause or has to act on is a `LedgerbridgeError`. It carries two
texts: `what` (what went wrong, also its `str()`) and `fix` (what the user should do).
The command line prints every one of them the same way, in one place (`ledgerbridge.cli`):

    error: <what> — <fix>

on stderr, with exit code 2 and no traceback. An exception that is not a
`LedgerbridgeError` reaching the command line is a bug, and shows its traceback.

The hierarchy:

* LedgerbridgeError
    * ConfigError — the settings cannot be used (`ledgerbridge.toml`, `LEDGERBRIDGE_*`)
        * ConfigFileError — the settings file is missing or is not valid TOML
        * SecretKeyError — the token-encryption key is malformed or not the one the
          stored tokens were written with (`ledgerbridge.store.crypto`)
    * StoreError — the state database cannot be opened (unsupported URL, server not
      reachable)
    * ConnectionLookupError — the connection a command works on is not there
        * NoConnectionError — none is configured (or none is active)
        * ConnectionNotFoundError — no connection has the id asked for
    * ConnectError — `ledgerbridge connect` cannot finish (app not configured, consent
      refused, no answer in time, account linked elsewhere)
    * UsageError — the command was given something it cannot work with
        * BackfillError — a backfill that cannot run as asked (unknown object, rule off)
        * InvoiceNotSyncedError — `invoice-pdf` of an invoice that is not synced
    * PortInUseError — a port the command would serve on is taken
    * SyncError — a record or a call failed during a sync (`ledgerbridge.sync.errors`)
        * TransientError — retry later with backoff
        * TerminalError — the record fails until a person fixes the cause
            * AuthenticationError — the connection needs a reconnect

Why the sync errors are in this tree: they answer a second question, *what should the
machine do* (`transient`: retry or not), and carry an `ErrorCategory` whose catalogue
entry already says what the user should do (its `fix`). That is exactly `what` + `fix`,
and a sync error does reach the user outside the dashboard (a `reconcile` or
`invoice-pdf` whose call fails), so it renders like every other error. The two axes stay
separate: only `SyncError` has `transient` and `category`; the engine decides on those,
never on the class of a non-sync error.

Not in the tree, on purpose: exceptions that are caught at the edge where they arise and
never reach a user as such — a malformed webhook body (answered with HTTP 400), a codec
or reference error inside a pass (recorded as a `SyncError` on the record), a currency
mismatch (a programming error).

This module imports nothing of the engine, so every layer (`sync/` included) may use it.
"""

from __future__ import annotations

__all__ = [
    "BackfillError",
    "ConfigError",
    "ConfigFileError",
    "ConnectError",
    "ConnectionLookupError",
    "ConnectionNotFoundError",
    "InvoiceNotSyncedError",
    "LedgerbridgeError",
    "NoConnectionError",
    "PortInUseError",
    "SecretKeyError",
    "StoreError",
    "UsageError",
]


class LedgerbridgeError(Exception):
    """Base of the tree: `what` went wrong and the `fix` (what the user should do).

    Subclasses give a default `fix`; a raise site that knows better passes its own.
    """

    fix: str = "see `ledgerbridge --help`, or report the message to your administrator"

    def __init__(self, what: str, *, fix: str | None = None) -> None:
        super().__init__(what)
        self.what = what
        if fix is not None:
            self.fix = fix

    def __str__(self) -> str:
        return self.what

    def render(self) -> str:
        """The one line the command line prints: `error: <what> — <fix>`."""
        return f"error: {self.what} — {self.fix}"


class ConfigError(LedgerbridgeError):
    """The settings (`ledgerbridge.toml`, `LEDGERBRIDGE_*` variables) cannot be used."""

    fix = "correct the setting in ledgerbridge.toml or the LEDGERBRIDGE_* environment"


class ConfigFileError(ConfigError):
    """The settings file is missing or is not valid TOML."""

    fix = "correct the file, or point --config / LEDGERBRIDGE_CONFIG at the right one"


class SecretKeyError(ConfigError):
    """The token-encryption key is malformed, or not the one the data was written with."""

    fix = (
        "make a key with `ledgerbridge keygen` and set LEDGERBRIDGE_SECRET_KEY to it "
        "(or unset it to use the key file)"
    )


class StoreError(LedgerbridgeError):
    """The state database cannot be opened: unsupported URL, server not reachable."""

    fix = (
        "set LEDGERBRIDGE_DATABASE_URL (or database_url in ledgerbridge.toml) to "
        "sqlite:///path/to/ledgerbridge.db or postgresql://user:password@host:5432/dbname"
    )


class ConnectionLookupError(LedgerbridgeError):
    """The connection a command works on is not there."""

    fix = "list the connections on the status page, or set one up with `ledgerbridge connect`"


class NoConnectionError(ConnectionLookupError):
    """No connection is configured (or none is active)."""

    fix = "run `ledgerbridge connect hubspot` and `ledgerbridge connect qbo` to set one up"


class ConnectionNotFoundError(ConnectionLookupError):
    """No connection has the id asked for (or it lacks the account the command needs)."""

    fix = "pass the id of an existing connection with --connection, or leave it out"


class ConnectError(LedgerbridgeError):
    """`ledgerbridge connect` cannot finish."""

    fix = (
        "check the [hubspot] / [qbo] app settings in ledgerbridge.toml, then run "
        "`ledgerbridge connect hubspot` or `ledgerbridge connect qbo` again"
    )


class UsageError(LedgerbridgeError):
    """The command was given something it cannot work with."""

    fix = "check the command's options with `ledgerbridge COMMAND --help`"


class BackfillError(UsageError):
    """A backfill that cannot run as asked."""

    fix = "see `ledgerbridge backfill --help` and the connection's sync rules"


class InvoiceNotSyncedError(UsageError):
    """`invoice-pdf` of an invoice that no synced pair knows."""

    fix = (
        "give the HubSpot or QuickBooks id of an invoice that has synced "
        "(hubspot:ID or quickbooks:ID to say which)"
    )


class PortInUseError(LedgerbridgeError):
    """A port the command would serve on is taken (often: the command is already running)."""

    fix = "stop the other process, or choose another port"
