"""ledgerbridge.store."""
