"""The hot request, answered before the Starlette stack: a stored chunk, whole.

A chunk GET or HEAD that is the common case — ``documentId`` (64 hex characters) with
``index`` (or ``page`` and ``blockIndex``), no ``Range``/``If-Range``, no CORS
``Origin`` to answer, its manifest cached and unchanged, the chunk done, its file whole
and at most ``whole_file_limit`` bytes — is answered here as a pure ASGI call: the
same headers, ETag/304, ``X-Cache: HIT``, ``X-Request-ID``, access log line, request
and cache counters and use mark as ``preread.server.chunks`` gives it through the
middleware, routing and handler layers (which cost more than the chunk itself).

Anything else — a prefix, a bad or extra parameter, a range, a miss, a manifest to
(re)load, a large file, an error — is declined before a byte is sent, and the full
stack answers it as before. The tests compare both paths header for header.
"""

from __future__ import annotations

import os
import re
import time

from starlette.types import Receive, Scope, Send

from preread.server.access_log import AccessRecorder, request_id_of
from preread.server.chunks import IMMUTABLE, content_type
from preread.server.filebody import open_chunk, read_at
from preread.server.params import MAX_INDEX, MAX_PAGE
from preread.server.ranges import etag_matches
from preread.server.state import ServerState

PATH = "/api/tts/chunk"
_ID = re.compile(rb"[0-9a-f]{64}")
_NUMBER = re.compile(rb"0|[1-9][0-9]{0,7}")
_DECLINED_HEADERS = frozenset({b"range", b"if-range"})
_FORMS = ({b"documentId", b"index"}, {b"documentId", b"page", b"blockIndex"})


def _query(raw: bytes) -> dict[bytes, bytes] | None:
    """The parameters of a plain chunk query; None for anything else (the full path
    then decides, with its own errors)."""
    params: dict[bytes, bytes] = {}
    for pair in raw.split(b"&"):
        name, eq, value = pair.partition(b"=")
        if not eq or name in params:
            return None
        params[name] = value
    keys = params.keys()
    if keys != _FORMS[0] and keys != _FORMS[1]:
        return None
    if _ID.fullmatch(params[b"documentId"]) is None:
        return None
    for name in (b"index", b"page", b"blockIndex"):
        number = params.get(name)
        if number is not None and _NUMBER.fullmatch(number) is None:
            return None
    return params


class ChunkFastPath:
    def __init__(self, state: ServerState, recorder: AccessRecorder, cors: bool) -> None:
        self.state = state
        self.recorder = recorder
        self.cors = cors  # CORS configured: a request with an Origin takes the full path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer the request and return True, or return False having sent nothing."""
        started = time.perf_counter()
        method = scope["method"]
        if method not in ("GET", "HEAD") or scope.get("root_path"):
            return False
        params = _query(scope["query_string"])
        if params is None:
            return False
        if_none_match = None
        for name, value in scope["headers"]:
            if name in _DECLINED_HEADERS or (self.cors and name == b"origin"):
                return False
            if name == b"if-none-match" and if_none_match is None:
                if_none_match = value.decode("latin-1")
        index = page = block = None
        if b"index" in params:
            index = int(params[b"index"])
            if index > MAX_INDEX:
                return False
        else:
            page, block = int(params[b"page"]), int(params[b"blockIndex"])
            if not 1 <= page <= MAX_PAGE or block > MAX_INDEX:
                return False
        state = self.state
        document_id = params[b"documentId"].decode("ascii")
        cached = state.manifests.fresh(document_id)
        if cached is None:
            return False
        entry = cached.find(index=index, page=page, block=block)
        if entry is None or entry.status != "done":
            return False
        path = cached.path_of(entry)
        opened = open_chunk(path, entry.bytes) if path is not None else None
        if opened is None:
            return False
        fd, size = opened
        try:
            if size > state.options.whole_file_limit:
                return False
            request_id = request_id_of(scope)
            etag = f'"{entry.sha256}"' if entry.sha256 else f'"{size:x}-{entry.index}"'
            headers = [
                (b"etag", etag.encode("latin-1")),
                (b"cache-control", IMMUTABLE.encode("latin-1")),
                (b"accept-ranges", b"bytes"),
                (b"x-cache", b"HIT"),
            ]
            if etag_matches(if_none_match, etag):
                status, body = 304, b""
            else:
                status = 200
                headers.append((b"content-type", content_type(cached.manifest.format).encode()))
                headers.append((b"content-length", str(size).encode("ascii")))
                try:
                    body = b"" if method == "HEAD" else await read_at(fd, size, 0)
                except OSError:
                    return False  # the full path meets the same error and answers it
        finally:
            os.close(fd)
        state.metrics.cache_result("hit")
        state.note_use(document_id)
        headers.append((b"x-request-id", request_id.encode("ascii")))
        sent = 0
        try:
            await send({"type": "http.response.start", "status": status, "headers": headers})
            sent = len(body)
            await send({"type": "http.response.body", "body": body})
        finally:
            self.recorder.record(scope, request_id, PATH, method, status, sent, "HIT", started)
        return True
