"""The hot request, answered before the Starlette stack: a stored chunk, whole.

A chunk GET or HEAD that is the common case — ``documentId`` (64 hex characters) with
``index`` (or ``page`` and ``blockIndex``), no ``Range``/``If-Range``, no CORS
``Origin`` to answer, its manifest cached and unchanged, the chunk done, its file whole
and at most ``whole_file_limit`` bytes — is answered with the same headers, ETag/304,
``X-Cache: HIT``, ``X-Request-ID``, access log line, request and cache counters and use
mark as ``preread.server.chunks`` gives it through the middleware, routing and handler
layers (which cost more than the chunk itself). ``ChunkFastPath.lookup`` decides (and
opens the file); two callers answer what it finds:

- ``ChunkFastPath.__call__``, a pure ASGI call in front of the app (any ASGI server);
- ``preread.server.chunk_protocol``, below ASGI: uvicorn's HTTP protocol writes the
  answer to the connection itself when the file is in the page cache.

Anything else — a prefix, a bad or extra parameter, a range, a miss, a manifest to
(re)load, a large file, an error — is declined before a byte is sent, and the full
stack answers it as before. The tests compare the paths header for header.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.types import Receive, Scope, Send

from preread.manifest import ChunkEntry
from preread.server.access_log import AccessRecorder, request_id_in
from preread.server.chunks import IMMUTABLE, content_type
from preread.server.filebody import open_chunk, read_at
from preread.server.params import MAX_INDEX, MAX_PAGE
from preread.server.ranges import etag_matches
from preread.server.state import ServerState

PATH = "/api/tts/chunk"
CACHE = "HIT"
_ID = re.compile(rb"[0-9a-f]{64}")
_NUMBER = re.compile(rb"0|[1-9][0-9]{0,7}")
_DECLINED_HEADERS = frozenset({b"range", b"if-range"})
_FORMS = ({b"documentId", b"index"}, {b"documentId", b"page", b"blockIndex"})
HEADER_CACHE_LIMIT = 20_000  # chunks whose header block is kept
NOTE_USE_SECONDS = 1.0  # a document's use is noted (``note_use``) at most this often


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


def _lines(headers: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(b"%s: %s\r\n" % pair for pair in headers)


@dataclass(frozen=True, slots=True)
class ChunkHeaders:
    """A stored chunk's response headers (200, then 304), as pairs and as header lines.
    Immutable for a given manifest entry and file size: the ETag is the content's."""

    etag: str
    ok: list[tuple[bytes, bytes]]
    ok_lines: bytes
    not_modified: list[tuple[bytes, bytes]]
    not_modified_lines: bytes

    @classmethod
    def of(cls, entry: ChunkEntry, size: int, fmt: str) -> ChunkHeaders:
        etag = f'"{entry.sha256}"' if entry.sha256 else f'"{size:x}-{entry.index}"'
        common = [
            (b"etag", etag.encode("latin-1")),
            (b"cache-control", IMMUTABLE.encode("latin-1")),
            (b"accept-ranges", b"bytes"),
            (b"x-cache", CACHE.encode("latin-1")),
        ]
        ok = [
            *common,
            (b"content-type", content_type(fmt).encode("latin-1")),
            (b"content-length", str(size).encode("ascii")),
        ]
        return cls(etag, ok, _lines(ok), common, _lines(common))


@dataclass(slots=True)
class Hit:
    """A request the fast path answers: its status (200 or 304), the chunk's headers and
    its open file (``fd``, ``size``; the caller closes it)."""

    status: int
    headers: ChunkHeaders
    fd: int
    size: int
    document_id: str


