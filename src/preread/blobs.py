"""The content-addressed audio store: same text + same voice = one file on disk.

``key = sha256(normalize(text) + "\\x1e" + ResolvedVoice.key_material())``::

    blobs/{key[:2]}/{key}.{ext}     the encoded audio
    blobs/{key[:2]}/{key}.json      its sidecar: bytes, sha256, duration, sentence times

A document's chunk file is a hard link to its blob (``fsutil.atomic_link``), so a
block shared by two documents is synthesized once and stored once, and a blob is
*referenced* iff its link count is > 1. Deleting a document's folder leaves its
blobs; the cleanup job removes unreferenced ones.

Blobs are immutable: the audio is created if absent (``fsutil.create_exclusive``),
never replaced, so a chunk linked to a blob always holds the bytes its manifest
recorded. A writer that loses the race for a key (another thread or process stored
the same content first) drops its own encode and uses the stored blob, described
from its bytes. The sidecar is written after the audio; it only describes it, so a
sidecar that does not match the audio's bytes (a writer killed in between, or a
store written before blobs were immutable) is rewritten from the audio. Only
``write(..., replace=True)`` (``preprocess --force``) or unreadable audio removes a
blob's name to store new audio under it; chunks linked earlier keep their bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preread.audio import duration_of
from preread.errors import PrereadError
from preread.fsutil import atomic_link, atomic_write, create_exclusive, sha256_file
from preread.manifest import ChunkEntry, SentenceTime
from preread.store import Store
from preread.voice import ResolvedVoice


def normalize_text(text: str) -> str:
    """NFC, whitespace runs collapsed to one space, trimmed: what the key hashes."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def blob_key(text: str, voice: ResolvedVoice) -> str:
    material = normalize_text(text) + "\x1e" + voice.key_material()
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class BlobInfo:
    """What the sidecar says about a blob."""

    key: str
    format: str
    bytes: int
    sha256: str
    duration: float
    sentences: tuple[SentenceTime, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "format": self.format,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "duration": self.duration,
            "sentences": [s.to_json() for s in self.sentences],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BlobInfo:
        return cls(
            key=str(data["key"]),
            format=str(data["format"]),
            bytes=int(data["bytes"]),
            sha256=str(data["sha256"]),
            duration=float(data["duration"]),
            sentences=tuple(SentenceTime.from_json(s) for s in data.get("sentences", [])),
        )


class BlobChanged(PrereadError):
    """A blob's name was given other bytes (another process's --force) meanwhile."""


def fit_to_duration(times: list[SentenceTime], duration: float) -> list[SentenceTime]:
    """Sentence times clipped to ``duration``, the last one ending where the audio does."""
    fitted = [
        SentenceTime(
            t.text,
            min(t.start, duration),
            min(t.end, duration),
            None if t.words is None else [(min(a, duration), min(b, duration)) for a, b in t.words],
            t.estimated,
        )
        for t in times
    ]
    if fitted:
        fitted[-1].end = duration
    return fitted


def fit_times(
    stored: tuple[SentenceTime, ...], entry: ChunkEntry, duration: float
) -> list[SentenceTime]:
    """The blob's sentence times, renamed to this entry's sentences.

    Same sentences (normally): the stored times, word times included. Otherwise (a
    different split of the same text): times by character share of ``duration``,
    marked estimated.
    """
    wanted = [s.text for s in entry.sentences] or [entry.text]
    if [normalize_text(s.text) for s in stored] == [normalize_text(t) for t in wanted]:
        return [
            SentenceTime(t, s.start, s.end, None if s.words is None else list(s.words), s.estimated)
            for t, s in zip(wanted, stored, strict=True)
        ]
    total = sum(max(1, len(t)) for t in wanted)
    times, position = [], 0.0
    for text in wanted:
        length = duration * max(1, len(text)) / total
        times.append(SentenceTime(text, position, position + length, estimated=True))
        position += length
    return times


class BlobStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def audio_path(self, key: str, ext: str) -> Path:
        return self.store.blob_path(key, ext)

    def sidecar_path(self, key: str) -> Path:
        return self.store.blob_path(key, "json")

    def read(self, key: str, ext: str) -> BlobInfo | None:
        """The blob's sidecar if the blob is whole (audio present, size as recorded)."""
        try:
            info = BlobInfo.from_json(json.loads(self.sidecar_path(key).read_bytes()))
            size = self.audio_path(key, ext).stat().st_size
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None
        if info.format != ext or size != info.bytes:
            return None
        return info

    def verify(self, info: BlobInfo) -> bool:
        """Re-hash the audio: True iff it still is what the sidecar says."""
        try:
            return sha256_file(self.audio_path(info.key, info.format)) == info.sha256
        except FileNotFoundError:
            return False

    def write(
        self,
        key: str,
        ext: str,
        data: bytes,
        duration: float,
        sentences: list[SentenceTime],
        voice: str | None = None,
        *,
        replace: bool = False,
    ) -> BlobInfo:
        """Store ``data`` as blob ``key`` if it has none yet; the stored blob's info.

        ``voice`` (a ``speech.index.voice_id``) is recorded in the sidecar so the
        speech index can be rebuilt from sidecars.

        If the blob exists, ``data`` is dropped and the existing blob's info returned
        (its own bytes, checksum and duration; ``sentences`` fitted to it). With
        ``replace``, an existing blob's name is removed first (chunks linked to it
        keep their bytes): callers hold the key's flight (``preread.flights``).
        """
        path = self.audio_path(key, ext)
        if replace:
            self.remove(key, ext)
        for _ in range(5):
            if create_exclusive(path, data):
                info = BlobInfo(
                    key=key,
                    format=ext,
                    bytes=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                    duration=duration,
                    sentences=tuple(sentences),
                )
                self._write_sidecar(info, voice)
                return info
            existing = self.describe(key, ext, sentences, voice)
            if existing is not None:
                return existing
        raise OSError(f"blob {key[:12]} kept changing while it was stored")

    def describe(
        self,
        key: str,
        ext: str,
        sentences: list[SentenceTime] | None = None,
        voice: str | None = None,
    ) -> BlobInfo | None:
        """The stored blob's info, checked against its bytes; None if there is none.

        Its sidecar when that matches the audio. No sidecar (its writer was killed
        between the two files): the audio is described anew (``sentences`` fitted to
        its duration) and a sidecar written. A sidecar that does not match, or audio
        not readable as ``ext``, means damaged audio: the blob is removed (chunks
        linked to it keep their bytes) and None returned, so the caller stores anew.
        """
        path = self.audio_path(key, ext)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        digest = hashlib.sha256(data).hexdigest()
        try:
            stored: BlobInfo | None = BlobInfo.from_json(
                json.loads(self.sidecar_path(key).read_bytes())
            )
        except FileNotFoundError:
            stored = None
        except (ValueError, KeyError, TypeError):
            stored = None  # a sidecar is written whole: unreadable = hand-edited; redo it
        if stored is not None:
            if stored.sha256 == digest and stored.bytes == len(data) and stored.format == ext:
                return stored
            self.remove(key, ext)
            return None
        try:
            duration = duration_of(data, ext)
        except Exception:  # mutagen raises several types on a damaged file
            self.remove(key, ext)
            return None
        info = BlobInfo(
            key=key,
            format=ext,
            bytes=len(data),
            sha256=digest,
            duration=duration,
            sentences=tuple(fit_to_duration(list(sentences or []), duration)),
        )
        self._write_sidecar(info, voice)
        return info

    def _write_sidecar(self, info: BlobInfo, voice: str | None) -> None:
        sidecar = info.to_json()
        if voice is not None:
            sidecar["voice"] = voice
        atomic_write(self.sidecar_path(info.key), json.dumps(sidecar).encode("utf-8"))

    def claim(self, info: BlobInfo) -> bool:
        """Mark a blob about to be reused as fresh, so a concurrent cleanup keeps it.

        Cleanup re-checks a blob's mtime just before removing it and keeps whatever
        was touched within its grace period (``preread.lifecycle``). False if the blob
        is already gone.
        """
        try:
            for path in (self.audio_path(info.key, info.format), self.sidecar_path(info.key)):
                os.utime(path)
        except FileNotFoundError:
            return False
        return True

    def read_claimed(self, key: str, ext: str) -> bytes | None:
        """A stored blob's bytes, claimed before they are read: a concurrent cleanup
        keeps it, and its mtime records this use (so unreferenced blobs, such as
        ``/v1/audio/speech`` clips, are evicted by last use). None when there is none,
        or a cleanup removed it first."""
        info = self.read(key, ext)
        if info is None or not self.claim(info):
            return None
        try:
            data = self.audio_path(key, ext).read_bytes()
        except FileNotFoundError:
            return None
        return data if len(data) == info.bytes else None

    def link(self, info: BlobInfo, target: Path) -> None:
        """Make ``target`` (a document's chunk file) a hard link to the blob, and check
        that it holds the blob's recorded bytes (else it is removed: BlobChanged)."""
        source = self.audio_path(info.key, info.format)
        with contextlib.suppress(FileNotFoundError):
            if os.path.samefile(source, target) and self.holds(target, info):
                return
        atomic_link(source, target)
        if not self.holds(target, info):
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            raise BlobChanged(f"blob {info.key[:12]} changed while it was linked; run again")

    @staticmethod
    def holds(path: Path, info: BlobInfo) -> bool:
        """Does ``path`` hold exactly the blob's recorded bytes?"""
        try:
            return path.stat().st_size == info.bytes and sha256_file(path) == info.sha256
        except FileNotFoundError:
            return False

    def is_referenced(self, key: str, ext: str) -> bool:
        try:
            return os.stat(self.audio_path(key, ext)).st_nlink > 1
        except FileNotFoundError:
            return False

    def remove(self, key: str, ext: str) -> None:
        for path in (self.audio_path(key, ext), self.sidecar_path(key)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
