"""The databases a collector benchmark runs on, one after the other.

SQLite in a temporary folder, and PostgreSQL in a new database of its own, dropped
afterwards (the benchmarks import this module from their own folder).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
import tempfile
import uuid

import asyncpg


async def on_each_backend(
    backends: str,
    postgres_url: str,
    prefix: str,
    run: Callable[[str, str], Awaitable[bool]],
) -> bool:
    """Call `run(label, database_url)` for each of the comma-separated `backends`.

    Returns whether every run returned True; raises ValueError for an unknown backend.
    """
    passed = True
    for backend in backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix=prefix) as folder:
                passed &= await run("SQLite", f"sqlite:///{Path(folder) / 'bench.db'}")
        elif backend == "postgresql":
            name = f"usage_bench_{uuid.uuid4().hex[:12]}"
            admin = await asyncpg.connect(postgres_url)
            await admin.execute(f'CREATE DATABASE "{name}"')
            try:
                database = postgres_url.rsplit("/", 1)[0] + f"/{name}"
                passed &= await run("PostgreSQL", database)
            finally:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()
        else:
            raise ValueError(f"unknown backend {backend}")
    return passed
