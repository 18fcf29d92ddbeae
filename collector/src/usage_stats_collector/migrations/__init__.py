"""Alembic migrations of the collector database."""
