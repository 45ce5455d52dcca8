"""Alembic migrations of the ledger. ``HEAD`` is checked against the scripts by a test."""

HEAD = "0014"
