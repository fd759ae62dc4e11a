"""Routes the web reader needs besides the contract's: cancel a job but keep its audio.

``POST /api/tts/preprocess/cancel?documentId=`` stops the document's running or
queued job; chunks already written stay (``DELETE /api/tts/preprocess`` removes
them too). 200 with the status object; 404 when the document has no job.
"""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from preread.errors import NotFound
from preread.server.params import document_id_param
from preread.server.preprocess_api import status_object
from preread.server.state import state_of


async def cancel(request: Request) -> Response:
    state = state_of(request)
    doc = document_id_param(request, state.library)
    if not await state.jobs.cancel(doc):
        raise NotFound(f"document {doc} has no running or queued job")
    return JSONResponse(await anyio.to_thread.run_sync(status_object, state, doc, None))
