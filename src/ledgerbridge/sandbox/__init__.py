"""ledgerbridge.sandbox."""
