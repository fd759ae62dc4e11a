"""Routes the web reader needs besides the contract's.

``POST /api/tts/preprocess/cancel?documentId=`` stops the document's running or
queued job; chunks already written stay (``DELETE /api/tts/preprocess`` removes
them too). 200 with the status object; 404 when the document has no job.

``GET /api/documents/{id}/export?format=m4b|mp3|vtt|srt[&chapter=N]``: an export in one
request (the reader uses export jobs, ``POST /api/exports``). Made from stored audio only,
never synthesized: a GET is open without the API token, while generating is a (guarded)
job. When pages lack audio the answer is 409 and says which (``missingPages``, in the
``pages`` syntax that ``POST /api/tts/preprocess`` takes); ``preread export`` fills them.
"""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from preread.errors import Conflict, NotFound
from preread.library import MissingAudio
from preread.server.export_api import attachment, download_of, missing_response
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


async def export(request: Request) -> Response:
    """``GET /api/documents/{id}/export?format=m4b|mp3|vtt|srt[&chapter=N]``: a download.

    The same export as ``POST /api/exports`` makes (``preread.server.export_api``), in
    one request: a kept one is sent at once; otherwise an export job is started (or
    joined) and the answer waits for it. 409 names the pages whose audio is not stored.
    ``HEAD`` answers the same status and headers without making the file.
    """
    state = state_of(request)
    doc = document_id(state.library, str(request.path_params["document_id"]))
    fmt = (request.query_params.get("format") or "mp3").lower()
    chapter = int_param(request, "chapter", 1, 100_000)
    try:
        order = await anyio.to_thread.run_sync(state.library.export_order, doc, fmt, chapter)
    except MissingAudio as exc:
        return missing_response(exc)
    if request.method == "HEAD":  # the check before a download: nothing is made
        return Response(headers=attachment(order.file_name), media_type=order.media_type)
    job = await state.exports.submit(order)
    job = await state.exports.finished(job.id)
    if job.state != "done":
        raise Conflict(f"the export was {job.state}{': ' + job.error if job.error else ''}")
    return await download_of(state.exports, job.id)
