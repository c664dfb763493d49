"""ledgerbridge.sandbox.qbo."""
