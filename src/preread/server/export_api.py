"""Export jobs over HTTP (``preread.server.export_jobs``), and their OpenAPI entries.

``POST /api/exports`` ``{"documentId", "format": "m4b"|"mp3"|"vtt"|"srt", "chapter"?}``
answers at once: 202 with the job (queued or running), or 200 when the same export is
kept in the store already (``downloadUrl`` set). ``GET /api/exports/{jobId}``: the job
(state, chunks and bytes done, fraction, ETA); ``/events``: the same as Server-Sent
Events (``status`` while it runs, one ``end``); ``POST …/cancel``: stop it (nothing is
kept); ``GET …/file``: the finished file (Content-Length, Range, a download name).

Errors: 400 bad format or body, 404 unknown document, chapter or job, 409 pages whose
audio is not stored (``missingPages``, the ``pages`` syntax of ``POST
/api/tts/preprocess``: an export is made from stored chunks only, never synthesized),
503 too many exports waiting (Retry-After). POSTs need the API token when one is set.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import anyio
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from preread.errors import BadInput
from preread.library import MissingAudio
from preread.pages import format_pages
from preread.server.export_jobs import ExportJobs
from preread.server.params import document_id, int_value, json_body
from preread.server.sse import sse_event, sse_response
from preread.server.state import state_of

EVENT_INTERVAL = 0.25  # seconds between two looks at a job for its event stream
HEARTBEAT = 15.0


def _jobs(request: Request) -> ExportJobs:
    return state_of(request).exports


async def start(request: Request) -> Response:
    state = state_of(request)
    body = await json_body(request, state.options.max_json_bytes)
    doc = document_id(state.library, body.get("documentId"))
    fmt = body.get("format", "m4b")
    if not isinstance(fmt, str):
        raise BadInput("bad format: use one of m4b, mp3, vtt, srt")
    chapter = body.get("chapter")
    chapter = None if chapter is None else int_value(chapter, "chapter", 1, 100_000)
    try:
        order = await anyio.to_thread.run_sync(state.library.export_order, doc, fmt, chapter)
    except MissingAudio as exc:
        return missing_response(exc)
    job = await state.exports.submit(order)
    status = 200 if job.state == "done" else 202
    return JSONResponse(
        job.to_json(), status_code=status, headers={"Location": f"/api/exports/{job.id}"}
    )


async def show(request: Request) -> Response:
    job = await _jobs(request).job(str(request.path_params["job_id"]))
    return JSONResponse(job.to_json(), headers={"Cache-Control": "no-store"})


async def cancel(request: Request) -> Response:
    job = await _jobs(request).cancel(str(request.path_params["job_id"]))
    return JSONResponse(job.to_json())


async def events(request: Request) -> Response:
    """``status`` events while the job is queued or running (at most four a second, and
    one every 15 s when nothing changes), then one ``end`` event with an ``id``; a
    reconnect after the end (``Last-Event-ID``) is answered 204, which stops EventSource."""
    jobs = _jobs(request)
    job_id = str(request.path_params["job_id"])
    job = await jobs.job(job_id)
    if not job.active and request.headers.get("last-event-id") == f"{job_id}-end":
        return Response(status_code=204)

    async def stream() -> AsyncIterator[bytes]:
        seen: Any = None
        shown = 0.0
        current = job
        while current.active:
            body = current.to_json()
            now = (body["state"], body["done"], body["bytes"])
            if now != seen or time.monotonic() - shown >= HEARTBEAT:
                seen, shown = now, time.monotonic()
                yield sse_event("status", body)
            await asyncio.sleep(EVENT_INTERVAL)
            current = await jobs.job(job_id)
        yield sse_event("end", current.to_json(), f"{job_id}-end")

    return sse_response(stream())


async def download(request: Request) -> Response:
    return await download_of(_jobs(request), str(request.path_params["job_id"]))


async def download_of(jobs: ExportJobs, job_id: str) -> Response:
    """The done job's kept file: Content-Length, Range (206), a download name."""
    job, path = await jobs.file(job_id)
    headers = {"Cache-Control": "private, max-age=3600", **attachment(job.file_name)}
    return FileResponse(path, media_type=job.media_type, headers=headers)


def attachment(name: str) -> dict[str, str]:
    """Content-Disposition naming the file: plain ASCII for old clients, UTF-8 for all."""
    plain = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in name)
    return {
        "Content-Disposition": f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name)}"
    }


