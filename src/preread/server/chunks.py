"""``GET/HEAD /api/tts/chunk``: a chunk's audio from disk, or made live when missing.

From disk (``X-Cache: HIT``): strong ETag (the manifest's SHA-256 of the file),
304 on ``If-None-Match``, Range (206, multi-range as ``multipart/byteranges``,
416 with ``Content-Range: bytes */N``), ``If-Range``, immutable caching. Small
responses (≤ ``whole_file_limit``) are read whole; larger ones stream in pieces
from an open descriptor, so memory stays flat and an eviction that unlinks the
file mid-stream does not cut the body short.

Missing chunk of a known block (``X-Cache: MISS``): made by the live generator
(single flight), streamed as it is encoded, never cached by the client.
"""

from __future__ import annotations

import os

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from preread.audio import CONTENT_TYPES
from preread.errors import BadInput
from preread.manifest import ChunkEntry
from preread.server.errors import json_error
from preread.server.filebody import FileBody, open_chunk
from preread.server.manifests import CachedManifest
from preread.server.params import MAX_INDEX, MAX_PAGE, document_id_param, int_param
from preread.server.ranges import (
    Unsatisfiable,
    etag_matches,
    if_range_allows,
    multipart_boundary,
    parse_range,
)
from preread.server.state import ServerState, state_of

IMMUTABLE = "public, max-age=31536000, immutable"


def content_type(fmt: str) -> str:
    return CONTENT_TYPES.get(fmt, "application/octet-stream")


async def chunk(request: Request) -> Response:
    state = state_of(request)
    if len(request.query_params.get("documentId") or "") == 64:  # no prefix to look up
        document_id = document_id_param(request, state.library)
    else:
        document_id = await run_in_threadpool(document_id_param, request, state.library)
    index = int_param(request, "index", 0, MAX_INDEX)
    page = block = None
    if index is None:
        page = int_param(request, "page", 1, MAX_PAGE)
        block = int_param(request, "blockIndex", 0, MAX_INDEX)
        if page is None or block is None:
            raise BadInput("give page and blockIndex, or index")
    cached = state.manifests.fresh(document_id)  # two stats, no read: on the loop
    if cached is not None:
        entry, opened = _open(cached, index, page, block)
    else:  # reading the journal's new lines or a whole manifest: in a thread
        cached, entry, opened = await run_in_threadpool(
            _lookup, state, document_id, index, page, block
        )
    if opened is None and state.library.shared is not None:
        # the shared tier may have it: brought to the disk, then served like any chunk
        restored = await run_in_threadpool(
            lambda: state.library.restore_chunk(document_id, index=index, page=page, block=block)
        )
        if restored:
            cached, entry, opened = await run_in_threadpool(
                _lookup, state, document_id, index, page, block
            )
    if cached is not None and entry is not None and opened is not None:
        fd, size = opened
        state.metrics.cache_result("hit")
        state.note_use(document_id)
        etag = f'"{entry.sha256}"' if entry.sha256 else f'"{size:x}-{entry.index}"'
        return _from_disk(request, state, fd, size, etag, cached.manifest.format)
    state.metrics.cache_result("miss")
    return await _live(request, state, document_id, cached, index, page, block)


def _lookup(
    state: ServerState, document_id: str, index: int | None, page: int | None, block: int | None
) -> tuple[CachedManifest | None, ChunkEntry | None, tuple[int, int] | None]:
    """The manifest, the chunk's entry and, when it is done and whole, its open file.

    Blocking (reads the journal's new lines, or the manifest): run in a thread.
    """
    cached = state.manifests.get(document_id)
    if cached is None:
        return None, None, None
    return (cached, *_open(cached, index, page, block))


def _open(
    cached: CachedManifest, index: int | None, page: int | None, block: int | None
) -> tuple[ChunkEntry | None, tuple[int, int] | None]:
    """The chunk's entry and, when it is done and its file whole, the open file."""
    entry = cached.find(index=index, page=page, block=block)
    if entry is None or entry.status != "done":
        return entry, None
    path = cached.path_of(entry)
    return entry, open_chunk(path, entry.bytes) if path is not None else None


def _from_disk(
    request: Request, state: ServerState, fd: int, size: int, etag: str, fmt: str
) -> Response:
    media = content_type(fmt)
    headers = {
        "ETag": etag,
        "Cache-Control": IMMUTABLE,
        "Accept-Ranges": "bytes",
        "X-Cache": "HIT",
    }
    head = request.method == "HEAD"
    limits = (state.options.whole_file_limit, state.options.stream_piece)
    if etag_matches(request.headers.get("if-none-match"), etag):
        os.close(fd)
        return Response(status_code=304, headers=headers)
    ranges = None
    if if_range_allows(request.headers.get("if-range"), etag):
        try:
            ranges = parse_range(request.headers.get("range"), size)
        except Unsatisfiable:
            os.close(fd)
            del headers["Cache-Control"]  # an error is not the immutable chunk: never cached
            return json_error(
                416,
                "range_not_satisfiable",
                f"no byte of the requested range is in this {size}-byte chunk",
                {**headers, "Content-Range": f"bytes */{size}"},
            )
    if ranges is None:
        return FileBody(fd, [(0, size)], 200, {**headers, "Content-Type": media}, head, *limits)
    if len(ranges) == 1:
        only = ranges[0]
        headers["Content-Range"] = only.content_range(size)
        return FileBody(
            fd, [(only.start, only.length)], 206, {**headers, "Content-Type": media}, head, *limits
        )
    boundary = multipart_boundary(etag)
    segments: list[bytes | tuple[int, int]] = []
    for number, part in enumerate(ranges):
        lead = "\r\n" if number else ""
        segments.append(
            f"{lead}--{boundary}\r\nContent-Type: {media}\r\n"
            f"Content-Range: {part.content_range(size)}\r\n\r\n".encode("latin-1")
        )
        segments.append((part.start, part.length))
    segments.append(f"\r\n--{boundary}--\r\n".encode("latin-1"))
    headers["Content-Type"] = f"multipart/byteranges; boundary={boundary}"
    return FileBody(fd, segments, 206, headers, head, *limits)


async def _live(
    request: Request,
    state: ServerState,
    document_id: str,
    cached: CachedManifest | None,
    index: int | None,
    page: int | None,
    block: int | None,
) -> Response:
    head = request.method == "HEAD"
    target_index, voice = await anyio.to_thread.run_sync(
        lambda: state.live_target(
            document_id, cached, index=index, page=page, block=block, prepare=not head
        )
    )
    headers = {"X-Cache": "MISS", "Cache-Control": "no-store"}
    media = content_type(voice.format)
    if head:  # the length is not known before the audio is made: no Content-Length
        response = Response(status_code=200, headers=headers, media_type=media)
        response.raw_headers = [(k, v) for k, v in response.raw_headers if k != b"content-length"]
        return response
    client = request.client.host if request.client else "-"
    state.limiter.check(client)
    state.note_use(document_id)
    flight = state.live.start(document_id, target_index, voice)
    await flight.ready()
    return StreamingResponse(flight.stream(), headers=headers, media_type=media)