class ChunkFastPath:
    def __init__(self, state: ServerState, recorder: AccessRecorder, cors: bool) -> None:
        self.state = state
        self.recorder = recorder
        self.cors = cors  # CORS configured: a request with an Origin takes the full path
        # (document, index) -> (entry, size, headers): valid while the manifest holds
        # that very entry object (a reload or journal record replaces it) and that size
        self._headers: dict[tuple[str, int], tuple[ChunkEntry, int, ChunkHeaders]] = {}
        self._noted: dict[str, float] = {}  # document -> when its use was last noted

    def lookup(
        self, method: str, query: bytes, headers: Iterable[tuple[bytes, bytes]]
    ) -> Hit | None:
        """What to answer a GET or HEAD of ``PATH?query`` with, its file open; None to
        leave the request to the full stack (nothing was opened, counted or logged)."""
        if method != "GET" and method != "HEAD":
            return None
        params = _query(query)
        if params is None:
            return None
        if_none_match = None
        for name, value in headers:
            if name in _DECLINED_HEADERS or (self.cors and name == b"origin"):
                return None
            if name == b"if-none-match" and if_none_match is None:
                if_none_match = value.decode("latin-1")
        index = page = block = None
        if b"index" in params:
            index = int(params[b"index"])
            if index > MAX_INDEX:
                return None
        else:
            page, block = int(params[b"page"]), int(params[b"blockIndex"])
            if not 1 <= page <= MAX_PAGE or block > MAX_INDEX:
                return None
        state = self.state
        document_id = params[b"documentId"].decode("ascii")
        cached = state.manifests.fresh(document_id)
        if cached is None:
            return None
        entry = cached.find(index=index, page=page, block=block)
        if entry is None or entry.status != "done":
            return None
        path = cached.path_of(entry)
        opened = open_chunk(path, entry.bytes) if path is not None else None
        if opened is None:
            return None
        fd, size = opened
        if size > state.options.whole_file_limit:
            os.close(fd)
            return None
        key = (document_id, entry.index)
        known = self._headers.get(key)
        if known is not None and known[0] is entry and known[1] == size:
            chunk_headers = known[2]
        else:
            chunk_headers = ChunkHeaders.of(entry, size, cached.manifest.format)
            if len(self._headers) >= HEADER_CACHE_LIMIT:
                self._headers.clear()
            self._headers[key] = (entry, size, chunk_headers)
        status = 304 if etag_matches(if_none_match, chunk_headers.etag) else 200
        return Hit(status, chunk_headers, fd, size, document_id)

    def served(
        self,
        hit: Hit,
        client: str | None,
        request_id: str,
        method: str,
        sent: int,
        started: float,
        via: str,
    ) -> None:
        """Count, mark and log an answered hit (once, whichever caller answered it:
        ``via`` is "protocol" or "asgi")."""
        state = self.state
        state.fast_answers[via] += 1
        state.metrics.cache_result("hit")
        document_id = hit.document_id
        noted = self._noted.get(document_id)
        if noted is None or not 0 <= started - noted < NOTE_USE_SECONDS:
            # the access mark is written at most once a minute anyway: ask at most once a second
            if len(self._noted) >= HEADER_CACHE_LIMIT:
                self._noted.clear()
            self._noted[document_id] = started
            state.note_use(document_id)
        self.recorder.record_parts(
            client, PATH, request_id, PATH, method, hit.status, sent, CACHE, started
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer the request and return True, or return False having sent nothing."""
        started = time.perf_counter()
        if scope.get("root_path"):
            return False
        method = scope["method"]
        hit = self.lookup(method, scope["query_string"], scope["headers"])
        if hit is None:
            return False
        try:
            if hit.status == 304:
                headers, body = hit.headers.not_modified, b""
            else:
                headers = hit.headers.ok
                try:
                    body = b"" if method == "HEAD" else await read_at(hit.fd, hit.size, 0)
                except OSError:
                    return False  # the full path meets the same error and answers it
        finally:
            os.close(hit.fd)
        request_id = request_id_in(scope["headers"])
        client = scope.get("client")
        sent = 0
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": hit.status,
                    "headers": [*headers, (b"x-request-id", request_id.encode("ascii"))],
                }
            )
            sent = len(body)
            await send({"type": "http.response.body", "body": body})
        finally:
            client_host = client[0] if client else None
            self.served(hit, client_host, request_id, method, sent, started, "asgi")
        return True
