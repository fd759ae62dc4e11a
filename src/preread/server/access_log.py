"""One JSON line per request on stdout, and the request counters behind /metrics.

A pure ASGI middleware (no per-request task or body buffering). Lines are queued
for a writer thread (``preread.server.log_writer``): a stdout nobody reads never
stalls the event loop (lines are dropped, and counted, instead). It logs the
route template, path (never the query string, which may carry tokens), status,
duration, bytes sent, ``X-Cache`` and a request id (``X-Request-ID`` from the
client when it is a short safe token, else a fresh one; echoed in the response).
Headers, the ``Authorization`` value included, are never logged.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring_ascii
from typing import IO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from preread.server.log_writer import LineWriter
from preread.server.metrics import Metrics

_quote: Callable[[str], str] = encode_basestring_ascii  # a JSON string, as json.dumps
_SAFE_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")


def request_id_of(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is a short safe token, else a fresh one."""
    return request_id_in(scope.get("headers", ()))


def request_id_in(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """``request_id_of`` for a request's raw (lower-case name, value) headers."""
    for name, value in headers:
        if name == b"x-request-id" and _SAFE_ID.match(value):
            return str(value.decode("ascii"))
    # not a secret, a label to find a request by: Python's generator (seeded from the OS,
    # re-seeded in a forked child), no system call per request
    return f"{random.getrandbits(64):016x}"


def _quote_or_null(value: str | None) -> str:
    return "null" if value is None else _quote(value)


class AccessRecorder:
    """What is kept of each request: the request counters and, when enabled, the log line.

    Shared by the middleware and the chunk fast path (``preread.server.fastpath``), so a
    request is counted and logged the same way whichever of them answered it.
    """

    def __init__(self, metrics: Metrics, enabled: bool, writer: LineWriter) -> None:
        self.metrics = metrics
        self.enabled = enabled
        self.writer = writer

    def record(
        self,
        scope: Scope,
        request_id: str,
        route: str,
        method: str,
        status: int,
        sent: int,
        cache: str | None,
        started: float,
    ) -> None:
        client = scope.get("client")
        self.record_parts(
            client[0] if client else None,
            str(scope.get("path", "")),
            request_id,
            route,
            method,
            status,
            sent,
            cache,
            started,
        )

    def record_parts(
        self,
        client: str | None,
        path: str,
        request_id: str,
        route: str,
        method: str,
        status: int,
        sent: int,
        cache: str | None,
        started: float,
    ) -> None:
        """``record``, given the client's address and the path rather than the scope."""
        self.metrics.request(route, method, status, sent)
        if not self.enabled:
            return
        # what json.dumps(..., separators=(",", ":")) writes for this dict, without
        # building the dict or walking it: strings through json's own (C) escaping
        duration = round((time.perf_counter() - started) * 1000, 2)
        self.writer.write(
            f'{{"ts":{round(time.time(), 3)!r},"requestId":{_quote(request_id)},'
            f'"method":{_quote(method)},"route":{_quote(route)},"path":{_quote(path[:200])},'
            f'"status":{int(status)},"durationMs":{duration!r},"bytes":{int(sent)},'
            f'"cache":{_quote_or_null(cache)},"client":{_quote_or_null(client)}}}\n'
        )


class AccessLogMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        enabled: bool = True,
        stream: IO[str] | None = None,
        writer: LineWriter | None = None,
    ) -> None:
        """``writer``: the app's (closed by its lifespan); else one writing to ``stream``."""
        self.app = app
        self.metrics = metrics
        self.enabled = enabled
        self.writer = writer if writer is not None else LineWriter(stream)
        self.recorder = AccessRecorder(metrics, enabled, self.writer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        scope["preread.request_id"] = request_id
        rid = request_id.encode("ascii")
        status = 500
        sent = 0
        cache = None

        async def send_wrapper(message: Message) -> None:
            nonlocal status, sent, cache
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                for name, value in headers:
                    if name.lower() == b"x-cache":
                        cache = value.decode("latin-1")
                headers.append((b"x-request-id", rid))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route_obj = scope.get("route")
            route = getattr(route_obj, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.recorder.record(scope, request_id, route, method, status, sent, cache, started)
