"""ledgerbridge: a self-hosted two-way sync engine between HubSpot and QuickBooks Online."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ledgerbridge")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
