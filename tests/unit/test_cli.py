from typer.testing import CliRunner

from ledgerbridge import __version__
from ledgerbridge.cli import app

runner = CliRunner()


def test_version_prints_the_package_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"ledgerbridge {__version__}"


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "sandbox" in result.output


def test_keygen_prints_a_usable_key() -> None:
    from ledgerbridge.store.crypto import TokenCipher

    result = runner.invoke(app, ["keygen"])
    assert result.exit_code == 0
    TokenCipher(result.output.strip().encode())  # a valid Fernet key
