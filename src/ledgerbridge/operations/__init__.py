"""Operations a user or HubSpot asks for (backfill, reconcile, dry run, fees, invoice PDF, connect,
workflow actions), over the connectors and the store.

They return plain results; no Rich, no SQL, no raw HTTP (presenters live in `commands/`)."""
