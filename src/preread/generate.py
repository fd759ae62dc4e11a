"""The one code path that makes a chunk (CLI preprocess, server jobs, live fallback).

Making a chunk has two phases, which the preprocess runner runs in two threads
(synthesis of chunk n+1 overlaps encoding and writing of chunk n):

1. ``synthesize(entry, voice)``: reuse the content-addressed blob if a whole,
   verified one exists; else ask the provider for one PCM piece per sentence
   (``on_audio`` sees each piece as soon as it exists, so a server can stream).
2. ``store_chunk(document_id, prepared)``: encode, write the blob (audio, then its
   sidecar), hard-link the document's chunk file to it; return the filled-in entry.

``make(document_id, index, voice)`` does both and records the entry in the
manifest under its lock. Makers of the same content (``make`` calls, preprocess
workers, ``/v1/audio/speech``) hold its key's flight (``preread.flights``) from the
blob check to the blob write: the later ones wait, then reuse the stored blob.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from preread.audio import encode
from preread.blobs import BlobInfo, BlobStore, blob_key, fit_times, fit_to_duration
from preread.errors import Conflict, NotFound, PrereadError
from preread.flights import Flights
from preread.journal import ProgressJournal
from preread.manifest import ChunkEntry, SentenceTime, manifest_matches
from preread.store import Store
from preread.tts.base import AudioChunk, Provider
from preread.tts.chain import Chain, spoken_by
from preread.tts.languages import LanguageVoices
from preread.tts.loudness import Levels
from preread.voice import ResolvedVoice


@dataclass
class Prepared:
    """Phase 1's result: either a blob to reuse or fresh PCM to encode."""

    entry: ChunkEntry
    key: str
    blob: BlobInfo | None = None
    pcm: bytes = b""
    sample_rate: int = 0
    sentences: list[SentenceTime] | None = None
    synthesized_chars: int = 0  # 0 when the blob was reused
    synthesis_seconds: float = 0.0
    fresh: bool = False  # made by --force: replaces the stored blob
    # the voice that spoke it when an engine chain's fallback did (``key`` is then its
    # key, whose flight the maker leads too); ``held``: the asked voice's key
    spoken: ResolvedVoice | None = None
    held: str | None = None
    spoken_kind: str = ""  # why ``spoken`` spoke it: fallback, language, last-resort

    @property
    def flights(self) -> tuple[str, ...]:
        """The content keys whose flights the maker of this chunk holds, landed once
        its blob is stored: the asked voice's, and the fallback's that spoke it."""
        return (self.key,) if self.held is None or self.held == self.key else (self.held, self.key)

    @property
    def extra_flight(self) -> str | None:
        """The flight ``synthesize`` led beyond the asked key's (a fallback's key)."""
        return None if self.held is None or self.held == self.key else self.key


def sentence_times(chunks: list[AudioChunk]) -> list[SentenceTime]:
    """Start/end of each sentence from the sample counts of its PCM (exact unless the
    provider says its cuts are estimated), and of each word when the voice timed them.
    """
    times: list[SentenceTime] = []
    position = 0
    for chunk in chunks:
        rate = chunk.sample_rate
        start = position / rate
        words = None
        if chunk.words is not None:
            words = [((position + a) / rate, (position + b) / rate) for a, b in chunk.words]
        position += chunk.samples
        times.append(SentenceTime(chunk.text, start, position / rate, words, chunk.estimated))
    return times


def store_audio(
    blobs: BlobStore,
    key: str,
    pcm: bytes,
    sample_rate: int,
    times: list[SentenceTime],
    fmt: str,
    voice: ResolvedVoice | None = None,
    *,
    index: bool = True,
    replace: bool = False,
) -> tuple[BlobInfo, bytes]:
    """Encode ``pcm`` as ``fmt`` and store it as blob ``key``; its info and its bytes.

    Sentence times are fitted to the encoded length (mp3 is exact; opus may differ by
    a resampled sample), the last sentence ending where the audio does. With
    ``voice`` the blob is added to the speech index (unless ``index`` is False: audio
    assembled from speech the index already has). When the blob existed already
    (another writer won), the stored blob's info and bytes are returned, not this
    encode's: blobs are never replaced (``BlobStore.write``; ``replace``: --force).
    """
    encoded = encode(pcm, sample_rate, fmt)
    fitted = fit_to_duration(times, encoded.duration)
    vid: str | None = None
    if voice is not None:
        from preread.speech.index import voice_id

        vid = voice_id(voice)
    info = blobs.write(key, fmt, encoded.data, encoded.duration, fitted, voice=vid, replace=replace)
    if vid is not None and index:
        from preread.speech.index import entry_json, record

        record(blobs.store, entry_json(key, fmt, vid, info.duration, info.sentences))
    if info.sha256 == hashlib.sha256(encoded.data).hexdigest():
        return info, encoded.data
    return info, blobs.audio_path(key, fmt).read_bytes()


