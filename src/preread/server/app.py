"""The app factory: ``create_app(settings)`` builds the Starlette app from a list of routes.

Middleware, outermost first: the access log (one JSON line per request, request
counters), CORS (when origins are configured; ``preread.server.cors``), bearer
auth (when a token is set). Errors become JSON in one place
(``preread.server.errors``). The lifespan starts the job workers (resuming saved
jobs) and the background cleaner, and stops them.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from preread.jobqueue import JobQueue
from preread.server import (
    chunks,
    documents,
    estimate,
    export_api,
    openai_compat,
    openapi,
    ops,
    preprocess_api,
    reader_api,
)
from preread.server.access_log import AccessLogMiddleware, AccessRecorder
from preread.server.auth import BearerAuthMiddleware
from preread.server.cors import cors_middleware
from preread.server.errors import EXCEPTION_HANDLERS
from preread.server.fastpath import PATH as CHUNK_PATH
from preread.server.fastpath import ChunkFastPath
from preread.server.log_writer import LineWriter
from preread.server.state import ServerOptions, ServerState
from preread.server.web import web_routes
from preread.settings import Settings
from preread.tts.base import Provider

ROUTES = [
    Route("/api/tts/chunk", chunks.chunk, methods=["GET", "HEAD"]),
    Route("/api/tts/preprocess", preprocess_api.start, methods=["POST"]),
    Route("/api/tts/preprocess", preprocess_api.delete, methods=["DELETE"]),
    Route("/api/tts/preprocess/status", preprocess_api.status, methods=["GET"]),
    Route("/api/tts/preprocess/events", preprocess_api.events, methods=["GET"]),
    Route("/api/tts/preprocess/stats", preprocess_api.stats, methods=["GET"]),
    Route("/api/tts/preprocess/cancel", reader_api.cancel, methods=["POST"]),
    Route("/api/documents", documents.create, methods=["POST"]),
    Route("/api/documents", documents.listing, methods=["GET"]),
    Route("/api/documents/{document_id}", documents.show, methods=["GET"]),
    Route("/api/documents/{document_id}/estimate", estimate.show, methods=["GET"]),
    Route("/api/documents/{document_id}/export", reader_api.export, methods=["GET"]),
    Route("/api/exports", export_api.start, methods=["POST"]),
    Route("/api/exports/{job_id}", export_api.show, methods=["GET"]),
    Route("/api/exports/{job_id}/events", export_api.events, methods=["GET"]),
    Route("/api/exports/{job_id}/cancel", export_api.cancel, methods=["POST"]),
    Route("/api/exports/{job_id}/file", export_api.download, methods=["GET"]),
    Route("/v1/audio/speech", openai_compat.speech, methods=["POST"]),
    Route("/v1/models", openai_compat.models, methods=["GET"]),
    Route("/v1/audio/voices", openai_compat.voices, methods=["GET"]),
    Route("/healthz", ops.healthz, methods=["GET"]),
    Route("/metrics", ops.metrics, methods=["GET"]),
    Route("/openapi.json", openapi.openapi, methods=["GET"]),
    *web_routes(),
]


class PrereadApp(Starlette):
    """Starlette, with the hot chunk GET answered before its stack when it can be
    (``preread.server.fastpath``); every other request goes through it as usual."""

    fast: ChunkFastPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.fast
        if (
            fast is not None
            and scope["type"] == "http"
            and scope["path"] == CHUNK_PATH
            and await fast(scope, receive, send)
        ):
            return
        await super().__call__(scope, receive, send)


def settle(app: Starlette) -> Starlette:
    """``app``, with what this process built so far moved out of the garbage collector's
    reach (``gc.freeze``): its full collections then walk only what requests create,
    which shortens the pauses behind the slowest chunk GETs. For a serving process only
    (``preread serve``), not for apps built and dropped in a test run."""
    gc.collect()
    gc.freeze()
    return app


def create_app(
    settings: Settings,
    *,
    provider: Provider | None = None,
    options: ServerOptions | None = None,
    jobs: JobQueue | None = None,
) -> Starlette:
    """The server for ``settings``; ``provider`` overrides the configured engine and
    ``jobs`` the in-process job queue (tests: ``preread.jobqueue.ManualQueue``)."""
    options = options or ServerOptions()
    state = ServerState(settings, options, provider, jobs)
    log = LineWriter()  # the access log's lines, written by a thread

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.library.start_cleaner(
            debounce=options.cleaner_debounce, interval=options.cleaner_interval
        )
        await state.jobs.start()
        await state.exports.start()
        try:
            yield
        finally:
            await state.exports.stop()
            await state.jobs.stop()
            state.close()
            await anyio.to_thread.run_sync(log.close)  # what is queued is written first

    middleware = [
        Middleware(
            AccessLogMiddleware, metrics=state.metrics, enabled=options.access_log, writer=log
        )
    ]
    if settings.cors_origins:
        middleware.append(cors_middleware(settings.cors_origins))
    if settings.api_token:
        middleware.append(Middleware(BearerAuthMiddleware, token=settings.api_token))
    app = PrereadApp(
        debug=False,
        routes=list(ROUTES),
        middleware=middleware,
        exception_handlers=dict(EXCEPTION_HANDLERS),
        lifespan=lifespan,
    )
    app.state.preread = state
    recorder = AccessRecorder(state.metrics, options.access_log, log)
    app.fast = ChunkFastPath(state, recorder, cors=bool(settings.cors_origins))
    return app