def missing_response(exc: MissingAudio) -> Response:
    spec = format_pages(exc.pages)
    shown = spec if len(spec) <= 60 else spec[:60].rsplit(",", 1)[0] + ",…"
    many = len(exc.pages) > 1
    what = f"{len(exc.pages)} {exc.unit}s ({shown}) have" if many else f"{exc.unit} {shown} has"
    message = (
        f"{what} no stored audio: pre-generate {'them' if many else 'it'} (Pre-generate… in"
        f' the reader, or POST /api/tts/preprocess with "pages": "{spec}"), then export again'
    )
    error = {"code": "conflict", "message": message, "missingPages": spec}
    return JSONResponse({"error": error}, status_code=409)


# -- OpenAPI (preread.server.openapi adds these to its paths) -------------------------------
def _err(description: str) -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {"description": description, "content": content}


_JOB = {
    "type": "object",
    "required": ["jobId", "documentId", "format", "state", "done", "total", "fraction"],
    "properties": {
        "jobId": {"type": "string"},
        "documentId": {"type": "string"},
        "format": {"enum": ["m4b", "mp3", "vtt", "srt"]},
        "chapter": {"type": ["integer", "null"]},
        "state": {"enum": ["queued", "running", "done", "failed", "cancelled"]},
        "done": {"type": "integer", "description": "chunks written"},
        "total": {"type": "integer"},
        "bytes": {"type": "integer", "description": "bytes of stored chunks read"},
        "totalBytes": {"type": "integer"},
        "fraction": {"type": "number"},
        "eta": {"type": ["number", "null"], "description": "seconds left (running)"},
        "fileName": {"type": "string"},
        "size": {"type": ["integer", "null"]},
        "downloadUrl": {"type": "string", "description": "when done"},
        "error": {"type": "string"},
    },
}
_JSON_JOB = {"application/json": {"schema": _JOB}}
_JOB_ID = {
    "name": "job_id", "in": "path", "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
}  # fmt: skip
_FILES: dict[str, Any] = {
    "audio/mp4": {},
    "audio/mpeg": {},
    "text/vtt": {},
    "application/x-subrip": {},
}
_404 = _err("unknown job (or its file is no longer kept)")
_BODY = {
    "type": "object",
    "required": ["documentId"],
    "properties": {
        "documentId": {"type": "string", "pattern": "^[0-9a-fA-F]{8,64}$"},
        "format": {"enum": ["m4b", "mp3", "vtt", "srt"]},
        "chapter": {"type": "integer", "minimum": 1},
    },
}
PATHS: dict[str, dict[str, Any]] = {
    "/api/exports": {
        "post": {
            "summary": "Start exporting a document or a chapter (a job; at once)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _BODY}}},
            "responses": {
                "202": {"description": "the job, queued or running", "content": _JSON_JOB},
                "200": {"description": "kept already: done", "content": _JSON_JOB},
                "400": _err("bad format, chapter or body"),
                "401": _err("without the bearer token (when PREREAD_API_TOKEN is set)"),
                "404": _err("unknown document or chapter, or no audio"),
                "409": _err("pages without stored audio: error.missingPages lists them"),
                "413": _err("body too large"),
                "503": _err("too many exports waiting (Retry-After)"),
            },
        },
    },
    "/api/exports/{job_id}": {
        "get": {
            "summary": "An export job: state, chunks and bytes done, fraction, ETA",
            "parameters": [_JOB_ID],
            "responses": {"200": {"description": "the job", "content": _JSON_JOB}, "404": _404},
        },
    },
    "/api/exports/{job_id}/events": {
        "get": {
            "summary": "The job as Server-Sent Events until it ends",
            "parameters": [_JOB_ID],
            "responses": {
                "200": {"description": "events", "content": {"text/event-stream": {}}},
                "204": {"description": "a reconnect after the end"},
                "404": _404,
            },
        },
    },
    "/api/exports/{job_id}/cancel": {
        "post": {
            "summary": "Stop the export (nothing is kept)",
            "parameters": [_JOB_ID],
            "responses": {
                "200": {"description": "the job", "content": _JSON_JOB},
                "401": _err("without the bearer token (when PREREAD_API_TOKEN is set)"),
                "404": _404,
            },
        },
    },
    "/api/exports/{job_id}/file": {
        "get": {
            "summary": "The finished file (Range, Content-Disposition)",
            "parameters": [_JOB_ID],
            "responses": {
                "200": {"description": "the file", "content": _FILES},
                "206": {"description": "part of the file (Range)"},
                "404": _404,
                "416": {"description": "range not satisfiable"},
            },
        },
    },
}
