"""``GET /api/documents/{id}/estimate?pages=&voice=&speed=``: what pre-generating would cost.

Characters and blocks come from the registered document's blocks; audio length,
disk size and wall time from this machine's measured figures: the server times
one short synthesis per voice (once, then remembered), and reads bytes per audio
second from chunks already stored for the document when there are some. Blocks
already stored with the same settings count as done (no time, no new bytes).
"""

from __future__ import annotations

import time
import weakref
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from preread.errors import NotFound
from preread.server.params import document_id
from preread.server.state import ServerState, state_of
from preread.settings import VoiceSettings
from preread.voice import ResolvedVoice

PROBE_TEXT = (
    "The quick brown fox jumps over the lazy dog. "
    "A measured sentence or two tells how fast this machine speaks, "
    "so the estimate is for this machine and this voice."
)
# bytes per second of speech when nothing is stored yet (preread.audio's encodings)
DEFAULT_BYTES_PER_SECOND = {"mp3": 5000.0, "opus": 2400.0}

_probes: weakref.WeakKeyDictionary[ServerState, dict[tuple[str, ...], tuple[float, float]]] = (
    weakref.WeakKeyDictionary()
)


def _probe(state: ServerState, voice: ResolvedVoice) -> tuple[float, float]:
    """(synthesized characters per wall second, characters per second of audio)."""
    key = (voice.provider, voice.model, voice.voice, str(voice.speed))
    known = _probes.setdefault(state, {})
    if key in known:
        return known[key]
    provider = state.library.provider_for(voice.provider)
    began = time.perf_counter()
    sentences = [s.strip() + "." for s in PROBE_TEXT.split(".") if s.strip()]
    audio = sum(len(c.pcm) / 2 / c.sample_rate for c in provider.synthesize(sentences, voice))
    wall = max(time.perf_counter() - began, 1e-3)
    chars = float(sum(len(s) for s in sentences))
    known[key] = (chars / wall, chars / max(audio, 1e-3))
    return known[key]


def estimate(
    state: ServerState, doc: str, pages: str | None, voice: VoiceSettings
) -> dict[str, Any]:
    library = state.library
    if library.registration(doc) is None:
        raise NotFound(f"document {doc} is not registered: POST it to /api/documents first")
    resolved = library.resolve_voice(voice)
    blocks = library.blocks(doc, pages).blocks
    manifest = library.manifest(doc)
    stored: set[tuple[int, int]] = set()
    bytes_per_second = DEFAULT_BYTES_PER_SECOND.get(resolved.format, 5000.0)
    if manifest is not None and library.matches(manifest, resolved):
        done = [c for c in manifest.chunks if c.status == "done"]
        stored = {(c.page, c.block_index) for c in done}
        seconds = sum(c.duration or 0.0 for c in done)
        if seconds > 1:
            bytes_per_second = sum(c.bytes or 0 for c in done) / seconds
    characters = sum(len(b.text) for b in blocks)
    to_make = sum(len(b.text) for b in blocks if (b.page, b.block_index) not in stored)
    synth_rate, speech_rate = _probe(state, resolved)
    audio_seconds = characters / speech_rate
    return {
        "documentId": doc,
        "pages": sorted({b.page for b in blocks}),
        "blocks": len(blocks),
        "characters": characters,
        "charactersToGenerate": to_make,
        "audioSeconds": round(audio_seconds, 1),
        "bytes": int(audio_seconds * bytes_per_second),
        "newBytes": int(to_make / speech_rate * bytes_per_second),
        "seconds": round(to_make / synth_rate, 3),
        "measured": {
            "charsPerSecond": round(synth_rate, 1),
            "charsPerAudioSecond": round(speech_rate, 2),
            "bytesPerAudioSecond": round(bytes_per_second, 1),
        },
        "voice": {"provider": resolved.provider, "voice": resolved.voice, "speed": resolved.speed},
    }


async def show(request: Request) -> Response:
    from preread.server.preprocess_api import _query_voice

    state = state_of(request)
    doc = document_id(state.library, str(request.path_params["document_id"]))
    voice = _query_voice(state, request)
    pages = request.query_params.get("pages") or None
    body = await anyio.to_thread.run_sync(estimate, state, doc, pages, voice)
    return JSONResponse(body)
