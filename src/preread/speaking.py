"""A library's speech: audio for any text, from the same blobs as the chunks.

``Speaking`` is the part of ``preread.library.Library`` that answers free text
(``speech``: HIT, ASSEMBLED or MISS; see ``preread.speech``) and keeps the index of
stored speech it assembles from; ``Library`` inherits it.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from preread.blobs import BlobStore, blob_key
from preread.engines import Engines
from preread.shared import SharedTier
from preread.speech.assemble import Answer
from preread.speech.index import SpeechIndex, index_path, rebuild
from preread.store import Store
from preread.tts.base import Provider
from preread.voice import ResolvedVoice

if TYPE_CHECKING:
    from preread.flights import Flights


class Speaking:
    store: Store
    blobs: BlobStore
    shared: SharedTier | None
    engines: Engines
    _speech_index: SpeechIndex | None
    _lock: threading.Lock

    if TYPE_CHECKING:  # provided by ``Library`` and ``Upkeep``

        @property
        def flights(self) -> Flights[str]: ...

        def provider_for(self, name: str) -> Provider: ...

        def note_written(self, nbytes: int) -> None: ...

    def speech(self, text: str, voice: ResolvedVoice) -> Answer:
        """The audio for any ``text``: stored verbatim (HIT), built from stored speech
        of the same voice (ASSEMBLED) or synthesized (MISS); see ``preread.speech``.
        With a shared tier, its copy counts as stored, and what is made here is shared.

        With an engine chain, a fallback speaks when the first provider cannot (``_speak``).

        An ASSEMBLED answer is a stream (``Answer.stream``): the caller sends it and
        must ``close()`` it, which stores it whole and ends the key's flight."""
        key = blob_key(text, voice)
        provider = self.provider_for(voice.provider)
        # the content key's flight, shared with chunks and jobs: requests for the same
        # text wait for one answer (a streamed one until it is stored), then find it
        self.flights.lead(key, "speech")
        handed = False
        try:
            if self.shared is not None and self.blobs.read(key, voice.format) is None:
                self.shared.fetch_blob(key, voice.format)
            result = self._speak(provider, voice, text, key)
            if result.stream is not None:
                result.stream.on_closed = partial(self._speech_sent, key, voice.format)
                handed = True
        finally:
            if not handed:
                self.flights.land(key)
        own = result.spoken_by == voice.provider  # a fallback's audio is not under key
        if result.stream is None and self.shared is not None and result.cache != "HIT" and own:
            self.shared.push_blob(key, voice.format)
        return result

    def _speech_sent(self, key: str, fmt: str) -> None:
        self.flights.land(key)
        if self.shared is not None and self.blobs.read(key, fmt) is not None:
            self.shared.push_blob(key, fmt)

    def _speak(self, provider: Provider, voice: ResolvedVoice, text: str, key: str) -> Answer:
        """``answer`` by the engine chain ``provider`` heads: stored audio in ``voice`` is
        served as it is; else the first provider able to speaks the request in its own
        voice, so a fallback's audio is stored under the fallback voice's key, never the
        request's (the primary, healthy again, makes its own)."""
        from preread.speech.assemble import answer

        index = self.speech_index()

        def attempt(by: Provider, spoken: ResolvedVoice) -> Answer:
            found = answer(self.store, by, spoken, text, index, on_written=self.note_written)
            return replace(found, spoken_by=by.name)

        chain = self.engines.chain(provider)
        if chain is None or self.blobs.read(key, voice.format) is not None:
            return attempt(provider, voice)
        return chain.run(voice, attempt)

    def speech_index(self) -> SpeechIndex:
        """The index of stored speech, loaded on first need, then kept up to date."""
        with self._lock:
            if self._speech_index is None:
                self._speech_index = SpeechIndex(index_path(self.store))
            return self._speech_index

    def rebuild_speech_index(self) -> tuple[int, int]:
        """Rewrite the speech index from the blobs' sidecars: (indexed, skipped)."""
        return rebuild(self.store)

    def speech_key(self, text: str, voice: ResolvedVoice) -> str:
        return blob_key(text, voice)
