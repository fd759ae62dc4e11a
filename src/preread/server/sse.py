"""Server-Sent Events as the job routes stream them: one wire format, one response.

Preprocess jobs (``/api/tts/preprocess/{id}/events``) and export jobs
(``/api/exports/{id}/events``) send named events: ``status`` while the job runs, then
one ``end`` with an ``id`` (a browser's ``EventSource`` sends it back as
``Last-Event-ID`` when it reconnects, and the routes answer 204 to stop it).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse

# no caching; no buffering by a proxy (nginx honours X-Accel-Buffering) between events
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_event(name: str, body: Any, event_id: str | None = None) -> bytes:
    """One event: its name, its id if any, its body as one line of JSON."""
    line = f"id: {event_id}\n" if event_id is not None else ""
    return f"event: {name}\n{line}data: {json.dumps(body)}\n\n".encode()


def sse_response(events: AsyncIterator[bytes]) -> StreamingResponse:
    """The response streaming ``events`` (each from ``sse_event``) as they come."""
    return StreamingResponse(events, media_type="text/event-stream", headers=_HEADERS)
