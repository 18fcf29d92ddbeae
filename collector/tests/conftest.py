"""Fixtures: every storage test runs on SQLite and on a real PostgreSQL server.

PostgreSQL is taken from ``USAGE_STATS_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``). Each test gets its own schema, dropped afterwards.
When the server cannot be reached the PostgreSQL variants are skipped, unless
``USAGE_STATS_REQUIRE_POSTGRES=1`` (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from collector_testlib import fixed_clock, open_client
from usage_stats_collector.app import Settings, create_app
from usage_stats_collector.storage import Storage

POSTGRES_URL = os.environ.get("USAGE_STATS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("USAGE_STATS_REQUIRE_POSTGRES", "") not in {"", "0", "false", "no"}

_postgres_problem: list[str | None] = []


async def _postgres_unreachable() -> str | None:
    if not _postgres_problem:
        try:
            connection = await asyncpg.connect(POSTGRES_URL, timeout=3)
            await connection.close()
            _postgres_problem.append(None)
        except (TimeoutError, OSError, asyncpg.PostgresError) as err:
            _postgres_problem.append(f"{err.__class__.__name__}: {err}")
    return _postgres_problem[0]


async def _postgres_schema() -> str:
    problem = await _postgres_unreachable()
    if problem is not None:
        reason = f"PostgreSQL at {POSTGRES_URL} is unreachable ({problem})"
        if REQUIRE_POSTGRES:
            pytest.fail(f"{reason}; USAGE_STATS_REQUIRE_POSTGRES is set", pytrace=False)
        pytest.skip(f"{reason}; set USAGE_STATS_REQUIRE_POSTGRES=1 to fail instead")
    return f"usage_test_{uuid.uuid4().hex[:16]}"


async def _drop_schema(schema: str) -> None:
    connection = await asyncpg.connect(POSTGRES_URL, timeout=10)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend of a test."""
    return str(request.param)


@pytest.fixture
async def make_storage(backend: str, tmp_path: Path) -> AsyncIterator[Callable[[], Awaitable[Storage]]]:
    """Factory of migrated storages that share one fresh database (several 'processes')."""
    created: list[Storage] = []
    schema = await _postgres_schema() if backend == "postgresql" else None

    async def factory() -> Storage:
        if schema is None:
            storage = Storage(f"sqlite:///{tmp_path / 'collector.db'}")
        else:
            storage = Storage(POSTGRES_URL, schema=schema)
        created.append(storage)
        await storage.migrate()
        return storage

    yield factory
    for storage in created:
        await storage.close()
    if schema is not None:
        await _drop_schema(schema)


@pytest.fixture
async def storage(make_storage: Callable[[], Awaitable[Storage]]) -> Storage:
    """A migrated, empty storage."""
    return await make_storage()


@pytest.fixture
def settings() -> Settings:
    """Settings of the app under test (no background purge), receiving on TODAY at noon UTC."""
    return Settings(
        privacy="k-anonymity", k_anonymity=1, admin_token="s3cret-token", purge_interval=0, clock=fixed_clock
    )


@pytest.fixture
async def client(storage: Storage, settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    """An HTTP client of the collector app."""
    test_client = await open_client(create_app(storage, settings))
    try:
        yield test_client
    finally:
        await test_client.close()
