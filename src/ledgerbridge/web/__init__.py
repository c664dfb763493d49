"""ledgerbridge.web."""
