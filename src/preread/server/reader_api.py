"""Routes the web reader needs besides the contract's.

``POST /api/tts/preprocess/cancel?documentId=`` stops the document's running or
queued job; chunks already written stay (``DELETE /api/tts/preprocess`` removes
them too). 200 with the status object; 404 when the document has no job.

``GET /api/documents/{id}/export?format=m4b|mp3|vtt|srt[&chapter=N]``: the download
buttons (``preread.export``). Made from stored audio only, never synthesized: a GET is
open without the API token and answers at once, while generating is a (guarded) job.
When pages lack audio the answer is 409 and says which (``missingPages``, in the
``pages`` syntax that ``POST /api/tts/preprocess`` takes); ``preread export`` fills them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from preread.errors import BadInput, NotFound
from preread.pages import format_pages
from preread.server.params import document_id, document_id_param, int_param
from preread.server.preprocess_api import status_object
from preread.server.state import state_of


async def cancel(request: Request) -> Response:
    state = state_of(request)
    state.jobs.check()
    doc = document_id_param(request, state.library)
    if not await state.jobs.cancel(doc):
        raise NotFound(f"document {doc} has no running or queued job")
    return JSONResponse(await anyio.to_thread.run_sync(status_object, state, doc, None))


_exporting = anyio.Semaphore(1)  # an export reads every chunk once: one at a time


async def export(request: Request) -> Response:
    """``GET /api/documents/{id}/export?format=m4b|mp3|vtt|srt[&chapter=N]``: a download.

    Made from the stored chunks only: 409 naming the pages whose audio is not stored.
    Written to a temporary file whole, which is removed once open (nothing is left
    behind if the client goes away), then sent. ``HEAD`` answers the same status and
    headers without making the file.
    """
    from preread.export import EXPORT_FORMATS, MEDIA_TYPES, plan, write_export

    state = state_of(request)
    doc = document_id(state.library, str(request.path_params["document_id"]))
    fmt = (request.query_params.get("format") or "mp3").lower()
    if fmt not in EXPORT_FORMATS:
        raise BadInput(f"bad format {fmt[:10]!r}: use one of {', '.join(EXPORT_FORMATS)}")
    chapter = int_param(request, "chapter", 1, 100_000)
    manifest = await anyio.to_thread.run_sync(state.library.manifest, doc)
    if manifest is None:
        raise NotFound(f"document {doc[:12]} has no audio: pre-generate it first")
    export_plan = plan(manifest, state.library.chunks_dir(doc), chapter)
    missing = await anyio.to_thread.run_sync(export_plan.missing_pages)
    if missing:
        return _missing(manifest.unit, missing)
    name = export_plan.file_name(fmt, chapter)
    disposition = f"attachment; filename*=UTF-8''{quote(name)}"
    headers = {"Content-Disposition": disposition, "Cache-Control": "no-store"}
    if request.method == "HEAD":  # the reader's check before a download: nothing is made
        return Response(headers=headers, media_type=MEDIA_TYPES[fmt])
    folder = Path(tempfile.mkdtemp(prefix="preread-export-"))
    try:
        async with _exporting:
            await anyio.to_thread.run_sync(write_export, export_plan, fmt, folder / "export")
        made = open(folder / "export", "rb")  # noqa: SIM115 (closed by _blocks)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the open file stays readable
    size = os.fstat(made.fileno()).st_size
    return StreamingResponse(
        _blocks(made),
        media_type=MEDIA_TYPES[fmt],
        headers={**headers, "Content-Length": str(size)},
    )


def _blocks(made: BinaryIO) -> Iterator[bytes]:
    """The file, a MiB at a time; closed when sent or when the client goes away."""
    with made:
        while block := made.read(1 << 20):
            yield block


def _missing(unit: str, pages: list[int]) -> Response:
    spec = format_pages(pages)
    shown = spec if len(spec) <= 60 else spec[:60].rsplit(",", 1)[0] + ",…"
    what = f"{unit} {shown} has" if len(pages) == 1 else f"{len(pages)} {unit}s ({shown}) have"
    message = (
        f"{what} no stored audio: pre-generate {'it' if len(pages) == 1 else 'them'}"
        f' (Pre-generate… in the reader, or POST /api/tts/preprocess with "pages": "{spec}")'
        " and download again; preread export generates them itself"
    )
    error = {"code": "conflict", "message": message, "missingPages": spec}
    return JSONResponse({"error": error}, status_code=409)
