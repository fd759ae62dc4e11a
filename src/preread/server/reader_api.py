"""Routes the web reader needs besides the contract's.

``POST /api/tts/preprocess/cancel?documentId=`` stops the document's running or
queued job; chunks already written stay (``DELETE /api/tts/preprocess`` removes
them too). 200 with the status object; 404 when the document has no job.

``GET /api/documents/{id}/export?format=mp3|vtt|srt[&chapter=N]``: the download
buttons (``preread.export``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

import anyio
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from preread.errors import BadInput, Conflict, NotFound
from preread.server.params import document_id, document_id_param, int_param
from preread.server.preprocess_api import status_object
from preread.server.state import state_of


async def cancel(request: Request) -> Response:
    state = state_of(request)
    doc = document_id_param(request, state.library)
    if not await state.jobs.cancel(doc):
        raise NotFound(f"document {doc} has no running or queued job")
    return JSONResponse(await anyio.to_thread.run_sync(status_object, state, doc, None))


_exporting = anyio.Semaphore(1)  # an export reads every chunk once: one at a time


async def export(request: Request) -> Response:
    """``GET /api/documents/{id}/export?format=mp3|vtt|srt[&chapter=N]``: a download.

    Made from the stored chunks only: 409 when some are not stored (pre-generate
    first). Written to a temporary file whole, streamed, then removed.
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
        shown = ", ".join(str(p) for p in missing[:10]) + (" …" if len(missing) > 10 else "")
        raise Conflict(f"pages {shown} have no stored audio: pre-generate them first")
    folder = Path(tempfile.mkdtemp(prefix="preread-export-"))
    name = export_plan.file_name(fmt, chapter)
    target = folder / "export"
    try:
        async with _exporting:
            await anyio.to_thread.run_sync(write_export, export_plan, fmt, target)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    disposition = f"attachment; filename*=UTF-8''{quote(name)}"
    return FileResponse(
        target,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
