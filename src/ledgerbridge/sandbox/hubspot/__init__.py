"""ledgerbridge.sandbox.hubspot."""
