"""Bearer-token auth for every POST and DELETE when ``PREREAD_API_TOKEN`` is set.

Reads stay open (a reader app streams chunks without a token); anything that
writes, deletes or triggers synthesis (POST) needs ``Authorization: Bearer
<token>``. The comparison is constant-time; the token is never logged or echoed.
"""

from __future__ import annotations

import hmac

from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from preread.errors import Unauthorized
from preread.server.errors import error_response

GUARDED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def bearer_ok(header: bytes | None, token: bytes) -> bool:
    """True when ``header`` is ``Bearer <token>`` (scheme case-insensitive)."""
    if header is None:
        return False
    scheme, _, value = header.strip().partition(b" ")
    if scheme.lower() != b"bearer":
        return False
    return hmac.compare_digest(value.strip(), token)


def _name_route(scope: Scope) -> None:
    """Record the route a refused request was for, as routing would (logs, metrics)."""
    for route in getattr(scope.get("app"), "routes", ()):
        match, _ = route.matches(scope)
        if match != Match.NONE:
            scope["route"] = route
            return


class BearerAuthMiddleware:
    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self.token = token.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") in GUARDED_METHODS:
            header = next((v for k, v in scope.get("headers", ()) if k == b"authorization"), None)
            if not bearer_ok(header, self.token):
                _name_route(scope)
                reason = "missing" if header is None else "wrong"
                response = error_response(
                    Unauthorized(f"{reason} API token: send Authorization: Bearer <token>")
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
