"""ledgerbridge.runtime."""
