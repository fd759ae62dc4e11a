"""OpenAI-compatible speech: ``POST /v1/audio/speech``, ``GET /v1/models``, ``/v1/audio/voices``.

Answered from the same content-addressed store as chunks: the key is
``blob_key(input, voice)``, so the same text with the same settings (from a
chunk, a preprocess job or an earlier request) is served from disk without
synthesis. OpenAI's model and voice names are accepted as aliases for the
configured provider's defaults, and ``instructions`` are ignored by providers
other than OpenAI (OpenReader sends them with ``gpt-4o-mini-tts``), so
OpenAI-TTS clients work by changing only their base URL.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from preread.errors import BadInput, BadSettings, Busy
from preread.server.chunks import content_type
from preread.server.params import float_value, json_body, optional_str
from preread.server.state import ServerState, state_of
from preread.settings import VoiceSettings
from preread.speech.stream import AnswerStream
from preread.tts.base import Provider
from preread.voice import ResolvedVoice

OPENAI_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
OPENAI_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer",
    "verse",
)  # fmt: skip
FORMATS = {"mp3": "mp3", "opus": "opus"}
KOKORO_MODELS = ("kokoro",)
# Kokoro's voices: American/British, female/male (af_bella, bm_george, af_sky+af_bella)
KOKORO_VOICE = re.compile(r"[ab][fm]_[A-Za-z0-9_+.()]+")


def _alias(name: str | None, provider: Provider, known: tuple[str, ...]) -> str | None:
    """None (the configured default) for another engine's name a local voice stands in for."""
    if name is None or provider.name == "openai":
        return name
    if name in known or (known is OPENAI_VOICES and KOKORO_VOICE.fullmatch(name)):
        return None
    return name


def _resolve(state: ServerState, data: dict[str, Any]) -> tuple[Provider, ResolvedVoice, str]:
    text = data.get("input")
    if not isinstance(text, str) or not text.strip():
        raise BadInput("input is required: the text to speak")
    if len(text) > state.options.max_speech_chars:
        raise BadInput(f"input is over {state.options.max_speech_chars} characters")
    fmt = (optional_str(data, "response_format", 10) or "mp3").lower()
    if fmt not in FORMATS:
        raise BadSettings(f"response_format {fmt!r} is not supported here: use mp3 or opus")
    provider = state.provider()
    model = _alias(optional_str(data, "model"), provider, (*OPENAI_MODELS, *KOKORO_MODELS))
    voice = _alias(optional_str(data, "voice"), provider, OPENAI_VOICES)
    optional_str(data, "language", 40)  # accepted (OpenReader sends it); the voice decides
    speed = data.get("speed")
    instructions = optional_str(data, "instructions", 2000)
    if provider.name != "openai":  # a local voice cannot follow them: ignored, like "alloy"
        instructions = None
    settings = VoiceSettings(
        provider=provider.name,
        model=model or state.settings.voice.model,
        voice=voice or state.settings.voice.voice,
        speed=state.settings.voice.speed if speed is None else float_value(speed, "speed"),
        format=fmt,
        instructions=instructions,
    )
    settings.validate()
    return provider, provider.resolve(settings), text


async def speech(request: Request) -> Response:
    state = state_of(request)
    data = await json_body(request, state.options.max_json_bytes)
    _, voice, text = await anyio.to_thread.run_sync(_resolve, state, data)
    headers = {"Cache-Control": "no-cache"}
    if state.speech_waiting >= state.options.live_workers + state.options.live_queue:
        raise Busy("too many speech requests are waiting; retry later", retry_after=5)
    state.speech_waiting += 1
    try:  # one synthesis per text and settings, however many ask (the library's flights)
        answer = await anyio.to_thread.run_sync(state.library.speech, text, voice)
    finally:
        state.speech_waiting -= 1
    headers["X-Cache"] = answer.cache
    headers["X-Preread-Synthesized-Chars"] = str(answer.synthesized_chars)
    # the provider whose voice this is: a fallback's when the configured one failed
    headers["X-Preread-Spoken-By"] = answer.spoken_by or voice.provider
    if answer.stream is not None:  # sent as it is encoded (chunked); stored once whole
        try:
            state.metrics.speech_result(answer.cache.lower(), answer.synthesized_chars)
            return StreamedAnswer(answer.stream, content_type(voice.format), headers)
        except BaseException:
            answer.stream.close()
            raise
    state.metrics.speech_result(answer.cache.lower(), answer.synthesized_chars)
    body = answer.data or b""
    headers["ETag"] = '"' + hashlib.sha256(body).hexdigest() + '"'
    return Response(body, media_type=content_type(voice.format), headers=headers)


class StreamedAnswer(StreamingResponse):
    """An assembled answer's bytes, sent as they are encoded (in worker threads); the
    stream is closed however the response ends (sent whole, or the client gone)."""

    def __init__(self, stream: AnswerStream, media_type: str, headers: dict[str, str]) -> None:
        self.answer = stream
        super().__init__(self._blocks(), media_type=media_type, headers=headers)

    async def _blocks(self) -> AsyncIterator[bytes]:
        while (out := await anyio.to_thread.run_sync(self.answer.next)) is not None:
            yield out

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.answer.close)


async def models(request: Request) -> Response:
    provider = await anyio.to_thread.run_sync(state_of(request).provider)
    names = list(dict.fromkeys([*provider.models(), *OPENAI_MODELS]))
    return JSONResponse(
        {
            "object": "list",
            "data": [
                {"id": n, "object": "model", "created": 0, "owned_by": "preread"} for n in names
            ],
        }
    )


async def voices(request: Request) -> Response:
    provider = await anyio.to_thread.run_sync(state_of(request).provider)
    return JSONResponse({"voices": provider.voices()})
