"""ledgerbridge.domain."""
