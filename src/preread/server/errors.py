"""Every error the server answers, in one place: ``{"error": {"code", "message"}}``.

``PrereadError`` subclasses carry their status and code (``preread.errors``);
Starlette's own ``HTTPException`` (unknown route 404, wrong method 405) gets the
same JSON shape; a client that went away before its body was read
(``ClientDisconnect``) is logged as 499 (nginx's "client closed request"), with no
traceback and no 5xx; anything else is a bug and answers 500 without details (the
traceback goes to stderr with the request id, never to the client).
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from preread.errors import PrereadError, Unauthorized

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    416: "range_not_satisfiable",
    429: "rate_limited",
    503: "busy",
}


def error_json(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode("utf-8")


def json_error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        error_json(code, message),
        status_code=status,
        headers=dict(headers or {}),
        media_type="application/json",
    )


def error_response(exc: PrereadError, headers: Mapping[str, str] | None = None) -> Response:
    extra = dict(headers or {})
    if exc.retry_after is not None:
        extra["Retry-After"] = str(max(1, round(exc.retry_after)))
    if isinstance(exc, Unauthorized):
        extra["WWW-Authenticate"] = 'Bearer realm="preread"'
    return json_error(exc.status_code, exc.code, exc.message, extra)


async def _preread_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PrereadError)
    return error_response(exc)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if exc.status_code not in (404, 405) else _route_message(request, exc)
    return json_error(exc.status_code, code, message, exc.headers)


def _route_message(request: Request, exc: HTTPException) -> str:
    if exc.status_code == 405:
        return f"method {request.method} is not allowed here"
    return f"no such route: {request.url.path[:200]}"


CLIENT_CLOSED_REQUEST = 499


async def _client_gone(request: Request, exc: Exception) -> Response:
    """Nobody will read this answer; its status is for the access log and /metrics."""
    return Response(status_code=CLIENT_CLOSED_REQUEST)


async def _unexpected(request: Request, exc: Exception) -> Response:
    request_id = request.scope.get("preread.request_id", "-")
    print(f"preread: internal error in request {request_id}:", file=sys.stderr)
    traceback.print_exception(exc, file=sys.stderr)
    return json_error(500, "internal", f"internal error (request id {request_id})")


EXCEPTION_HANDLERS = {
    PrereadError: _preread_error,
    HTTPException: _http_exception,
    ClientDisconnect: _client_gone,
    Exception: _unexpected,
}
