"""The audio for a request, from stored speech where there is some.

``answer`` is the whole operation behind ``POST /v1/audio/speech``:

* **HIT**: a blob stored for exactly this text and voice is returned as it is.
* **ASSEMBLED**: the plan (``preread.speech.plan``) covers most of the request with
  runs of stored speech. Every blob it uses is claimed (so cleanup keeps it), read
  whole into memory and checked against its sidecar before any audio is cut, so a
  blob evicted meanwhile makes the plan be made again without it, never a truncated
  answer. Runs are cut at sentence or word times (a cut inside a sentence falls
  midway through the pause between two words) with 5 ms fades; what no run covers
  is synthesized as fragments in the same voice; pieces are joined, encoded once
  and stored under the request's key, so the same request is a HIT next time. With
  nothing to synthesize the voice model is never loaded.
* **MISS**: most of the request is new; it is synthesized whole (furniture still
  dropped), stored, and indexed for later requests.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from preread.audio import resample
from preread.blobs import BlobStore, blob_key
from preread.errors import PrereadError
from preread.manifest import SentenceTime
from preread.speech.index import SpeechIndex, voice_id
from preread.speech.plan import Gap, Plan, Run, plan, registered_furniture
from preread.store import Store
from preread.tts.base import Provider
from preread.voice import ResolvedVoice

FADE_SECONDS = 0.005
PREROLL_SECONDS = 0.05  # decoded before a cut and dropped: the mp3 decoder settles
MOST = 0.5  # more than this share of the characters uncovered: synthesize it whole
ATTEMPTS = 3


@dataclass(frozen=True)
class Answer:
    data: bytes
    cache: str  # HIT, ASSEMBLED or MISS
    synthesized_chars: int


class _Evicted(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _read_blobs(blobs: BlobStore, runs: list[Run]) -> dict[str, bytes]:
    """Each used blob's bytes, whole and as its sidecar says (claimed first)."""
    found: dict[str, bytes] = {}
    for run in runs:
        blob = run.blob
        if blob.key in found:
            continue
        info = blobs.read(blob.key, blob.format)
        if info is None or not blobs.claim(info):
            raise _Evicted(blob.key)
        try:
            data = blobs.audio_path(blob.key, blob.format).read_bytes()
        except FileNotFoundError:
            raise _Evicted(blob.key) from None
        if len(data) != info.bytes or hashlib.sha256(data).hexdigest() != info.sha256:
            raise _Evicted(blob.key)
        found[blob.key] = data
    return found


def _cut(data: bytes, start: float, end: float) -> tuple[np.ndarray, int]:
    with sf.SoundFile(io.BytesIO(data)) as audio:
        rate = int(audio.samplerate)
        first = max(0, round(start * rate))
        last = min(int(audio.frames), round(end * rate))
        lead = min(first, round(PREROLL_SECONDS * rate))
        audio.seek(first - lead)
        samples = audio.read(max(0, last - first + lead), dtype="int16", always_2d=False)
    return np.asarray(samples[lead:], dtype=np.int16), rate


def _faded(samples: np.ndarray, rate: int) -> np.ndarray:
    n = min(len(samples) // 2, round(FADE_SECONDS * rate))
    if n <= 0:
        return samples
    out = samples.astype(np.float32)
    ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
    out[:n] *= ramp
    out[-n:] *= ramp[::-1]
    return np.asarray(np.round(out), dtype=np.int16)


def _render(
    plan_: Plan, data: dict[str, bytes], provider: Provider, voice: ResolvedVoice
) -> tuple[np.ndarray, int, list[SentenceTime]]:
    """The request's PCM (one rate), and each item's text and place in it."""
    gaps = plan_.gaps
    spoken = iter(provider.synthesize([g.text for g in gaps], voice)) if gaps else iter(())
    pieces: list[tuple[str, np.ndarray, int]] = []
    for item in plan_.items:
        if isinstance(item, Gap):
            if not item.text:
                continue
            chunk = next(spoken)
            samples = np.frombuffer(chunk.pcm, dtype="<i2")
            pieces.append((item.text, samples, chunk.sample_rate))
        else:
            samples, rate = _cut(data[item.blob.key], item.start, item.end)
            pieces.append((plan_.item_text(item), samples, rate))
    rate = pieces[0][2] if pieces else 22050
    out: list[np.ndarray] = []
    times: list[SentenceTime] = []
    position = 0
    for text, samples, piece_rate in pieces:
        samples = _faded(resample(samples, piece_rate, rate), rate)
        out.append(samples)
        times.append(SentenceTime(text, position / rate, (position + len(samples)) / rate))
        position += len(samples)
    pcm = np.concatenate(out) if out else np.zeros(0, dtype=np.int16)
    return pcm, rate, times


def _whole(
    blobs: BlobStore, provider: Provider, voice: ResolvedVoice, key: str, text: str
) -> Answer:
    from preread.generate import sentence_times, store_audio
    from preread.pdf import split_sentences

    sentences = [s for p in text.splitlines() if p.strip() for s in split_sentences(p)]
    sentences = sentences or [text.strip()]
    chunks = list(provider.synthesize(sentences, voice))
    if not chunks:
        raise PrereadError("the provider returned no audio")
    pcm = b"".join(c.pcm for c in chunks)
    _, data = store_audio(
        blobs, key, pcm, chunks[0].sample_rate, sentence_times(chunks), voice.format, voice
    )
    return Answer(data, "MISS", sum(len(s) for s in sentences))


def answer(
    store: Store,
    provider: Provider,
    voice: ResolvedVoice,
    text: str,
    index: SpeechIndex,
    *,
    on_written: Callable[[int], None] | None = None,
) -> Answer:
    """The audio for ``text`` in ``voice``: stored, assembled or synthesized."""
    from preread.generate import store_audio

    blobs = BlobStore(store)
    key = blob_key(text, voice)
    stored = blobs.read_claimed(key, voice.format)  # claimed: cleanup keeps it, LRU by use
    if stored is not None:
        return Answer(stored, "HIT", 0)
    index.refresh()
    vid = voice_id(voice)
    furniture = registered_furniture(store.documents_dir)
    for _ in range(ATTEMPTS):
        with index.reading():
            plan_ = plan(text, index, vid, furniture)
        runs = [i for i in plan_.items if isinstance(i, Run)]
        if not runs or plan_.synthesized_chars > MOST * plan_.spoken_chars:
            break
        try:
            data = _read_blobs(blobs, runs)
        except _Evicted as gone:
            index.forget(gone.key)
            continue
        pcm, rate, times = _render(plan_, data, provider, voice)
        _, encoded = store_audio(
            blobs, key, pcm.tobytes(), rate, times, voice.format, voice, index=False
        )
        if on_written is not None:
            on_written(len(encoded))
        return Answer(encoded, "ASSEMBLED", plan_.synthesized_chars)
    clean = plan_.clean_text() if plan_.tokens else text
    result = _whole(blobs, provider, voice, key, clean or text)
    if on_written is not None:
        on_written(len(result.data))
    return result
