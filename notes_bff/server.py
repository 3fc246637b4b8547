"""``create_app(settings)``: the aiohttp application, and the gunicorn entry point."""

from __future__ import annotations

import gc
import hmac
from collections.abc import Sequence

from aiohttp import web
from pymongo.monitoring import CommandListener

from notes_bff.auth.passwords import Passwords
from notes_bff.config import Settings
from notes_bff.execution.limits import Limits
from notes_bff.http import dev_mail, exports, graphiql, middlewares, unsubscribe
from notes_bff.http.collab_socket import PATH as COLLAB_PATH
from notes_bff.http.collab_socket import CollabSocket
from notes_bff.http.etags import etags
from notes_bff.http.idempotency import idempotency
from notes_bff.http.view import NotesGraphQLView
from notes_bff.keys import METRICS, PASSWORDS, SETTINGS
from notes_bff.logs import configure_logging
from notes_bff.metrics import Metrics
from notes_bff.observability import http as observed_http
from notes_bff.observability import tracing
from notes_bff.observability.drain import DRAIN, Drain, drain_on_sigterm
from notes_bff.observability.health import healthz, readyz
from notes_bff.observability.services import MongoCommandObserver
from notes_bff.redis_guard import RedisGuard
from notes_bff.response_cache.undeclared import UndeclaredReads
from notes_bff.schema import build_schema
from notes_bff.wiring import components


def _may_read_metrics(request: web.Request) -> bool:
    """With ``NOTES_BFF_METRICS_TOKEN``, only its bearer; without it, only in development."""
    settings = request.app[SETTINGS]
    if settings.metrics_token is None:
        return not settings.is_production
    expected = f"Bearer {settings.metrics_token.get_secret_value()}".encode()
    return hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format; 404, like an unknown path, to whom may not read it."""
    if not _may_read_metrics(request):
        raise web.HTTPNotFound()
    response = web.Response(body=request.app[METRICS].render())
    response.content_type = "text/plain"
    response.charset = "utf-8"
    response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
    return response


async def tune_gc(app: web.Application) -> None:
    """Raise the garbage collector's first threshold and freeze what startup built.

    A worker holding thousands of websockets keeps many objects alive across awaits, so with
    Python's default (a collection every 700 allocations) fan-out spends a quarter of its
    time collecting, and full collections stall every subscriber (bench/results.md).
    """
    threshold = app[SETTINGS].gc_threshold
    if threshold:
        gc.collect()
        gc.freeze()
        gc.set_threshold(threshold, *gc.get_threshold()[1:])


def create_app(
    settings: Settings | None = None, *, mongo_listeners: Sequence[CommandListener] = ()
) -> web.Application:
    """The application for ``settings`` (default: from the environment).

    ``mongo_listeners`` are pymongo command listeners (tests count round trips with one).
    """
    settings = settings or Settings()
    tracing.configure(settings)
    app_metrics = Metrics(max_operations=settings.metrics_max_operations)
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[
            observed_http.observe(app_metrics),
            middlewares.security_headers(settings),
            middlewares.cors(settings),
            middlewares.compression(settings.compress_min_bytes),
            etags(settings.browser_cache_seconds),
            middlewares.json_errors,
            idempotency(RedisGuard("idempotency", app_metrics)),
        ],
    )
    app[SETTINGS] = settings
    app[METRICS] = app_metrics
    app[PASSWORDS] = Passwords(settings.argon2_time_cost, settings.argon2_memory_kib)
    app[DRAIN] = Drain()
    app.on_response_prepare.append(observed_http.identify_response)
    observers = [MongoCommandObserver(app_metrics), UndeclaredReads(), *tracing.mongo_listeners()]
    app.cleanup_ctx.extend(components([*mongo_listeners, *observers]))
    view = NotesGraphQLView(
        build_schema(
            introspection=settings.introspection_enabled,
            limits=Limits(
                max_depth=settings.max_depth,
                max_aliases=settings.max_aliases,
                max_tokens=settings.max_tokens,
                max_root_fields=settings.max_root_fields,
                max_directives_per_field=settings.max_directives_per_field,
                max_cost=settings.max_cost,
                max_validation_work=settings.max_validation_work,
            ),
        ),
        app_metrics,
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        allowed_origins=settings.cors_origins,
    )
    app.on_startup.append(tune_gc)
    app.on_shutdown.append(view.sockets.close_all)
    app.router.add_route("GET", "/graphql", view)
    app.router.add_route("POST", "/graphql", view)
    app.router.add_get(COLLAB_PATH, CollabSocket(view.sockets).handle)
    app.router.add_get(exports.PATH, exports.download)
    if settings.graphiql_enabled:
        app.router.add_get(graphiql.STATIC_PATH + "{path:.+}", graphiql.static_file)
    app.router.add_get(unsubscribe.PATH, unsubscribe.confirm_page)
    app.router.add_post(unsubscribe.PATH, unsubscribe.one_click)
    if not settings.is_production:
        app.router.add_get(dev_mail.PATH, dev_mail.mail_list)
        app.router.add_get(dev_mail.PATH + "/{name}", dev_mail.mail_source)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


async def gunicorn_app() -> web.Application:
    """Gunicorn target (``notes_bff.server:gunicorn_app``), for aiohttp's gunicorn workers."""
    settings = Settings()
    configure_logging(settings)
    app = create_app(settings)
    app.on_startup.append(drain_on_sigterm(settings))
    return app
