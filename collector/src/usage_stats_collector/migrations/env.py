"""Alembic environment: migrations always run on a connection handed in by the collector."""

from __future__ import annotations

from alembic import context

from usage_stats_collector.models import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