def done_entry(
    entry: ChunkEntry, info: BlobInfo, spoken: ResolvedVoice | None = None, kind: str = ""
) -> ChunkEntry:
    """``entry`` done with blob ``info``: what the manifest records for its chunk file
    (``spoken``: the voice that spoke it when not the document's; ``kind``: why)."""
    done = replace(entry)
    done.spoken_by = None if spoken is None else spoken_by(spoken)
    done.spoken_kind = "" if spoken is None else kind or "fallback"
    done.status = "done"
    done.duration = info.duration
    done.bytes = info.bytes
    done.sha256 = info.sha256
    done.error = None
    done.sentences = fit_times(info.sentences, done, info.duration)
    return done


def record_entries(
    store: Store, document_id: str, voice: ResolvedVoice, entries: list[ChunkEntry]
) -> int:
    """Record chunk results in the document's progress journal (O(1) in its size).

    Entries are recorded only while the manifest still has ``voice``'s settings and
    lists the same blocks; returns how many were recorded.
    """
    return len(progress_journal(store, document_id, voice).append(entries))


def progress_journal(store: Store, document_id: str, voice: ResolvedVoice) -> ProgressJournal:
    """The document's journal, taking results only while its manifest is for ``voice``."""
    return store.progress_journal(document_id, lambda manifest: manifest_matches(manifest, voice))


