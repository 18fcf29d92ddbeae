"""The command line, the process as a whole, and where the schema comes from."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from collector_testlib import current_period, make_report, new_id, recent_report
from usage_stats_collector import cli, schema
from usage_stats_collector.process import CollectorProcess, CollectorStartError
from usage_stats_collector.storage import Storage, normalize_url


async def _serve_in_process(argv: list[str]) -> tuple[asyncio.Task[None], asyncio.Event, int]:
    args = cli._parser().parse_args(argv)
    stop = asyncio.Event()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        task = asyncio.create_task(cli._serve(args, stop))
        for _ in range(500):
            if "ready port=" in out.getvalue() or task.done():
                break
            await asyncio.sleep(0.01)
    task.result() if task.done() else None
    port = int(out.getvalue().split("ready port=")[1].split()[0])
    return task, stop, port


async def test_serve_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cli.TOKEN_ENV, "env-token")
    database = f"sqlite:///{tmp_path / 'c.db'}"
    task, stop, port = await _serve_in_process(["serve", "--port", "0", "--database", database])
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as session:
            report = recent_report()
            async with session.post("/v1/reports", json=report) as response:
                assert response.status == 201
            headers = {"Authorization": "Bearer env-token"}
            async with session.get(
                f"/v1/admin/installations/{report['installation_id']}", headers=headers
            ) as r:
                assert r.status == 200
    finally:
        stop.set()
        await task


async def test_serve_rejects_bad_k(tmp_path: Path) -> None:
    args = cli._parser().parse_args(
        ["serve", "--k-anonymity", "0", "--database", f"sqlite:///{tmp_path}/x.db"]
    )
    with pytest.raises(SystemExit, match="k-anonymity"):
        await cli._serve(args)


async def test_serve_rejects_a_negative_publication_delay(tmp_path: Path) -> None:
    args = cli._parser().parse_args(
        ["serve", "--publication-delay-days", "-1", "--database", f"sqlite:///{tmp_path}/x.db"]
    )
    with pytest.raises(SystemExit, match="publication-delay-days"):
        await cli._serve(args)


async def test_serve_limits_new_installations(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'c.db'}"
    task, stop, port = await _serve_in_process(
        [
            "serve",
            "--port",
            "0",
            "--database",
            database,
            "--max-new-installations-per-week",
            "1",
            "--publication-delay-days",
            "3",
            "--publish-interval",
            "60",
        ]
    )
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as session:
            statuses = []
            for _ in range(40):  # one per shard, and 16 shards: some of the 40 share one
                report = make_report(period=current_period())
                async with session.post("/v1/reports", json=report) as response:
                    statuses.append(response.status)
            assert statuses[0] == 201
            assert 429 in statuses
            async with session.get("/v1/stats") as response:
                assert (await response.json())["publication_delay_days"] == 3
    finally:
        stop.set()
        await task


def test_migrate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database = f"sqlite:///{tmp_path / 'm.db'}"
    assert cli.main(["migrate", "--database", database]) == 0
    assert cli.main(["migrate", "--database", database]) == 0  # idempotent
    assert "up to date" in capsys.readouterr().out

    async def tables() -> int:
        storage = Storage(database)
        try:
            return await storage.count_reports()
        finally:
            await storage.close()

    assert asyncio.run(tables()) == 0


def test_main_runs_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    async def fake_serve(args: Any, stop: Any = None) -> None:
        seen.append(args)

    monkeypatch.setattr(cli, "_serve", fake_serve)
    assert cli.main(["serve", "--port", "0"]) == 0
    assert seen[0].host == "127.0.0.1"
    assert seen[0].database == cli.DEFAULT_DATABASE
    assert seen[0].privacy is None  # differential privacy, unless --k-anonymity is given
    assert seen[0].k_anonymity is None
    assert seen[0].rho is None
    assert seen[0].retention_days == 400


def test_subprocess_logs_no_client_address(tmp_path: Path) -> None:
    """The real process: ready line with the bound port, and no client IP anywhere in its output."""
    env = dict(os.environ, USAGE_STATS_COLLECTOR_ADMIN_TOKEN="")
    log = tmp_path / "stderr.log"
    database = f"sqlite:///{tmp_path / 's.db'}"
    with log.open("wb") as stderr, CollectorProcess(database, stderr=stderr, env=env) as collector:
        assert collector.url == f"http://127.0.0.1:{collector.port}"

        async def traffic() -> list[int]:
            statuses = []
            async with aiohttp.ClientSession(collector.url) as session:
                report = recent_report()
                for path, body in (
                    ("/v1/reports", report),
                    ("/v1/reports", report),
                    ("/v1/reports", recent_report(report["installation_id"])),
                    ("/v1/reports", {"bad": 1}),
                    (
                        "/v1/deletion",
                        {"schema_version": 1, "request_id": new_id(), "installation_id": new_id()},
                    ),
                ):
                    async with session.post(path, json=body) as response:
                        statuses.append(response.status)
                for path in ("/v1/stats", "/", "/nope", f"/v1/admin/installations/{new_id()}"):
                    async with session.get(path) as response:
                        statuses.append(response.status)
            return statuses

        assert asyncio.run(traffic()) == [201, 200, 429, 400, 200, 200, 200, 404, 404]
        assert collector.stop() == 0
    stdout = b"".join(collector.stdout).decode()
    assert stdout.startswith("usage-stats-collector ready port=")
    errors = log.read_text()
    assert "127.0.0.1" not in stdout + errors
    assert "listening on port" in errors
    assert "Collector stopped" in errors


@pytest.mark.parametrize("command", ["serve", "migrate"])
@pytest.mark.parametrize(
    ("url", "reason"),
    [("mysql://nobody@127.0.0.1/x", "unsupported database 'mysql'"), ("not a url", "Could not parse")],
)
def test_bad_database_url_is_a_usage_error(
    command: str, url: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([command, "--database", url])
    assert exited.value.code == 2
    assert f"argument --database: {reason}" in capsys.readouterr().err


def test_process_that_exits_before_it_is_ready() -> None:
    collector = CollectorProcess("mysql://nobody@127.0.0.1/x")
    with pytest.raises(RuntimeError, match="not started"):
        collector.stop()
    with pytest.raises(CollectorStartError, match="exited with 2 before it was ready"):
        collector.start()


def test_process_without_a_ready_line_in_time_is_stopped(tmp_path: Path) -> None:
    collector = CollectorProcess(f"sqlite:///{tmp_path / 's.db'}", start_timeout=0)
    with pytest.raises(CollectorStartError, match="no ready line within 0 s"):
        collector.start()
    assert collector.process is not None
    assert collector.process.poll() is not None


def test_schema_comes_from_the_repository_or_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo_schema = Path(__file__).resolve().parents[2] / "schemas" / schema.REPORT_SCHEMA
    assert schema.schema_path(schema.REPORT_SCHEMA) == repo_schema
    monkeypatch.setattr(schema, "_REPO_SCHEMAS", tmp_path)
    with pytest.raises(FileNotFoundError):
        schema.schema_path(schema.REPORT_SCHEMA)


def test_validation_reasons_are_short() -> None:
    report = make_report()
    report["events"] = {f"e{i}": 1 for i in range(60)}
    reason = schema.validate_report(report)
    assert reason is not None
    assert len(reason) <= 180
    assert (
        schema.validate_deletion({"schema_version": 1, "request_id": new_id(), "installation_id": new_id()})
        is None
    )


def test_database_urls() -> None:
    assert normalize_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+asyncpg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+asyncpg"
    with pytest.raises(ValueError, match="unsupported database"):
        normalize_url("mysql://u@h/db")
    with pytest.raises(ValueError, match="only be chosen on PostgreSQL"):
        Storage("sqlite:///x.db", schema="s")


def test_packaged_schema_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "schemas").mkdir()
    packaged = tmp_path / "schemas" / schema.REPORT_SCHEMA
    packaged.write_text("{}", encoding="utf-8")
    monkeypatch.setattr(schema.resources, "files", lambda _package: tmp_path)
    assert schema.schema_path(schema.REPORT_SCHEMA) == packaged


def test_migrations_upgrade_and_downgrade(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, inspect

    from usage_stats_collector.models import metadata

    engine = create_engine(f"sqlite:///{tmp_path / 'mig.db'}")
    config = Config()
    config.set_main_option("script_location", str(Path(schema.__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        assert set(inspect(connection).get_table_names()) == set(metadata.tables) | {"alembic_version"}
        command.downgrade(config, "base")
        assert set(inspect(connection).get_table_names()) == {"alembic_version"}
    engine.dispose()
