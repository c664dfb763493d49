"""ledgerbridge.qbo."""
