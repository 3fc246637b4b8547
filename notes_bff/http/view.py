"""The GraphQL view: context per request, CSRF prevention, error codes to HTTP statuses."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, TypeGuard

import orjson
from aiohttp import hdrs, web
from cross_web import HTTPException
from graphql import GraphQLError
from strawberry.aiohttp.views import GraphQLView
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from notes_bff.auth.consistency import ConsistencyTokens
from notes_bff.errors import AppError, BadInput, Forbidden, ServiceUnavailable
from notes_bff.execution.errors import classify
from notes_bff.http import graphiql
from notes_bff.http.admission import admit
from notes_bff.http.context import CONSISTENCY_HEADER, HttpContext
from notes_bff.http.cookies import ACCESS_COOKIE, bearer_token
from notes_bff.http.responses import error_response
from notes_bff.http.sockets import SocketRegistry
from notes_bff.http.ws_handlers import LegacyWSHandler, TransportWSHandler
from notes_bff.keys import (
    COLLAB,
    CONSISTENCY,
    MONGO_READY,
    OPERATION_TYPE,
    PASSWORDS,
    RATE_LIMITS,
    REALTIME,
    REQUEST_ID,
    RESPONSE_CACHE,
    SESSIONS,
    SETTINGS,
)
from notes_bff.metrics import Metrics
from notes_bff.models.read_routing import ReadAfter
from notes_bff.persisted.protocol import PersistedQueryError, operation_document
from notes_bff.ratelimit import client_ip
from notes_bff.services.actor import Actor

# Apollo's CSRF prevention: a "simple" request (one a browser sends cross-site without a
# preflight) may not be authenticated by cookie.
SIMPLE_CONTENT_TYPES = {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
PREFLIGHT_HEADERS = ("X-Requested-With", "Apollo-Require-Preflight", "X-Apollo-Operation-Name")
STATUS_OF_CODE = {
    "GRAPHQL_PARSE_FAILED": 400,
    "GRAPHQL_VALIDATION_FAILED": 400,
    "PERSISTED_QUERY_REQUIRED": 400,
    "QUERY_TOO_COMPLEX": 400,
    "RATE_LIMITED": 429,
    "SERVICE_UNAVAILABLE": 503,
}


def is_simple_request(request: web.Request) -> bool:
    """Whether a browser could send this cross-site without a CORS preflight."""
    if any(request.headers.get(h, "").strip() for h in PREFLIGHT_HEADERS):
        return False
    if request.method == "GET":
        return True
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    return content_type in SIMPLE_CONTENT_TYPES or not content_type


def _error_codes(item: GraphQLHTTPResponse) -> list[str]:
    errors: list[dict[str, Any]] = item.get("errors") or []  # type: ignore[assignment]
    return [str((e.get("extensions") or {}).get("code", "")) for e in errors]


def _retry_after(item: GraphQLHTTPResponse, response: web.Response) -> None:
    """``Retry-After`` for a refused sign-in attempt (a spent operation budget set it already)."""
    errors: list[dict[str, Any]] = item.get("errors") or []  # type: ignore[assignment]
    for error in errors:
        extensions = error.get("extensions") or {}
        if extensions.get("code") == "RATE_LIMITED" and "Retry-After" not in response.headers:
            retry = extensions.get("retryAfter")
            if isinstance(retry, int):
                response.headers["Retry-After"] = str(retry)


def _read_after(request: web.Request, consistency: ConsistencyTokens | None) -> ReadAfter | None:
    """The point the request's ``X-Notes-Consistency`` names (ignored while every read is on
    the primary); a 400 for a token this deployment did not issue."""
    sent = request.headers.get(CONSISTENCY_HEADER)
    if consistency is None or not sent:
        return None
    try:
        return consistency.read(CONSISTENCY_HEADER, sent)
    except BadInput as exc:
        raise HTTPException(400, exc.message) from exc


class NotesGraphQLView(GraphQLView[HttpContext, None]):
    """Strawberry's aiohttp view with the contract's auth, CSRF and error rules."""

    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, schema: BaseSchema, metrics: Metrics, **options: Any) -> None:
        super().__init__(schema, **options)
        self.metrics = metrics
        self.sockets = SocketRegistry()

    def is_websocket_request(self, request: web.Request) -> TypeGuard[web.Request]:
        """Whether ``request`` asks for a websocket: aiohttp's handshake check, asked only of
        requests with ``Upgrade: websocket`` (its first check; for every other request it
        built a response and a refusal to say no, twice per request)."""
        if request.headers.get(hdrs.UPGRADE, "").lower().strip() != "websocket":
            return False
        return super().is_websocket_request(request)

    async def on_ws_connect(self, context: HttpContext) -> UnsetType | dict[str, object] | None:
        """Authenticate a websocket: ``connection_init`` authorization, else the cookie."""
        return await self.sockets.authenticate(context)

    async def create_websocket_response(
        self, request: web.Request, subprotocol: str | None
    ) -> web.WebSocketResponse:
        """The websocket, with permessage-deflate only if ``NOTES_BFF_WS_COMPRESSION`` is on.

        Off by default (as in Node's ``ws`` server): compressing each small frame per
        subscriber costs CPU on every fan-out, and each compressed socket holds its own zlib
        state (hundreds of KiB) for its whole life.
        """
        protocols = [subprotocol] if subprotocol else []
        compress = request.app[SETTINGS].ws_compression
        # A message may be as large as an HTTP body, no larger.
        max_size = request.app[SETTINGS].max_body_bytes
        ws = web.WebSocketResponse(protocols=protocols, compress=compress, max_msg_size=max_size)
        await ws.prepare(request)
        return ws

    async def get_context(
        self, request: web.Request, response: web.Response | web.WebSocketResponse
    ) -> HttpContext:
        """Decode the bearer token or access cookie once, and refuse it if its session has
        ended (auth/revocation.py: no database read in the common case); fresh loaders."""
        app = request.app
        if not app[MONGO_READY].is_set():
            raise HTTPException(503, "MongoDB is not available yet; retry shortly.")
        sessions = app[SESSIONS]
        token = bearer_token(request.headers.get("Authorization", ""))
        if token is None and ACCESS_COOKIE in request.cookies:
            if not isinstance(response, web.WebSocketResponse) and is_simple_request(request):
                raise HTTPException(403, "csrf")
            token = request.cookies[ACCESS_COOKIE]
        actor = Actor(
            settings=app[SETTINGS],
            sessions=sessions,
            realtime=app[REALTIME],
            passwords=app[PASSWORDS],
            rate_limits=app[RATE_LIMITS],
            collab=app[COLLAB],
            client_ip=client_ip(request, app[SETTINGS].trusted_proxies),
        )
        if token:
            try:
                claims = sessions.tokens.verify(token, "access")
                await sessions.revocations.check(claims)
            except AppError as exc:
                actor.auth_error = exc
            else:
                actor.claims = claims
        consistency = app.get(CONSISTENCY)
        return HttpContext(
            actor=actor,
            metrics=self.metrics,
            request=request,
            response=response,
            request_id=request.get(REQUEST_ID, ""),
            response_cache=app.get(RESPONSE_CACHE),
            consistency=consistency,
            read_after=_read_after(request, consistency),
        )

    async def execute_single(
        self,
        request: web.Request,
        request_adapter: Any,
        sub_response: web.Response,
        context: HttpContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Resolve persisted queries, then execute; mutations over GET are 405."""
        settings = request.app[SETTINGS]
        try:
            resolved = await admit(context, request_data.query, request_data.extensions)
        except PersistedQueryError as exc:
            if exc.code == "PERSISTED_QUERY_NOT_FOUND":
                sub_response.headers["Cache-Control"] = "private, no-cache, must-revalidate"
            error = GraphQLError(exc.message, extensions={"code": exc.code})
            return ExecutionResult(data=None, errors=[error])
        try:
            async with asyncio.timeout(settings.operation_timeout_seconds):
                with operation_document(resolved):
                    result = await super().execute_single(
                        request=request,
                        request_adapter=request_adapter,
                        sub_response=sub_response,
                        context=context,
                        root_value=root_value,
                        request_data=replace(request_data, query=resolved.query),
                    )
        except TimeoutError:
            message = (
                f"The operation did not finish within {settings.operation_timeout_seconds:g} s "
                "and was cancelled."
            )
            return ExecutionResult(
                data=None,
                errors=[GraphQLError(message, extensions={"code": ServiceUnavailable.code})],
            )
        except HTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                raise HTTPException(405, exc.reason) from exc
            raise
        finally:
            if resolved.operation_type:
                request[OPERATION_TYPE] = resolved.operation_type
        if context.cache_status is not None:
            sub_response.headers["X-Cache"] = context.cache_status
        return result

    async def render_graphql_ide(self, request: web.Request) -> web.Response:
        """GraphiQL from the server's own files, with a Content-Security-Policy that allows
        only what the page loads (``http/graphiql.py``)."""
        return graphiql.page(request.app[SETTINGS])

    def should_render_graphql_ide(self, request: Any) -> bool:
        """GraphiQL for a browser's page load only: not for a hash-only (APQ) GET."""
        params = request.query_params
        return (
            request.method == "GET"
            and params.get("query") is None
            and params.get("extensions") is None
            and "text/html" in request.headers.get("accept", "")
        )

    def decode_json(self, data: str | bytes) -> object:
        """orjson: rejects invalid UTF-8 too; a body must be an object or a batch (array)."""
        try:
            decoded = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise HTTPException(400, "Unable to parse request body as JSON") from exc
        if not isinstance(decoded, dict | list) or (
            isinstance(decoded, list) and not all(isinstance(item, dict) for item in decoded)
        ):
            raise HTTPException(400, "The request body must be a JSON object.")
        return decoded

    def encode_json(self, data: object) -> str:
        """orjson, as text: websocket messages must be text frames (graphql-ws requires it)."""
        return orjson.dumps(data).decode()

    async def process_result(
        self, request: web.Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """The response body; any error that escaped ``ErrorCodes`` (raised by an extension,
        say) is masked here, so no uncoded message ever reaches a client."""
        if result.errors:
            request_id = request.get(REQUEST_ID, "")
            result.errors = [
                error
                if (error.extensions or {}).get("code")
                else classify(error, "execute", request_id, force_mask=True)
                for error in result.errors
            ]
        return await super().process_result(request, result)

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: web.Response,
    ) -> web.Response:
        """The JSON body, with the status CONTRACT.md gives a lone error without data.

        orjson's bytes are the body as they are (strawberry's view decoded them to text and
        aiohttp encoded that again: two copies of every body); the same
        ``Content-Type: application/json; charset=utf-8``."""
        response = sub_response
        response.body = orjson.dumps(response_data)
        response.content_type = "application/json"
        response.charset = "utf-8"
        items = response_data if isinstance(response_data, list) else [response_data]
        for item in items:
            for code in _error_codes(item):
                self.metrics.graphql_errors.labels(code).inc()
            _retry_after(item, response)
        if isinstance(response_data, dict) and response_data.get("data") is None:
            codes = _error_codes(response_data)
            if len(codes) == 1:
                response.set_status(STATUS_OF_CODE.get(codes[0], 200))
        return response

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        """Refusals before execution become JSON errors with an HTTP status."""
        try:
            if self.is_websocket_request(request):
                async with self.sockets.track(request):
                    return await self.run(request=request)
            return await self.run(request=request)
        except HTTPException as exc:
            if exc.status_code == 403 and exc.reason == "csrf":
                return error_response(
                    403,
                    "This request has been blocked as a potential Cross-Site Request Forgery: "
                    "send it with Content-Type: application/json or an Apollo-Require-Preflight "
                    "header.",
                    Forbidden.code,
                )
            code = ServiceUnavailable.code if exc.status_code == 503 else BadInput.code
            return error_response(exc.status_code, exc.reason, code)
