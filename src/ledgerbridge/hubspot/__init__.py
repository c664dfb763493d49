"""ledgerbridge.hubspot."""
