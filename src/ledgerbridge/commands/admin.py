"""`ledgerbridge admin …`: the dashboard's password, API tokens and one-time sign-in links."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ledgerbridge.commands._options import ConfigOption, configured_store

admin_app = typer.Typer(
    rich_markup_mode="markdown",
    help="The dashboard's sign-in: password, API tokens, sign-in links.",
)
token_app = typer.Typer(
    rich_markup_mode="markdown", help="API tokens for scripts (`Authorization: Bearer <token>`)."
)
admin_app.add_typer(token_app, name="token")


def register(app: typer.Typer) -> None:
    app.add_typer(admin_app, name="admin")


@admin_app.command("set-password")
def set_password(
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    username: Annotated[str | None, typer.Option(help="Change the user name too.")] = None,
    config: ConfigOption = None,
) -> None:
    """Set the admin password of the dashboard (signs every session out)."""
    from ledgerbridge.store.accounts import record_audit, set_password_hash
    from ledgerbridge.web.auth import hash_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        hashed = hash_password(password)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    with configured_store(config) as (_, store), store.begin() as tx:
        set_password_hash(tx, hashed, username)
        record_audit(tx, "command line", "set_password")
    typer.echo("Password set. Every earlier session is signed out.")


@admin_app.command("signin-link")
def signin_link(
    minutes: Annotated[float, typer.Option(help="How long the link stays valid.")] = 15.0,
    config: ConfigOption = None,
) -> None:
    """Print a one-time link that signs the browser in (no password needed)."""
    from ledgerbridge.web.auth import create_signin_link

    with configured_store(config, existing=True) as (settings, store):
        host = settings.host if settings.host not in ("0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
        link = create_signin_link(store, f"http://{host}:{settings.port}", minutes=minutes)
    typer.echo(f"Sign in (once, within {minutes:g} minutes): {link}")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="What the token is for (e.g. 'monitoring').")],
    config: ConfigOption = None,
) -> None:
    """Make an API token; it is printed once and stored only as a hash."""
    from ledgerbridge.store.accounts import TokenKind, create_token, record_audit
    from ledgerbridge.web.auth import hash_token, new_token

    token = new_token()
    with configured_store(config) as (_, store), store.begin() as tx:
        create_token(tx, TokenKind.API, name, hash_token(token))
        record_audit(tx, "command line", "token_create", target=name)
    typer.echo(token)
    typer.echo(
        "Keep it now: it is not shown again. Send it as `Authorization: Bearer <token>`.",
        err=True,
    )


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Argument(help="The token's name.")],
    config: ConfigOption = None,
) -> None:
    """Revoke an API token (requests with it get 401 from now on)."""
    from ledgerbridge.store.accounts import record_audit, revoke_token

    with configured_store(config, existing=True) as (_, store), store.begin() as tx:
        found = revoke_token(tx, name)
        if found:
            record_audit(tx, "command line", "token_revoke", target=name)
    if not found:
        typer.echo(
            f"error: no live token is called {name!r} (see `ledgerbridge admin token list`)",
            err=True,
        )
        raise typer.Exit(code=2)
    typer.echo(f"Revoked {name}.")


@token_app.command("list")
def token_list(config: ConfigOption = None) -> None:
    """The API tokens: name, created, last used, revoked."""
    from ledgerbridge.store.accounts import list_tokens

    with configured_store(config, existing=True) as (_, store), store.begin() as tx:
        tokens = list_tokens(tx)
    if not tokens:
        typer.echo("No API token yet: `ledgerbridge admin token create NAME` makes one.")
    for t in tokens:
        used = t.last_used_at.isoformat() if t.last_used_at else "never"
        state = f"revoked {t.revoked_at.isoformat()}" if t.revoked_at else "live"
        typer.echo(f"{t.name}\tcreated {t.created_at.isoformat()}\tlast used {used}\t{state}")
