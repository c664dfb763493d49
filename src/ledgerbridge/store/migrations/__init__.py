"""Alembic migrations of the state store (run with `ledgerbridge.store.migrate`)."""
