"""Command line: ``usage-stats-collector serve`` and ``usage-stats-collector migrate``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web
from sqlalchemy.exc import ArgumentError

from . import __version__
from .app import Settings, create_app
from .privacy_dp import DEFAULT_RHO
from .publication import DEFAULT_DELAY_DAYS
from .publication_dp import DP, K_ANONYMITY, PRIVACY_RULES, weekly_rho
from .server import (
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    LimitedSite,
    connection_limit,
    handler_options,
    raise_descriptor_limit,
)
from .storage import Storage, normalize_url

DEFAULT_DATABASE = "sqlite:///usage_stats_collector.db"
DEFAULT_K = 5
TOKEN_ENV = "USAGE_STATS_COLLECTOR_ADMIN_TOKEN"  # noqa: S105 - the name of a variable
_LOGGER = logging.getLogger("usage_stats_collector")


def _database(url: str) -> str:
    """A database URL the collector supports (checked before anything starts)."""
    try:
        normalize_url(url)
    except (ValueError, ArgumentError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return url


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="usage-stats-collector", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    # No abbreviations: "--admin-token X" must not be taken for "--admin-token-file X".
    serve = commands.add_parser(
        "serve", help="run the collector (migrates the database first)", allow_abbrev=False
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=8080, help="port to bind; 0 picks a free one (default 8080)"
    )
    serve.add_argument(
        "--database",
        type=_database,
        default=DEFAULT_DATABASE,
        help=f"database URL (default {DEFAULT_DATABASE})",
    )
    serve.add_argument(
        "--privacy",
        choices=PRIVACY_RULES,
        default=None,
        help="the rule new weeks are published under: dp (differential privacy, the default) or "
        "k-anonymity (the default when --k-anonymity is given); published weeks keep theirs",
    )
    serve.add_argument(
        "--rho",
        type=float,
        default=None,
        help=f"dp: the budget of each week in zero-concentrated DP (default {DEFAULT_RHO})",
    )
    serve.add_argument(
        "--k-anonymity",
        type=int,
        default=None,
        help=f"k-anonymity: publish values of at least k installations (default {DEFAULT_K})",
    )
    serve.add_argument(
        "--retention-days", type=float, default=400, help="keep reports this long (default 400)"
    )
    serve.add_argument(
        "--admin-token-file",
        type=Path,
        default=None,
        help=f"file holding the bearer token for /v1/admin (or the environment variable {TOKEN_ENV}); "
        "without a token the admin endpoints do not exist",
    )
    serve.add_argument("--purge-interval", type=float, default=3600, help="seconds between retention purges")
    serve.add_argument(
        "--pool-size",
        type=int,
        default=20,
        help="database connections per pool and process (PostgreSQL: one pool for reports, one for the rest)",
    )
    serve.add_argument(
        "--publication-delay-days",
        type=float,
        default=DEFAULT_DELAY_DAYS,
        help="publish a week this many days after it ends (default 3: from the Thursday, 00:00 UTC)",
    )
    serve.add_argument("--publish-interval", type=float, default=600, help="seconds between publication runs")
    serve.add_argument(
        "--max-new-installations-per-week",
        type=int,
        default=0,
        help="accept reports of at most this many new installations per week (default 0: no limit)",
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        default=DEFAULT_MAX_CONNECTIONS,
        help=f"open connections at most (default {DEFAULT_MAX_CONNECTIONS}, kept under the open-file limit)",
    )
    serve.add_argument(
        "--header-timeout",
        type=float,
        default=DEFAULT_HEADER_TIMEOUT,
        help="seconds for a request head to arrive, also the idle keep-alive "
        f"(default {DEFAULT_HEADER_TIMEOUT:g})",
    )
    serve.add_argument(
        "--body-timeout", type=float, default=10.0, help="seconds for a request body to arrive (default 10)"
    )

    migrate = commands.add_parser("migrate", help="create or upgrade the database schema and exit")
    migrate.add_argument(
        "--database",
        type=_database,
        default=DEFAULT_DATABASE,
        help=f"database URL (default {DEFAULT_DATABASE})",
    )
    return parser


async def _migrate(database: str) -> None:
    storage = Storage(database)
    try:
        await storage.migrate()
    finally:
        await storage.close()


def _admin_token(token_file: Path | None) -> str | None:
    """The admin token from ``--admin-token-file`` or the environment; never the command line."""
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as err:
            raise SystemExit(
                f"--admin-token-file: cannot read the token ({err.__class__.__name__})"
            ) from None
        if not token:
            raise SystemExit("--admin-token-file: the file is empty")
        return token
    return os.environ.get(TOKEN_ENV, "").strip() or None


def _privacy(args: argparse.Namespace) -> tuple[str, float, int]:
    """The rule, the weekly budget and k: ``--privacy``, or k-anonymity when only k is given."""
    privacy = args.privacy or (K_ANONYMITY if args.k_anonymity is not None else DP)
    if privacy == DP and args.k_anonymity is not None:
        raise SystemExit("--k-anonymity applies to --privacy k-anonymity only")
    if privacy == K_ANONYMITY and args.rho is not None:
        raise SystemExit("--rho applies to --privacy dp only")
    k = DEFAULT_K if args.k_anonymity is None else args.k_anonymity
    if k < 1:
        raise SystemExit("--k-anonymity must be at least 1")
    try:
        rho = weekly_rho(args.rho)
    except ValueError as err:
        raise SystemExit(f"--rho: {err}") from None
    return privacy, rho, k


async def _serve(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or until ``stop`` is set)."""
    privacy, rho, k = _privacy(args)
    if args.max_connections < 1 or args.header_timeout <= 0 or args.body_timeout <= 0:
        raise SystemExit("--max-connections, --header-timeout and --body-timeout must be positive")
    token = _admin_token(args.admin_token_file)
    if args.publication_delay_days < 0:
        raise SystemExit("--publication-delay-days must not be negative")
    storage = Storage(
        args.database,
        pool_size=args.pool_size,
        max_new_installations_per_week=args.max_new_installations_per_week,
    )
    await storage.migrate()
    settings = Settings(
        privacy=privacy,
        rho=rho,
        k_anonymity=k,
        retention_days=args.retention_days,
        admin_token=token,
        purge_interval=args.purge_interval,
        publication_delay_days=args.publication_delay_days,
        publish_interval=args.publish_interval,
        body_timeout=args.body_timeout,
    )
    max_connections = connection_limit(args.max_connections, raise_descriptor_limit())
    runner = web.AppRunner(
        create_app(storage, settings), handle_signals=False, **handler_options(args.header_timeout)
    )
    await runner.setup()
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    site = LimitedSite(runner, sock, max_connections)
    await site.start()

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    _LOGGER.info(
        "Collector %s listening on port %d (publishing under %s, admin endpoints %s, at most %d connections)",
        __version__,
        port,
        f"dp at rho {rho:g} a week" if privacy == DP else f"k-anonymity with k = {k}",
        "enabled" if token else "disabled",
        max_connections,
    )
    # The line a parent process waits for (the port is the one bound, also for --port 0).
    print(f"usage-stats-collector ready port={port}", flush=True)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await runner.cleanup()
        await storage.close()
        _LOGGER.info("Collector stopped")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``usage-stats-collector`` command."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if args.command == "migrate":
        asyncio.run(_migrate(args.database))
        print("database is up to date", flush=True)
        return 0
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
