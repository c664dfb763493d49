"""One-off operations a user asks for (backfill, reconcile, dry run, fees, invoice PDF, connect).

They return plain results; no Rich, no SQL, no raw HTTP (presenters live in `commands/`)."""
