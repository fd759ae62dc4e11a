"""The content-addressed audio store: same text + same voice = one file on disk.

``key = sha256(normalize(text) + "\\x1e" + ResolvedVoice.key_material())``::

    blobs/{key[:2]}/{key}.{ext}     the encoded audio
    blobs/{key[:2]}/{key}.json      its sidecar: bytes, sha256, duration, sentence times

A document's chunk file is a hard link to its blob (``fsutil.atomic_link``), so a
block shared by two documents is synthesized once and stored once, and a blob is
*referenced* iff its link count is > 1. Deleting a document's folder leaves its
blobs; the cleanup job removes unreferenced ones. The audio is written before its
sidecar, both atomically, so a sidecar always describes a whole file.
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

from preread.fsutil import atomic_link, atomic_write, sha256_file
from preread.manifest import SentenceTime
from preread.store import Store
from preread.tts.base import ResolvedVoice


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
    ) -> BlobInfo:
        """Store ``data`` as blob ``key``; ``voice`` (a ``speech.index.voice_id``) is
        recorded in the sidecar so the speech index can be rebuilt from sidecars."""
        info = BlobInfo(
            key=key,
            format=ext,
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            duration=duration,
            sentences=tuple(sentences),
        )
        sidecar = info.to_json()
        if voice is not None:
            sidecar["voice"] = voice
        atomic_write(self.audio_path(key, ext), data)
        atomic_write(self.sidecar_path(key), json.dumps(sidecar).encode("utf-8"))
        return info

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

    def link(self, info: BlobInfo, target: Path) -> None:
        """Make ``target`` (a document's chunk file) a hard link to the blob."""
        source = self.audio_path(info.key, info.format)
        with contextlib.suppress(FileNotFoundError):
            if os.path.samefile(source, target):
                return
        atomic_link(source, target)

    def is_referenced(self, key: str, ext: str) -> bool:
        try:
            return os.stat(self.audio_path(key, ext)).st_nlink > 1
        except FileNotFoundError:
            return False

    def remove(self, key: str, ext: str) -> None:
        for path in (self.audio_path(key, ext), self.sidecar_path(key)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
