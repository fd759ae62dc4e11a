"""``GET /healthz`` (liveness) and ``GET /metrics`` (Prometheus text format)."""

from __future__ import annotations

import os
import time

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from preread import __version__
from preread.server.metrics import CONTENT_TYPE
from preread.server.state import ServerState, state_of

STORE_SIZE_TTL = 30.0  # a scan of the store is cached this long between scrapes


async def healthz(request: Request) -> Response:
    state = state_of(request)
    body = {
        "status": "ok",
        "version": __version__,
        "uptime": round(time.time() - state.started, 1),
        "liveInFlight": state.live.in_flight,
        "pid": os.getpid(),  # which server process answered (``serve --workers N``)
        # stored chunks this process answered before the Starlette stack, by who answered
        "fastAnswers": dict(state.fast_answers),
    }
    tier = state.library.tier_health()
    if tier is not None:  # a shared tier that is down degrades nothing served from disk
        body["sharedTier"] = tier
    queue = state.jobs.health()
    if queue is not None:  # nor does a job queue that is down: only the job routes fail
        body["jobQueue"] = queue
    providers = state.library.engines.health()
    body["providers"] = providers
    if all(p["breaker"] == "open" for p in providers.values()):
        body["status"] = "degraded"  # no provider may speak: missing chunks cannot be made
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)


def _store_bytes(state: ServerState) -> int | None:
    cached = state.store_size_cache
    now = time.monotonic()
    if cached is not None and now - cached[0] < STORE_SIZE_TTL:
        return cached[1]
    total = state.library.store_bytes()
    state.store_size_cache = (now, total)
    return total


async def metrics(request: Request) -> Response:
    state = state_of(request)
    store_bytes = await anyio.to_thread.run_sync(_store_bytes, state)
    jobs = state.jobs.counts() if state.jobs is not None else {}
    breakers = {name: h["breaker"] for name, h in state.library.engines.health().items()}
    text = state.metrics.render(store_bytes=store_bytes, jobs=jobs, breakers=breakers)
    return PlainTextResponse(text, media_type=CONTENT_TYPE)
