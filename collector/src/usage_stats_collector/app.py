"""The aiohttp application: report intake, deletion, public statistics and admin endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .insight_page import integrations_card, render_integration
from .insights import InsightCache, Insights
from .intake import MAX_BODY_BYTES, ClientGoneError, RequestError, period_problem, read_json
from .openapi import openapi_document
from .otlp import OtlpError, otlp_to_report
from .page import render_page
from .privacy_dp import DEFAULT_RHO
from .publication import DEFAULT_DELAY_DAYS, publish_due, stats_document
from .publication_dp import DP
from .schema import validate_deletion, validate_report
from .storage import Outcome, Storage

_LOGGER = logging.getLogger(__name__)

DOMAIN = re.compile(r"[a-z][a-z0-9_]{0,31}")  # a printer integration's domain (a catalogue label)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SERVER_NAME = "usage-stats-collector"  # the Server header: no version
# Every response: no sniffing, no caching, no framing, no referrer, and nothing to load.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Settings:
    """Runtime settings of one collector process."""

    # The rule new weeks are published under: "dp" (differential privacy at the weekly budget
    # ``rho``) or "k-anonymity" (with ``k_anonymity``).
    privacy: str = DP
    rho: float = DEFAULT_RHO
    k_anonymity: int = 5
    retention_days: float = 400
    admin_token: str | None = None
    purge_interval: float = 3600.0
    # A week is published this long after it ends (Monday 00:00 UTC); 3 = from the Thursday.
    publication_delay_days: float = DEFAULT_DELAY_DAYS
    publish_interval: float = 600.0
    body_timeout: float = 10.0  # seconds to receive a request body
    clock: Callable[[], dt.datetime] = field(default=_utcnow)  # the receive time (UTC)


STORAGE_KEY = web.AppKey("storage", Storage)
SETTINGS_KEY = web.AppKey("settings", Settings)
INSIGHTS_KEY = web.AppKey("insights", InsightCache)


def _error(status: int, reason: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": reason}, status=status, headers=headers)


# Errors aiohttp raises itself (routing, size): the same JSON body as every other error.
_HTTP_REASONS = {
    404: "not found",
    405: "method not allowed",
    413: f"body larger than {MAX_BODY_BYTES} bytes",
}


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestError as err:
        return _error(err.status, err.reason, err.headers)
    except ClientGoneError:
        return _error(400, "incomplete body", {"Connection": "close"})
    except web.HTTPException as err:
        if err.status < 400:  # pragma: no cover - no handler redirects
            raise
        kept = {name: err.headers[name] for name in ("Allow", "Retry-After") if name in err.headers}
        return _error(err.status, _HTTP_REASONS.get(err.status, err.reason.lower()), kept)
    except asyncio.CancelledError:  # pragma: no cover - client went away
        raise
    except Exception:
        # No request details in the log: they could identify the sender.
        _LOGGER.exception("Unexpected error handling %s %s", request.method, request.path)
        return _error(500, "internal error")


async def _secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Security headers on every response the application sends, error pages included."""
    headers = response.headers
    headers.update(SECURITY_HEADERS)
    headers.setdefault("Content-Security-Policy", DEFAULT_CSP)
    headers.setdefault("Cache-Control", "no-store")
    headers["Server"] = SERVER_NAME


_REFUSED = {
    Outcome.RATE_LIMITED: (429, "one report per installation per hour"),
    Outcome.TOO_MANY_NEW: (429, "too many new installations this week"),
    Outcome.DELETED: (410, "installation deleted"),
}


async def _store(request: web.Request, report: Any, *, otlp: bool) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    reason = validate_report(report)
    if reason is None:
        reason = period_problem(report["period"], settings.clock().date(), settings.retention_days)
    if reason is not None:
        return _error(400, reason)
    result = await request.app[STORAGE_KEY].submit_report(report)
    if result.outcome in _REFUSED:
        status, reason = _REFUSED[result.outcome]
        headers = {"Retry-After": str(result.retry_after)} if result.retry_after is not None else {}
        return _error(status, reason, headers)
    if otlp:
        return web.json_response({}, status=200)  # an OTLP ExportMetricsServiceResponse
    if result.outcome is Outcome.DUPLICATE:
        return web.json_response({"status": "duplicate"}, status=200)
    return web.json_response({"status": "accepted"}, status=201)


async def _body(request: web.Request) -> Any:
    return await read_json(request, within=request.app[SETTINGS_KEY].body_timeout)


async def post_report(request: web.Request) -> web.Response:
    """POST /v1/reports."""
    return await _store(request, await _body(request), otlp=False)


async def post_metrics(request: web.Request) -> web.Response:
    """POST /v1/metrics: the same report as OTLP/HTTP JSON."""
    if request.content_type == "application/x-protobuf":
        return _error(415, "only OTLP/HTTP JSON is accepted (Content-Type: application/json)")
    body = await _body(request)
    try:
        report = otlp_to_report(body)
    except OtlpError as err:
        return _error(400, str(err)[:200])
    return await _store(request, report, otlp=True)


async def post_deletion(request: web.Request) -> web.Response:
    """POST /v1/deletion: forget an installation."""
    document = await _body(request)
    reason = validate_deletion(document)
    if reason is not None:
        return _error(400, reason)
    deleted = await request.app[STORAGE_KEY].delete_installation(document["installation_id"])
    return web.json_response({"status": "deleted", "reports_deleted": deleted})


async def _stats(request: web.Request) -> str:
    settings = request.app[SETTINGS_KEY]
    return await stats_document(
        request.app[STORAGE_KEY],
        settings.k_anonymity,
        settings.publication_delay_days,
        privacy=settings.privacy,
        rho=settings.rho,
    )