class ChunkMaker:
    """Makes chunks; ``flights`` is the process's content-key single flight (one per
    server, shared with its jobs and ``/v1/audio/speech``; one per CLI run)."""

    def __init__(
        self,
        store: Store,
        provider: Provider,
        flights: Flights[str] | None = None,
        chain: Chain | None = None,
        observe: Callable[[str, float, int], None] | None = None,
        languages: LanguageVoices | None = None,
        fetch: Callable[[str, str], BlobInfo | None] | None = None,
    ) -> None:
        """``chain``: the providers to try in order (``provider`` first), each behind
        its breaker; None: ``provider`` alone. ``observe(provider, seconds, chars)``:
        told of every synthesis that made a chunk (``Engines.observe``). ``languages``:
        who speaks a block in a language the asked voice is not for
        (``preread.tts.languages``). ``fetch(key, format)``: brings a blob missing
        locally from a second tier (the shared bucket) before anything is synthesized."""
        self.store = store
        self.provider = provider
        self.chain = chain
        self.observe = observe
        self.languages = languages
        self.levels = Levels(store.home)
        self.blobs = BlobStore(store)
        self.flights: Flights[str] = Flights() if flights is None else flights
        self.fetch = fetch

    # -- phase 1 -----------------------------------------------------------------------
    def reusable(self, key: str, fmt: str) -> BlobInfo | None:
        """A whole stored blob for ``key`` (from the second tier when missing here),
        claimed (kept by cleanup) until it is linked."""
        info = self.blobs.read(key, fmt)
        if info is None and self.fetch is not None and self.fetch(key, fmt) is not None:
            info = self.blobs.read(key, fmt)
        if info is not None and self.blobs.claim(info) and self.blobs.verify(info):
            return info
        return None

    def synthesize(
        self,
        entry: ChunkEntry,
        voice: ResolvedVoice,
        *,
        on_audio: Callable[[AudioChunk], None] | None = None,
        fresh: bool = False,
        cancel: threading.Event | None = None,
    ) -> Prepared:
        """Reuse a stored blob (unless ``fresh``) or synthesize the entry's sentences.

        The caller holds the flight of ``blob_key(entry.text, voice)``; when a fallback
        speaks, this leads its key's flight too (``Prepared.extra_flight``): the caller
        lands ``Prepared.flights`` once the blob is stored.

        Raises ``SynthesisFailed`` (or another PrereadError) when the provider fails,
        and ``InterruptedError`` when ``cancel`` is set between two sentences.
        """
        key = blob_key(entry.text, voice)
        route = None if self.languages is None else self.languages.route(entry.language, voice)
        if route is not None:  # another voice for this language: its own content key
            return self._speak_other(
                route.provider, entry, route.voice, key, route.kind, on_audio, cancel, fresh
            )
        if not fresh:
            info = self.reusable(key, voice.format)
            if info is not None:
                return Prepared(entry=entry, key=key, blob=info)
        if self.chain is None:
            return self._speak(self.provider, entry, voice, key, on_audio, cancel, fresh)

        def attempt(provider: Provider, spoken: ResolvedVoice) -> Prepared:
            spoken = replace(spoken, level=voice.level)  # levelled as the document is
            if spoken == voice:
                return self._speak(provider, entry, voice, key, on_audio, cancel, fresh)
            return self._speak_other(
                provider, entry, spoken, key, "fallback", on_audio, cancel, fresh
            )

        return self.chain.run(voice, attempt)

    def _speak_other(
        self,
        provider: Provider,
        entry: ChunkEntry,
        spoken: ResolvedVoice,
        key: str,
        kind: str,
        on_audio: Callable[[AudioChunk], None] | None,
        cancel: threading.Event | None,
        fresh: bool,
    ) -> Prepared:
        """The chunk in a voice other than the asked one (``key`` is the asked voice's):
        a fallback, or a language's voice. Its own content key, so its audio is never
        taken for the asked voice's, and that key's flight (the caller holds the asked
        key's): one synthesis of this content by this voice at a time, whoever asks."""
        other = blob_key(entry.text, spoken)
        if other != key:
            self.flights.lead(other, kind, cancel=cancel)
        try:
            info = None if fresh else self.reusable(other, spoken.format)
            if info is not None:
                prepared = Prepared(entry=entry, key=other, blob=info)
            else:
                prepared = self._speak(provider, entry, spoken, other, on_audio, cancel, fresh)
        except BaseException:
            if other != key:
                self.flights.land(other)
            raise
        prepared.spoken, prepared.held, prepared.spoken_kind = spoken, key, kind
        return prepared

    def _speak(
        self,
        provider: Provider,
        entry: ChunkEntry,
        voice: ResolvedVoice,
        key: str,
        on_audio: Callable[[AudioChunk], None] | None,
        cancel: threading.Event | None,
        fresh: bool,
    ) -> Prepared:
        sentences = [s.text for s in entry.sentences] or [entry.text]
        chunks: list[AudioChunk] = []
        started = time.perf_counter()
        for chunk in self.levels.speak(provider, sentences, voice):
            if chunks and chunk.sample_rate != chunks[0].sample_rate:
                raise PrereadError("the provider changed sample rate within a block")
            chunks.append(chunk)
            if on_audio is not None:
                on_audio(chunk)
            if cancel is not None and cancel.is_set() and len(chunks) < len(sentences):
                raise InterruptedError("cancelled")
        if not chunks:
            raise PrereadError(f"the provider returned no audio for chunk {entry.index}")
        seconds = time.perf_counter() - started
        chars = sum(len(s) for s in sentences)
        if self.observe is not None:
            self.observe(provider.name, seconds, chars)
        return Prepared(
            entry=entry,
            key=key,
            pcm=b"".join(c.pcm for c in chunks),
            sample_rate=chunks[0].sample_rate,
            sentences=sentence_times(chunks),
            synthesized_chars=chars,
            synthesis_seconds=seconds,
            fresh=fresh,
        )

    # -- phase 2 -----------------------------------------------------------------------
    def store_blob(self, prepared: Prepared, voice: ResolvedVoice) -> BlobInfo:
        """Encode and store the blob (or reuse it): what the chunk file will hold."""
        if prepared.blob is not None:
            return prepared.blob
        voice = prepared.spoken or voice
        info, _ = store_audio(
            self.blobs,
            prepared.key,
            prepared.pcm,
            prepared.sample_rate,
            prepared.sentences or [],
            voice.format,
            voice,
            replace=prepared.fresh,
        )
        return info

    def store_chunk(self, document_id: str, prepared: Prepared, voice: ResolvedVoice) -> ChunkEntry:
        """Store (or reuse) the blob, link the chunk file and check it; the done entry."""
        info = self.store_blob(prepared, voice)
        entry = done_entry(prepared.entry, info, prepared.spoken, prepared.spoken_kind)
        self.blobs.link(info, self.store.chunks_dir(document_id) / entry.file_name)
        return entry

    # -- both, for one chunk -------------------------------------------------------------
    def make(
        self,
        document_id: str,
        index: int,
        voice: ResolvedVoice,
        *,
        on_audio: Callable[[AudioChunk], None] | None = None,
    ) -> ChunkEntry:
        """Make chunk ``index`` of a document whose manifest exists; record it; return it.

        A chunk already done whose file is whole is returned as it is.
        """
        manifest = self.store.read_manifest(document_id)
        if manifest is None:
            raise NotFound(f"document {document_id} has no manifest: preprocess it first")
        if not manifest_matches(manifest, voice):
            raise Conflict(f"the audio of document {document_id[:12]} is for other voice settings")
        entry = manifest.chunk(index)
        if entry is None:
            raise NotFound(f"document {document_id[:12]} has no block {index}")
        path = self.store.chunks_dir(document_id) / entry.file_name
        if entry.status == "done" and path.is_file() and path.stat().st_size == entry.bytes:
            return entry
        key = blob_key(entry.text, voice)
        with self.flights.hold(key, "live"):
            try:
                prepared = self.synthesize(entry, voice, on_audio=on_audio)
            except PrereadError as exc:
                entry.status, entry.error = "failed", str(exc)
                record_entries(self.store, document_id, voice, [entry])
                self.store.fold_journal(document_id)
                raise
            try:
                info = self.store_blob(prepared, voice)
            finally:
                if prepared.extra_flight is not None:
                    self.flights.land(prepared.extra_flight)
        done = done_entry(entry, info, prepared.spoken, prepared.spoken_kind)
        target = self.store.chunks_dir(document_id) / done.file_name
        # linked under the manifest lock, once the journal's check passed: a preprocess
        # run switching the document to other settings meanwhile (under this lock) wins
        recorded = progress_journal(self.store, document_id, voice).append(
            [done], before=lambda _: self.blobs.link(info, target)
        )
        if not recorded:
            raise Conflict(f"document {document_id[:12]} changed while its chunk was being made")
        self.store.fold_journal(document_id)  # no run will fold it: tts.meta.json stays whole
        return done
