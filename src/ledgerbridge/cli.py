"""The `ledgerbridge` command line (Typer)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from typer import _coercion as typer_coercion
from typer import _param_types as typer_param_types
from typer.core import TyperGroup, TyperOption

from ledgerbridge import __version__
from ledgerbridge.errors import LedgerbridgeError


class _Commands(TyperGroup):
    """The one place that shows a `LedgerbridgeError` to the user: `error: <what> — <fix>`
    on stderr and exit code 2, never a traceback (`ledgerbridge.errors`)."""

    def invoke(self, ctx: Any) -> Any:  # typer's (vendored) click.Context
        try:
            return super().invoke(ctx)
        except LedgerbridgeError as exc:
            typer.echo(exc.render(), err=True)
            raise typer.Exit(code=2) from exc


def _flag_type_hidden(option: TyperOption, ctx: Any) -> str | None:
    """The type shown beside an option in the help: none for a flag. Typer 0.29 shows
    `<bool>` beside every flag (`--dry-run <bool>`, `--help <bool>`), which reads as if
    the flag took a value; `--dry-run true` is refused."""
    return None if option.is_flag else _typer_display_type(option, ctx)


_typer_display_type = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type_hidden  # type: ignore[method-assign,assignment]


def _without_pydantic_prefix(message_of: Callable[[Any], str]) -> Callable[[Any], str]:
    """Typer 0.29 checks a choice through pydantic and shows its message whole: "Invalid
    value for '--direction': Value error, 'two-way' is not one of …". The prefix is
    pydantic's, not ours: it is dropped."""

    def message(exc: Any) -> str:
        return message_of(exc).removeprefix("Value error, ")

    return message


for _module in (typer_coercion, typer_param_types):  # where typer turns them into messages
    if hasattr(_module, "get_error_msg"):
        shown = _without_pydantic_prefix(getattr(_module, "get_error_msg"))  # noqa: B009
        setattr(_module, "get_error_msg", shown)  # noqa: B010


app = typer.Typer(
    rich_markup_mode="markdown",
    cls=_Commands,
    name="ledgerbridge",
    help="Two-way sync between HubSpot and QuickBooks Online.",
    no_args_is_help=True,
    add_completion=False,
)
sandbox_app = typer.Typer(
    rich_markup_mode="markdown",
    help="Run the built-in HubSpot and QuickBooks Online emulators (no accounts needed).",
)
app.add_typer(sandbox_app, name="sandbox")

console = Console(stderr=True)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"ledgerbridge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version_callback,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Two-way sync between HubSpot and QuickBooks Online."""


def _register_plugins() -> None:
    """Commands live in `ledgerbridge.commands.*`; the sandboxes add `ledgerbridge sandbox …`."""
    from ledgerbridge.commands import register_all
    from ledgerbridge.sandbox import cli as sandbox_cli

    register_all(app)
    sandbox_cli.register(sandbox_app)


_register_plugins()


def main() -> None:
    from ledgerbridge.runtime.collector import freeze_for_exit, tune_collector

    tune_collector()
    try:
        app()
    finally:
        freeze_for_exit()


if __name__ == "__main__":  # `python -m ledgerbridge.cli`
    main()
