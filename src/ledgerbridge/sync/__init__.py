"""ledgerbridge.sync."""
