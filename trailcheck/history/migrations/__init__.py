"""Alembic migrations of the history schema (run by `trailcheck.history.store.open_store`)."""
