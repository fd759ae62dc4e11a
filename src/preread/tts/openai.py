"""OpenAI text-to-speech (and any server speaking its ``/v1/audio/speech`` protocol).

Uses the official ``openai`` SDK with its own retries turned off; this module
retries instead, so the policy is ours and tested: on 429, 5xx, timeouts (each
request may take ``timeout`` seconds) and connection errors it waits ``Retry-After``
when the server sends one, else an exponential backoff (``backoff * 2**(attempt-1)``,
capped, with ±50 % jitter), for at most ``max_attempts`` attempts and
``retry_budget`` seconds of waiting in all, then raises ``SynthesisFailed`` (a
``Retry-After`` beyond what is left of the budget fails at once: an engine chain's
fallback speaks sooner). Other errors (400, 401, 404…) fail at once. The API key
never appears in a message.

**One request per block.** A block (≤ 450 characters, whole sentences) is sent as
one ``input``: one request instead of 3–6 (rate limits are per request) and
natural prosody across sentences. The returned audio is cut into one
``AudioChunk`` per sentence at the quietest 10 ms near each sentence's share of
the characters, so sentence times are close but, unlike Piper's, not exact.

We ask for ``response_format="pcm"`` (24 kHz s16le mono; a WAV answer from a
compatible server is accepted too) and encode it ourselves, like every provider.
Every answer is checked first (``preread.tts.answers``: its type, its decoding, a
length plausible for the text, not silence); a bad one is retried like an error.
Error texts are made safe before they go anywhere (``preread.tts.errors``).
``OPENAI_BASE_URL`` points the SDK at a compatible server (Kokoro-FastAPI,
openedai-speech…); then any model or voice name is accepted and the key is optional.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from preread.errors import BadSettings, Refused, SynthesisFailed
from preread.settings import VoiceSettings
from preread.tts.answers import PCM_RATE, BadAnswer, decode_answer, implausible
from preread.tts.base import AudioChunk, Provider
from preread.tts.errors import safe_text, status_reason
from preread.voice import ResolvedVoice

OPENAI_MODELS = ("gpt-4o-mini-tts", "tts-1", "tts-1-hd")
OPENAI_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable",
    "nova", "onyx", "sage", "shimmer", "verse", "marin", "cedar",
)  # fmt: skip
DEFAULT_MODEL = "gpt-4o-mini-tts"
DEFAULT_VOICE = "alloy"
MAX_BACKOFF = 30.0
MAX_RETRY_AFTER = 120.0


def split_by_share(pcm: np.ndarray, rate: int, sentences: Sequence[str]) -> list[np.ndarray]:
    """Cut one block's audio into per-sentence pieces (pure function).

    Each cut starts at the sentence's share of the characters and moves to the
    quietest 10 ms frame within ±0.4 s, so cuts fall in the pauses between sentences.
    """
    if len(sentences) <= 1:
        return [pcm]
    lengths = np.array([max(1, len(s)) for s in sentences], dtype=np.float64)
    shares = np.cumsum(lengths)[:-1] / lengths.sum()
    frame = max(1, rate // 100)
    window = int(0.4 * rate)
    cuts: list[int] = []
    previous = 0
    for share in shares:
        guess = int(share * len(pcm))
        lo, hi = max(previous, guess - window), min(len(pcm), guess + window)
        best = min(max(guess, previous), len(pcm))
        if hi - lo > frame:
            segment = pcm[lo:hi].astype(np.float64)
            count = (hi - lo) // frame
            energy = (segment[: count * frame].reshape(count, frame) ** 2).mean(axis=1)
            best = lo + int(np.argmin(energy)) * frame + frame // 2
        cuts.append(best)
        previous = best
    return [pcm[a:b] for a, b in zip([0, *cuts], [*cuts, len(pcm)], strict=True)]


def endpoint_label(base_url: str | None) -> str | None:
    """``scheme://host[:port]/path`` of a compatible server, without credentials or query.

    None for OpenAI itself, so its content keys do not depend on how it is reached.
    """
    if not base_url:
        return None
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"


class OpenAIProvider(Provider):
    name = "openai"
    concurrency = 2  # requests in flight during a preprocess run (rate limits are per minute)

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None = None,
        *,
        max_attempts: int = 5,
        backoff: float = 1.0,
        timeout: float = 60.0,
        retry_budget: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._api_key = api_key
        self.base_url = base_url
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.timeout = timeout
        self.retry_budget = max(0.0, retry_budget)
        self.sleep = sleep
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIProvider(base_url={self.base_url!r})"

    # -- settings --------------------------------------------------------------------
    def resolve(self, voice: VoiceSettings) -> ResolvedVoice:
        if not self._api_key and not self.base_url:
            raise BadSettings(
                "OPENAI_API_KEY is not set: export it, or use --provider piper (offline voice)"
            )
        model = voice.model or DEFAULT_MODEL
        name = voice.voice or DEFAULT_VOICE
        if not self.base_url:  # the real OpenAI: check names here, not after a request
            if model not in OPENAI_MODELS:
                raise BadSettings(
                    f"unknown model {model!r} for provider openai: use {', '.join(OPENAI_MODELS)}"
                )
            if name not in OPENAI_VOICES:
                raise BadSettings(
                    f"unknown voice {name!r} for provider openai: use {', '.join(OPENAI_VOICES)}"
                )
            if voice.instructions and model != "gpt-4o-mini-tts":
                raise BadSettings(
                    f"model {model} does not take instructions (gpt-4o-mini-tts does)"
                )
        return ResolvedVoice(
            "openai",
            model,
            name,
            voice.speed,
            voice.format,
            voice.instructions,
            endpoint=endpoint_label(self.base_url),
        )

    def voices(self) -> list[str]:
        return list(OPENAI_VOICES)

    def models(self) -> list[str]:
        return list(OPENAI_MODELS)

    # -- synthesis -------------------------------------------------------------------
    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                import openai

                self._client = openai.OpenAI(
                    api_key=self._api_key or "unused",
                    base_url=self.base_url or None,
                    max_retries=0,
                    timeout=self.timeout,
                )
            return self._client

    def _clean(self, text: str) -> str:
        """Provider text made safe for manifests and HTTP bodies (``tts.errors``)."""
        return safe_text(text, secrets=[self._api_key] if self._api_key else [])

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), MAX_RETRY_AFTER)
        base = min(MAX_BACKOFF, self.backoff * 2.0 ** (attempt - 1))
        return float(base * (0.5 + random.random()))

    def request(self, text: str, voice: ResolvedVoice) -> tuple[np.ndarray, int]:
        """One ``/v1/audio/speech`` call with the retry policy; its checked samples and rate.

        An answer that is not usable speech (``preread.tts.answers``) is retried like a
        failed request, then reported; it never reaches the caller.
        """
        import openai

        client = self._get_client()
        extra: dict[str, Any] = {}
        if voice.instructions:
            extra["instructions"] = voice.instructions
        last = "no attempt made"
        waited = 0.0
        for attempt in range(1, self.max_attempts + 1):
            retry_after: float | None = None
            try:
                response = client.audio.speech.create(
                    model=voice.model,
                    voice=voice.voice,
                    input=text,
                    response_format="pcm",
                    speed=voice.speed,
                    **extra,
                )
                data = bytes(response.content)
                content_type = response.response.headers.get("content-type")
            except openai.APIStatusError as exc:
                status = exc.status_code
                last = status_reason(exc, self._clean)
                if status == 401:
                    raise Refused("openai rejected the API key (HTTP 401)") from None
                if status in (403, 404):
                    raise Refused(f"openai refused the request: {last}") from None
                if status != 429 and status < 500:
                    raise SynthesisFailed(f"openai refused the request: {last}") from None
                header = exc.response.headers.get("retry-after")
                try:
                    retry_after = float(header) if header is not None else None
                except ValueError:
                    retry_after = None
            except openai.APITimeoutError:
                last = f"timed out after {self.timeout:g} s"
            except openai.APIConnectionError as exc:
                last = f"connection failed: {self._clean(str(exc))}"
            else:
                try:
                    samples, rate = decode_answer(data, content_type)
                except BadAnswer as exc:
                    last = str(exc)
                else:
                    reason = implausible(samples, rate, text, voice.speed)
                    if reason is None:
                        return samples, rate
                    last = reason
            if attempt < self.max_attempts:
                delay = self._delay(attempt, retry_after)
                left = self.retry_budget - waited
                if delay > left:
                    if retry_after is None:
                        delay = left  # the backoff is cut to what the budget has left
                    else:
                        raise SynthesisFailed(
                            f"openai asks to wait {retry_after:g} s ({last}), beyond its"
                            f" retry budget ({left:.3g} s left)"
                        )
                self.sleep(delay)
                waited += delay
        raise SynthesisFailed(f"openai failed after {self.max_attempts} attempts: {last}")

    def synthesize(self, sentences: Sequence[str], voice: ResolvedVoice) -> Iterator[AudioChunk]:
        text = " ".join(s.strip() for s in sentences if s.strip())
        if not text:
            for sentence in sentences:
                yield AudioChunk(sentence, b"", PCM_RATE)
            return
        pcm, rate = self.request(text, voice)
        estimated = len(sentences) > 1  # cut at pauses near each sentence's share
        for sentence, piece in zip(sentences, split_by_share(pcm, rate, sentences), strict=True):
            yield AudioChunk(
                sentence, piece.astype("<i2", copy=False).tobytes(), rate, estimated=estimated
            )

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
