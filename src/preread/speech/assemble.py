"""The audio for a request, from stored speech where there is some.

``answer`` is the whole operation behind ``POST /v1/audio/speech``:

* **HIT**: a blob stored for exactly this text and voice is returned as it is.
* **ASSEMBLED**: the plan (``preread.speech.plan``) covers most of the request with
  runs of stored speech. Every blob it uses is claimed (so cleanup keeps it), read
  whole into memory and checked against its sidecar, and what no run covers is
  synthesized as fragments in the same voice, all before the answer's first byte
  (a blob evicted meanwhile makes the plan be made again without it, never a
  truncated answer). The answer is then an ``AnswerStream``
  (``preread.speech.stream``): runs cut at sentence or word times (a cut inside a
  sentence falls midway through the pause between two words) with 5 ms fades, joined
  and encoded once, block by block, sent as they are encoded, and stored under the
  request's key once whole, so the same request is a HIT next time. With nothing to
  synthesize the voice model is never loaded.
* **MISS**: most of the request is new; it is synthesized whole (furniture still
  dropped), stored, and indexed for later requests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from preread.audio import resample, resampled_length
from preread.blobs import BlobInfo, BlobStore, blob_key
from preread.errors import PrereadError
from preread.speech.index import SpeechIndex, voice_id
from preread.speech.plan import Gap, Plan, Run, plan, registered_furniture
from preread.speech.stream import AnswerStream, Piece, decoded_blobs
from preread.store import Store
from preread.stream_encoder import stream_rate
from preread.tts.base import Provider
from preread.tts.loudness import Levels
from preread.voice import ResolvedVoice

FADE_SECONDS = 0.005
MOST = 0.5  # more than this share of the characters uncovered: synthesize it whole
ATTEMPTS = 3


@dataclass(frozen=True)
class Answer:
    cache: str  # HIT, ASSEMBLED or MISS
    synthesized_chars: int
    data: bytes | None = None  # the whole answer (HIT, MISS)
    stream: AnswerStream | None = None  # ASSEMBLED: encoded as it is sent
    spoken_by: str = ""  # the provider whose voice it is (a fallback's when the chain fell back)


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


def _faded(samples: np.ndarray, rate: int) -> np.ndarray:
    n = min(len(samples) // 2, round(FADE_SECONDS * rate))
    if n <= 0:
        return samples
    out = np.array(samples, dtype=np.int16)  # a copy: ``samples`` may be a kept blob's
    ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
    out[:n] = np.round(out[:n] * ramp)
    out[-n:] = np.round(out[-n:] * ramp[::-1])
    return out


def _piece(text: str, rate: int, length: int, make: Callable[[], np.ndarray], to: int) -> Piece:
    """A piece of ``length`` samples at ``rate`` made by ``make``, resampled ``to``."""

    def render() -> np.ndarray:
        return _faded(resample(make(), rate, to), to)

    return Piece(text, resampled_length(length, rate, to), render)


def _given(samples: np.ndarray) -> Callable[[], np.ndarray]:
    return lambda: samples


def _cut(key: str, audio: bytes, first: int, count: int) -> Callable[[], np.ndarray]:
    """Samples ``first .. first+count`` of a blob, decoded when needed."""
    return lambda: decoded_blobs.get(key, audio)[0][first : first + count]


def _pieces(
    plan_: Plan, data: dict[str, bytes], provider: Provider, voice: ResolvedVoice, home: Path
) -> tuple[int, list[Piece]]:
    """The stream's rate and pieces; the gaps are synthesized now (at the voice's gain,
    as the stored runs are: ``preread.tts.loudness``), runs cut later."""
    gaps = plan_.gaps
    levels = Levels(home)
    spoken = iter(list(levels.speak(provider, [g.text for g in gaps], voice)) if gaps else [])
    found: list[tuple[str, int, int, Callable[[], np.ndarray]]] = []
    for item in plan_.items:
        if isinstance(item, Gap):
            if not item.text:
                continue
            chunk = next(spoken)
            samples = np.frombuffer(chunk.pcm, dtype="<i2")
            found.append((item.text, chunk.sample_rate, len(samples), _given(samples)))
            continue
        key, audio = item.blob.key, data[item.blob.key]
        rate, frames = decoded_blobs.shape(key, audio)
        first = max(0, round(item.start * rate))
        count = max(0, min(frames, round(item.end * rate)) - first)

        def cut(
            key: str = key, audio: bytes = audio, first: int = first, n: int = count
        ) -> np.ndarray:
            return decoded_blobs.get(key, audio)[0][first : first + n]

        found.append((plan_.item_text(item), rate, count, cut))
    rate = stream_rate(voice.format, found[0][1] if found else 22050)
    return rate, [_piece(text, r, n, make, rate) for text, r, n, make in found]


def _whole(
    blobs: BlobStore, provider: Provider, voice: ResolvedVoice, key: str, text: str
) -> Answer:
    from preread.generate import sentence_times, store_audio
    from preread.pdf import split_sentences

    sentences = [s for p in text.splitlines() if p.strip() for s in split_sentences(p)]
    sentences = sentences or [text.strip()]
    chunks = list(Levels(blobs.store.home).speak(provider, sentences, voice))
    if not chunks:
        raise PrereadError("the provider returned no audio")
    pcm = b"".join(c.pcm for c in chunks)
    _, data = store_audio(
        blobs, key, pcm, chunks[0].sample_rate, sentence_times(chunks), voice.format, voice
    )
    return Answer("MISS", sum(len(s) for s in sentences), data)


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
    blobs = BlobStore(store)
    key = blob_key(text, voice)
    stored = blobs.read_claimed(key, voice.format)  # claimed: cleanup keeps it, LRU by use
    if stored is not None:
        return Answer("HIT", 0, stored)
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
        rate, pieces = _pieces(plan_, data, provider, voice, store.home)
        if not any(p.length for p in pieces):
            break

        def written(info: BlobInfo) -> None:
            if on_written is not None:
                on_written(info.bytes)

        stream = AnswerStream(blobs, key, voice.format, rate, pieces, vid, on_stored=written)
        return Answer("ASSEMBLED", plan_.synthesized_chars, stream=stream)
    clean = plan_.clean_text() if plan_.tokens else text
    result = _whole(blobs, provider, voice, key, clean or text)
    if on_written is not None and result.data is not None:
        on_written(len(result.data))
    return result
