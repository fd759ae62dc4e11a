"""``/api/tts/preprocess``: start, watch (status, SSE events), cancel jobs; store stats."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from preread.errors import BadInput, BadSettings, NotFound
from preread.server.jobs import Job, JobSpec
from preread.server.params import (
    document_id,
    document_id_param,
    float_value,
    json_body,
    optional_str,
)
from preread.server.sse import sse_event, sse_response
from preread.server.state import ServerState, state_of
from preread.settings import FORMATS, VoiceSettings

EVENT_MIN_INTERVAL = 0.25


def _voice(state: ServerState, data: dict[str, Any]) -> VoiceSettings:
    base = state.settings.voice
    speed = data.get("speed")
    fmt = optional_str(data, "format", 10)
    voice = VoiceSettings(
        provider=(optional_str(data, "provider", 40) or base.provider).lower(),
        model=optional_str(data, "model") or base.model,
        voice=optional_str(data, "voice") or base.voice,
        speed=base.speed if speed in (None, "") else float_value(speed, "speed"),
        format=(fmt or base.format).lower(),
        instructions=optional_str(data, "instructions", 2000) or base.instructions,
    )
    voice.validate()
    return voice


def _pages(data: dict[str, Any]) -> str | None:
    pages = data.get("pages")
    if pages is None or pages == "":
        return None
    if isinstance(pages, list) and all(
        isinstance(p, int) and not isinstance(p, bool) for p in pages
    ):
        pages = ",".join(str(p) for p in pages)
    if not isinstance(pages, str) or len(pages) > 2000:
        raise BadInput("bad pages: expected a string like '3-7,10' or a list of page numbers")
    return pages


def status_object(state: ServerState, doc: str, voice: VoiceSettings | None) -> dict[str, Any]:
    cached = state.manifests.get(doc)  # manifest + journal, parsed once per manifest
    status = state.library.status_of(doc, cached.manifest if cached else None, voice)
    job: Job | None = state.jobs.job(doc)
    if job is not None:
        status["jobId"] = job.id
        if job.active or job.state == "cancelled":
            status["state"] = job.state
        if job.active and job.progress:
            for key in ("total", "done", "failed", "bytes", "duration", "eta", "fallback"):
                status[key] = job.progress.get(key, status[key])
        if job.error:
            status["error"] = job.error
    return status


async def start(request: Request) -> Response:
    state = state_of(request)
    state.jobs.check()  # 503 while the queue's database is down
    data = await json_body(request, state.options.max_json_bytes)
    value = data.get("documentId")
    if not isinstance(value, str):
        raise BadInput("documentId is required")
    doc = document_id(state.library, value)
    voice = _voice(state, data)
    pages = _pages(data)
    force = data.get("force", False) is True
    upgrade = data.get("upgrade", False) is True
    registration = await anyio.to_thread.run_sync(state.library.registration, doc)
    if registration is not None and registration.language:
        # a language no voice can speak (not even espeak-ng) is refused: 400, one line
        resolved = await anyio.to_thread.run_sync(state.library.resolve_voice, voice)
        await anyio.to_thread.run_sync(
            state.library.engines.languages.check,
            registration.language,
            resolved,
            registration.source_name,
        )

    try:
        total, complete = await anyio.to_thread.run_sync(
            state.library.is_complete, doc, voice, pages, force, upgrade
        )
    except BadInput as exc:  # the page parser speaks of the CLI's --pages
        if "bad --pages" not in exc.message:
            raise
        raise BadInput(exc.message.replace("bad --pages", "bad pages", 1)) from None
    if complete:
        return JSONResponse(
            {"jobId": None, "documentId": doc, "total": total, "state": "complete"}, 200
        )
    job = await state.jobs.submit(JobSpec(doc, voice, pages, force, upgrade))
    return JSONResponse(
        {"jobId": job.id, "documentId": doc, "total": total, "state": job.state}, 202
    )


def _query_voice(state: ServerState, request: Request) -> VoiceSettings:
    q = request.query_params
    base = state.settings.voice
    fmt = (q.get("format") or base.format).lower()
    if fmt not in FORMATS:
        raise BadSettings(f"bad format {fmt[:20]!r}: use one of {', '.join(FORMATS)}")
    voice = VoiceSettings(
        provider=(q.get("provider") or base.provider).lower(),
        model=q.get("model") or None,
        voice=q.get("voice") or None,
        speed=float_value(q["speed"], "speed") if q.get("speed") else base.speed,
        format=fmt,
    )
    voice.validate()
    return voice


async def status(request: Request) -> Response:
    state = state_of(request)
    state.jobs.check()
    doc = document_id_param(request, state.library)
    voice = _query_voice(state, request)
    return JSONResponse(await anyio.to_thread.run_sync(status_object, state, doc, voice))


def _end_id(state: ServerState, doc: str) -> str:
    job: Job | None = state.jobs.job(doc)
    return f"end-{job.id if job is not None else 'none'}"


async def events(request: Request) -> Response:
    """Named events ``status`` (while the job runs) and ``end`` (once, then the stream closes).

    The ``end`` event carries an ``id``. A browser's ``EventSource`` reconnects by
    itself when a stream closes, sending that id as ``Last-Event-ID``: when nothing
    happened since, the answer is 204, which tells it to stop for good.
    """
    state = state_of(request)
    state.jobs.check()
    doc = document_id_param(request, state.library)
    job: Job | None = state.jobs.job(doc)
    last_seen = request.headers.get("last-event-id")
    ended = job is None or not job.active
    if ended and last_seen is not None and last_seen == _end_id(state, doc):
        return Response(status_code=204)

    async def stream() -> AsyncIterator[bytes]:
        async for _ in state.jobs.watch(doc):
            body = await anyio.to_thread.run_sync(status_object, state, doc, None)
            yield sse_event("status", body)
            await asyncio.sleep(EVENT_MIN_INTERVAL)  # at most a few events a second
        body = await anyio.to_thread.run_sync(status_object, state, doc, None)
        yield sse_event("end", body, _end_id(state, doc))

    return sse_response(stream())


async def delete(request: Request) -> Response:
    state = state_of(request)
    state.jobs.check()
    doc = document_id_param(request, state.library)
    had_job = await state.jobs.cancel(doc)
    if not had_job and not state.library.has_audio(doc):
        raise NotFound(f"document {doc} has no audio in the store")
    await anyio.to_thread.run_sync(state.library.delete_audio, doc)
    state.manifests.forget(doc)
    return Response(status_code=204)


async def stats(request: Request) -> Response:
    state = state_of(request)
    body = await anyio.to_thread.run_sync(state.library.stats)
    return JSONResponse(body)
