"""The aiohttp application: report intake, deletion, public statistics and admin endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .otlp import OtlpError, otlp_to_report
from .page import render_page
from .publication import DEFAULT_DELAY_DAYS, publish_due, stats_document
from .schema import validate_deletion, validate_report
from .storage import Outcome, Storage

_LOGGER = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Settings:
    """Runtime settings of one collector process."""

    k_anonymity: int = 5
    retention_days: float = 400
    admin_token: str | None = None
    purge_interval: float = 3600.0
    # A week is published this long after it ends (Monday 00:00 UTC); 2 = from the Wednesday.
    publication_delay_days: float = DEFAULT_DELAY_DAYS
    publish_interval: float = 600.0


STORAGE_KEY = web.AppKey("storage", Storage)
SETTINGS_KEY = web.AppKey("settings", Settings)


def _error(status: int, reason: str, **headers: str) -> web.Response:
    return web.json_response({"error": reason}, status=status, headers=headers or None)


async def _read_json(request: web.Request) -> Any:
    """Read and parse a JSON body, refusing bodies over the limit before parsing them."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=request.content_length)
    body = await request.read()  # enforces client_max_size for chunked bodies
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _BadRequestError(f"body is not JSON: {err.__class__.__name__}") from None


class _BadRequestError(Exception):
    """A client error with a short reason."""


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except _BadRequestError as err:
        return _error(400, str(err))
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"body larger than {MAX_BODY_BYTES} bytes")
    except web.HTTPException:
        raise
    except asyncio.CancelledError:  # pragma: no cover - client went away
        raise
    except Exception:
        # No request details in the log: they could identify the sender.
        _LOGGER.exception("Unexpected error handling %s %s", request.method, request.path)
        return _error(500, "internal error")


@web.middleware
async def _security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


_REFUSED = {
    Outcome.RATE_LIMITED: (429, "one report per installation per hour"),
    Outcome.TOO_MANY_NEW: (429, "too many new installations this week"),
    Outcome.DELETED: (410, "installation deleted"),
}


async def _store(request: web.Request, report: Any, *, otlp: bool) -> web.Response:
    reason = validate_report(report)
    if reason is not None:
        return _error(400, reason)
    result = await request.app[STORAGE_KEY].submit_report(report)
    if result.outcome in _REFUSED:
        status, reason = _REFUSED[result.outcome]
        headers = {"Retry-After": str(result.retry_after)} if result.retry_after is not None else {}
        return _error(status, reason, **headers)
    if otlp:
        return web.json_response({}, status=200)  # an OTLP ExportMetricsServiceResponse
    if result.outcome is Outcome.DUPLICATE:
        return web.json_response({"status": "duplicate"}, status=200)
    return web.json_response({"status": "accepted"}, status=201)


async def post_report(request: web.Request) -> web.Response:
    """POST /v1/reports."""
    return await _store(request, await _read_json(request), otlp=False)


async def post_metrics(request: web.Request) -> web.Response:
    """POST /v1/metrics: the same report as OTLP/HTTP JSON."""
    if request.content_type == "application/x-protobuf":
        return _error(415, "only OTLP/HTTP JSON is accepted (Content-Type: application/json)")
    body = await _read_json(request)
    try:
        report = otlp_to_report(body)
    except OtlpError as err:
        return _error(400, str(err))
    return await _store(request, report, otlp=True)


async def post_deletion(request: web.Request) -> web.Response:
    """POST /v1/deletion: forget an installation."""
    document = await _read_json(request)
    reason = validate_deletion(document)
    if reason is not None:
        return _error(400, reason)
    deleted = await request.app[STORAGE_KEY].delete_installation(document["installation_id"])
    return web.json_response({"status": "deleted", "reports_deleted": deleted})


async def _stats(request: web.Request) -> str:
    settings = request.app[SETTINGS_KEY]
    return await stats_document(
        request.app[STORAGE_KEY], settings.k_anonymity, settings.publication_delay_days
    )


async def get_stats(request: web.Request) -> web.Response:
    """GET /v1/stats: the published weeks (fixed k-anonymous snapshots), newest first."""
    return web.Response(text=await _stats(request), content_type="application/json")


async def get_page(request: web.Request) -> web.Response:
    """GET /: the aggregates as a plain HTML page."""
    response = web.Response(
        text=render_page(json.loads(await _stats(request)), request.query.get("week")),
        content_type="text/html",
    )
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
    )
    return response


async def get_health(request: web.Request) -> web.Response:
    """GET /healthz: ready when the database answers."""
    await request.app[STORAGE_KEY].ping()
    return web.json_response({"status": "ok"})


def _require_admin(request: web.Request) -> None:
    token = request.app[SETTINGS_KEY].admin_token
    if not token:
        raise web.HTTPNotFound(text="admin endpoints are disabled", content_type="text/plain")
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode("utf-8"), token.encode("utf-8")
    ):
        raise web.HTTPUnauthorized(
            text="admin token required", content_type="text/plain", headers={"WWW-Authenticate": "Bearer"}
        )


async def admin_export(request: web.Request) -> web.Response:
    """GET /v1/admin/installations/{installation_id}: raw export of one installation."""
    _require_admin(request)
    installation_id = request.match_info["installation_id"]
    reports = await request.app[STORAGE_KEY].export_installation(installation_id)
    return web.json_response({"installation_id": installation_id, "reports": reports})


async def admin_purge(request: web.Request) -> web.Response:
    """POST /v1/admin/purge: apply the retention period now."""
    _require_admin(request)
    purged = await request.app[STORAGE_KEY].purge(request.app[SETTINGS_KEY].retention_days)
    return web.json_response({"purged": purged, "retention_days": request.app[SETTINGS_KEY].retention_days})


async def _purge_periodically(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    storage = app[STORAGE_KEY]

    async def loop() -> None:
        while True:
            try:
                purged = await storage.purge(settings.retention_days)
                if purged:
                    _LOGGER.info("Retention: purged %d reports", purged)
            except Exception:  # pragma: no cover - logged and retried next time
                _LOGGER.exception("Retention purge failed")
            await asyncio.sleep(settings.purge_interval)

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _publish_periodically(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    storage = app[STORAGE_KEY]

    async def loop() -> None:
        while True:
            try:
                weeks = await publish_due(
                    storage,
                    k=settings.k_anonymity,
                    delay_days=settings.publication_delay_days,
                    retention_days=settings.retention_days,
                )
                if weeks:
                    _LOGGER.info("Published weeks %s", ", ".join(weeks))
            except Exception:  # pragma: no cover - logged and retried next time
                _LOGGER.exception("Publication failed")
            await asyncio.sleep(settings.publish_interval)

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def create_app(storage: Storage, settings: Settings | None = None) -> web.Application:
    """Build the application around an already migrated storage."""
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[_security_headers, _errors])
    app[STORAGE_KEY] = storage
    app[SETTINGS_KEY] = settings or Settings()
    if app[SETTINGS_KEY].purge_interval > 0:
        app.cleanup_ctx.append(_purge_periodically)
    if app[SETTINGS_KEY].publish_interval > 0:
        app.cleanup_ctx.append(_publish_periodically)
    app.router.add_get("/", get_page)
    app.router.add_get("/healthz", get_health)
    app.router.add_get("/v1/stats", get_stats)
    app.router.add_post("/v1/reports", post_report)
    app.router.add_post("/v1/metrics", post_metrics)
    app.router.add_post("/v1/deletion", post_deletion)
    app.router.add_get("/v1/admin/installations/{installation_id}", admin_export)
    app.router.add_post("/v1/admin/purge", admin_purge)
    return app
