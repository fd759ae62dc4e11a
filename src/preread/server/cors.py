"""CORS for reader apps in browsers, with preflight refusals as JSON errors.

Starlette's ``CORSMiddleware`` does the work; this module sets it up the way a
reader app needs it and makes its one non-JSON answer (a refused preflight,
``400 Disallowed CORS …`` in plain text) the same ``{"error": …}`` as every
other error.

- Any request header is allowed (mirrored back): the OpenAI JavaScript SDK
  sends ``x-stainless-*`` headers, apps send ``X-Request-ID``; a fixed list
  would refuse their preflights. Credentials (cookies) are never allowed, so
  this grants nothing a page could not already send without them.
- The headers a player or ``fetch`` reads are exposed: ``Content-Range``,
  ``Accept-Ranges``, ``ETag``, ``X-Cache``, ``X-Preread-Synthesized-Chars``,
  ``X-Preread-Spoken-By``, ``X-Request-ID``, ``Retry-After``.
- A configured origin may reach a server on a private network (Chrome's
  ``Access-Control-Request-Private-Network`` preflight): the operator named it.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from preread.server.errors import json_error

ALLOWED_METHODS = ["GET", "HEAD", "POST", "DELETE", "OPTIONS"]
EXPOSED_HEADERS = [
    "Content-Range",
    "Content-Length",
    "Accept-Ranges",
    "ETag",
    "X-Cache",
    "X-Preread-Synthesized-Chars",
    "X-Preread-Spoken-By",
    "X-Request-ID",
    "Retry-After",
]
_REFUSED = "Disallowed CORS "


class JsonCORSMiddleware(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        body = bytes(response.body)
        if response.status_code < 400 or not body.startswith(_REFUSED.encode()):
            return response
        what = body[len(_REFUSED) :].decode("latin-1", "replace")
        headers = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-length", "content-type")
        }
        return json_error(
            response.status_code,
            "cors_refused",
            f"CORS preflight refused ({what}): allowed origins are set by PREREAD_CORS_ORIGINS",
            headers,
        )


def cors_middleware(origins: tuple[str, ...] | list[str]) -> Middleware:
    """The CORS middleware for ``origins`` (``*`` allows any origin)."""
    return Middleware(
        JsonCORSMiddleware,
        allow_origins=list(origins),
        allow_methods=ALLOWED_METHODS,
        allow_headers=["*"],
        expose_headers=EXPOSED_HEADERS,
        allow_private_network=True,
        max_age=600,
    )
