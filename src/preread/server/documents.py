"""``/api/documents``: register a document (raw body or multipart ``file``), list, show.

A PDF, EPUB, Markdown, HTML or UTF-8 text file, recognised by its bytes (a declared
``Content-Type`` only chooses among the text kinds). The id is the SHA-256 of the
file's bytes; the text goes through the same pipeline as ``preread blocks``
(``preread.readers.read_document``) and is stored as the document's registration,
from which jobs and live generation work.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator
from typing import Any

import anyio
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from preread.errors import BadInput, NotFound
from preread.ids import check_id_or_prefix, document_id_of_bytes
from preread.library import Library
from preread.model import DocumentText
from preread.server.params import read_body
from preread.server.state import ServerState, state_of

_parsing = anyio.Semaphore(1)  # reading a document is CPU-bound: one at a time


def _summary(document: DocumentText) -> dict[str, Any]:
    return {
        "documentId": document.document_id,
        "title": document.title,
        "sourceName": document.source_name,
        "kind": document.kind,
        "unit": document.unit,
        "pages": document.pages,
        "blocks": len(document.blocks),
    }


def _safe_name(name: str | None) -> str | None:
    """The file name without a path, printable, ≤ 200 characters; None when empty (the
    reader then names it ``document.{ext}`` after what the bytes are)."""
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    return "".join(c for c in base if c.isprintable())[:200] or None


async def _one(data: bytes) -> AsyncGenerator[bytes, None]:
    yield data


async def _file_from(request: Request, limit: int) -> tuple[bytes, str | None, str | None]:
    """The file's bytes, its name and its declared media type."""
    raw = await read_body(request, limit)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        parser = MultiPartParser(request.headers, _one(raw), max_files=1, max_fields=10)
        try:
            form = await parser.parse()
        except MultiPartException as exc:
            raise BadInput(f"bad multipart body: {exc.message}") from None
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise BadInput("the multipart body has no 'file' field")
            return await upload.read(), _safe_name(upload.filename), upload.content_type
        finally:
            await form.close()
    return raw, _safe_name(request.query_params.get("name")), content_type


def _known(state: ServerState, document_id: str) -> DocumentText | None:
    """A whole registration of the document, marked used; None: parse the upload."""
    found = state.library.registered(document_id)
    if found is not None:
        state.library.note_use(document_id)
    return found


async def create(request: Request) -> Response:
    state = state_of(request)
    data, name, content_type = await _file_from(request, state.options.max_upload_bytes)
    declared, accepted = Library.accepts(content_type)
    if not data:
        raise BadInput(f"empty body: send the file ({accepted}) as the body or a multipart 'file'")
    document_id = document_id_of_bytes(data)
    existing = await anyio.to_thread.run_sync(_known, state, document_id)
    if existing is not None:
        return JSONResponse(_summary(existing), status_code=200)
    async with _parsing:
        document, new = await anyio.to_thread.run_sync(state.library.add, data, name, declared)
    return JSONResponse(_summary(document), status_code=201 if new else 200)


def _listing(state: ServerState) -> list[dict[str, Any]]:
    out = []
    for doc in sorted(state.library.known_ids()):
        registration = state.library.registration(doc)
        cached = state.manifests.get(doc)
        item: dict[str, Any] = {"documentId": doc}
        if registration is not None:
            item.update(_summary(registration))
        elif cached is not None:
            item.update(title=cached.manifest.title, pages=cached.manifest.pages)
        if cached is not None:
            chunks = cached.manifest.chunks
            done = [c for c in chunks if c.status == "done"]
            item["audio"] = {
                "total": len(chunks),
                "done": len(done),
                "pagesTotal": len({c.page for c in chunks}),
                "pagesDone": len(
                    {c.page for c in done} - {c.page for c in chunks if c.status != "done"}
                ),
                "bytes": sum(c.bytes or 0 for c in done),
                "fallback": sum(1 for c in done if c.by_fallback),
                "format": cached.manifest.format,
                "voice": cached.manifest.voice,
                "speed": cached.manifest.native_speed,
            }
        else:
            item["audio"] = None
        item["lastUsed"] = state.library.last_used(doc) or None
        job = state.jobs.job(doc)
        item["job"] = (
            None
            if job is None or not job.active
            else {
                "state": job.state,
                "done": int((job.progress or {}).get("done", 0)),
                "total": int((job.progress or {}).get("total", 0)),
            }
        )
        out.append(item)
    return out


async def listing(request: Request) -> Response:
    state = state_of(request)
    return JSONResponse({"documents": await anyio.to_thread.run_sync(_listing, state)})


async def show(request: Request) -> Response:
    """The document's manifest; for a registered document without audio, its blocks."""
    state = state_of(request)
    value = check_id_or_prefix(str(request.path_params["document_id"]))
    doc = value if len(value) == 64 else state.library.resolve(value)
    body = await anyio.to_thread.run_sync(document_json, state.library, doc)
    if body is None:
        raise NotFound(f"no document {doc}")
    return Response(body, media_type="application/json")


def document_json(library: Library, doc: str) -> bytes | None:
    """What ``GET /api/documents/{doc}`` answers (the reader page carries it too): the
    manifest, else the registration's blocks; None for an unknown document."""
    raw = library.manifest_bytes(doc)
    if raw is not None:
        return raw
    registration = library.registration(doc)
    return None if registration is None else bytes(JSONResponse(registration.to_json()).body)