async def get_stats(request: web.Request) -> web.Response:
    """GET /v1/stats: the published weeks (fixed snapshots), newest first, and the privacy ledger."""
    return web.Response(text=await _stats(request), content_type="application/json")


def _html(text: str, status: int = 200) -> web.Response:
    response = web.Response(text=text, content_type="text/html", status=status)
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


async def _insights(request: web.Request) -> Insights:
    return await request.app[INSIGHTS_KEY].get(request.app[STORAGE_KEY])


async def get_page(request: web.Request) -> web.Response:
    """GET /: the aggregates as a plain HTML page."""
    insights = await _insights(request)
    card: str = insights.memo("card", "", lambda: integrations_card(insights.index()))
    return _html(render_page(json.loads(await _stats(request)), request.query.get("week"), card))


async def get_integrations(request: web.Request) -> web.Response:
    """GET /v1/integrations: the printer integrations the published weeks show."""
    insights = await _insights(request)
    text: str = insights.memo("index", "", lambda: json.dumps(insights.index(), separators=(",", ":")))
    return web.Response(text=text, content_type="application/json")


async def _integration(request: web.Request) -> tuple[Insights, str, dict[str, Any]]:
    """The insights of the path's integration; 404 unless a published week has it."""
    domain = request.match_info["domain"]
    insights = await _insights(request)
    document = (
        insights.memo("document", domain, lambda: insights.integration(domain))
        if (DOMAIN.fullmatch(domain) and domain in insights.installations)
        else None
    )
    if document is None:
        settings = request.app[SETTINGS_KEY]
        needs = (
            "enough installations in a week to pass the noisy threshold"
            if settings.privacy == DP
            else f"{settings.k_anonymity} installations in a week"
        )
        raise RequestError(404, f"no published statistics for this integration (it needs {needs})")
    return insights, domain, document


async def get_integration(request: web.Request) -> web.Response:
    """GET /v1/integrations/{domain}: an integration's insights, from the published weeks."""
    insights, domain, document = await _integration(request)
    text: str = insights.memo("json", domain, lambda: json.dumps(document, separators=(",", ":")))
    return web.Response(text=text, content_type="application/json")


async def get_integration_page(request: web.Request) -> web.Response:
    """GET /integrations/{domain}: the same insights as an HTML page."""
    insights, domain, document = await _integration(request)
    return _html(insights.memo("html", domain, lambda: render_integration(document)))


async def get_openapi(request: web.Request) -> web.Response:
    """GET /openapi.json: the API description (OpenAPI 3.1)."""
    return web.json_response(openapi_document())


async def get_health(request: web.Request) -> web.Response:
    """GET /healthz: ready when the database answers."""
    try:
        await request.app[STORAGE_KEY].ping()
    except Exception:
        _LOGGER.warning("Health check: the database does not answer", exc_info=True)
        return _error(503, "database unavailable")
    return web.json_response({"status": "ok"})


def _require_admin(request: web.Request) -> None:
    token = request.app[SETTINGS_KEY].admin_token
    if not token:
        raise web.HTTPNotFound  # exactly like a path that does not exist
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    try:
        candidate = presented.strip().encode("utf-8")
    except UnicodeEncodeError:  # raw bytes that are not UTF-8 (surrogate-escaped by aiohttp)
        candidate = b""
    if scheme.lower() != "bearer" or not hmac.compare_digest(candidate, token.encode("utf-8")):
        raise RequestError(401, "admin token required", {"WWW-Authenticate": "Bearer"})


async def admin_export(request: web.Request) -> web.Response:
    """GET /v1/admin/installations/{installation_id}: raw export of one installation."""
    _require_admin(request)
    installation_id = request.match_info["installation_id"]
    if not UUID.fullmatch(installation_id):
        return _error(400, "installation_id must be a UUID")
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


async def _warm_insights(app: web.Application) -> None:
    """Compute the insights ahead of requests: at startup, and after a publication run wrote weeks."""
    try:
        await app[INSIGHTS_KEY].get(app[STORAGE_KEY])
    except Exception:
        _LOGGER.warning("Insights: the published weeks could not be read", exc_info=True)


async def _publish_periodically(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    storage = app[STORAGE_KEY]

    async def loop() -> None:
        while True:
            try:
                weeks = await publish_due(
                    storage,
                    k=settings.k_anonymity,
                    privacy=settings.privacy,
                    rho=settings.rho,
                    delay_days=settings.publication_delay_days,
                    retention_days=settings.retention_days,
                )
                if weeks:
                    _LOGGER.info("Published weeks %s", ", ".join(weeks))
                    await _warm_insights(app)
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
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[_errors])
    app.on_response_prepare.append(_secure_headers)
    app[STORAGE_KEY] = storage
    app[SETTINGS_KEY] = settings or Settings()
    app[INSIGHTS_KEY] = InsightCache()
    app.on_startup.append(_warm_insights)
    if app[SETTINGS_KEY].purge_interval > 0:
        app.cleanup_ctx.append(_purge_periodically)
    if app[SETTINGS_KEY].publish_interval > 0:
        app.cleanup_ctx.append(_publish_periodically)
    app.router.add_get("/", get_page)
    app.router.add_get("/healthz", get_health)
    app.router.add_get("/openapi.json", get_openapi)
    app.router.add_get("/v1/stats", get_stats)
    app.router.add_get("/v1/integrations", get_integrations)
    app.router.add_get("/v1/integrations/{domain}", get_integration)
    app.router.add_get("/integrations/{domain}", get_integration_page)
    app.router.add_post("/v1/reports", post_report)
    app.router.add_post("/v1/metrics", post_metrics)
    app.router.add_post("/v1/deletion", post_deletion)
    app.router.add_get("/v1/admin/installations/{installation_id}", admin_export)
    app.router.add_post("/v1/admin/purge", admin_purge)
    return app
