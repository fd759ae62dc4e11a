"""``tts.meta.json``: the per-document manifest, as typed dataclasses (camelCase on disk).

Pure data and JSON conversion; reading and writing files is ``preread.store``'s job.
Unknown fields are ignored when reading.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from preread.model import Block, Chapter, DocumentText
from preread.settings import VoiceSettings
from preread.voice import ResolvedVoice

MANIFEST_VERSION = 1
ChunkStatus = Literal["pending", "done", "failed"]


def chunk_file_name(index: int, page: int, block_index: int, ext: str) -> str:
    return f"{index + 1:04d}__page-{page:03d}__block-{block_index:03d}.{ext}"


@dataclass
class SentenceTime:
    """A sentence's place in its chunk, in seconds from the chunk's start.

    ``words``: (start, end) of each whitespace-separated word of ``text``, or None
    when the voice gave no word timings. ``estimated``: start and end are a guess
    (a character share of a piece of audio), not exact sample counts.
    """

    text: str
    start: float
    end: float
    words: list[tuple[float, float]] | None = None
    estimated: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "text": self.text,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
        }
        if self.words is not None:
            # compact: milliseconds from the chunk's start, start and end of each word
            data["words"] = [round(t * 1000) for pair in self.words for t in pair]
        if self.estimated:
            data["estimated"] = True
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SentenceTime:
        flat = data.get("words")
        words: list[tuple[float, float]] | None = None
        if isinstance(flat, list) and len(flat) % 2 == 0:
            values = [float(v) / 1000 for v in flat]
            words = list(zip(values[0::2], values[1::2], strict=True))
        return cls(
            str(data["text"]),
            float(data.get("start", 0)),
            float(data.get("end", 0)),
            words,
            bool(data.get("estimated", False)),
        )


def _spoken_by(data: Any) -> tuple[str, str, str] | None:
    if not isinstance(data, dict):
        return None
    return (str(data.get("provider", "")), str(data.get("model", "")), str(data.get("voice", "")))


def _spoken_kind(data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    return str(data.get("kind", "fallback"))


@dataclass
class ChunkEntry:
    index: int
    page: int
    block_index: int
    text: str
    file_name: str
    status: ChunkStatus = "pending"
    duration: float | None = None
    bytes: int | None = None
    sha256: str | None = None
    sentences: list[SentenceTime] = field(default_factory=list)
    error: str | None = None
    # (provider, model, voice) that spoke it when not the document's voice, and why
    # (``spoken_kind``): "fallback" (an engine chain's), "language" (the voice the
    # settings map its language to), "last-resort" (espeak-ng: no other voice speaks it)
    spoken_by: tuple[str, str, str] | None = None
    spoken_kind: str = ""
    language: str = ""  # the block's language (on disk only when not the document's)

    @property
    def by_fallback(self) -> bool:
        """Spoken by an engine chain's fallback (not a voice chosen for its language)."""
        return self.spoken_by is not None and self.spoken_kind in ("", "fallback")

    @classmethod
    def for_block(cls, block: Block, ext: str) -> ChunkEntry:
        return cls(
            index=block.index,
            page=block.page,
            block_index=block.block_index,
            text=block.text,
            file_name=chunk_file_name(block.index, block.page, block.block_index, ext),
            sentences=[SentenceTime(s, 0.0, 0.0) for s in block.sentences],
            language=block.language,
        )

    def reset(self) -> None:
        self.status = "pending"
        self.duration = self.bytes = None
        self.sha256 = self.error = None
        self.spoken_by = None
        self.spoken_kind = ""
        for sentence in self.sentences:
            sentence.start = sentence.end = 0.0
            sentence.words, sentence.estimated = None, False

    def to_json(self, document_language: str | None = None) -> dict[str, Any]:
        """``document_language``: the manifest's, which the entry's is not repeated as."""
        data: dict[str, Any] = {
            "index": self.index,
            "page": self.page,
            "blockIndex": self.block_index,
            "text": self.text,
            "fileName": self.file_name,
            "status": self.status,
            "duration": None if self.duration is None else round(self.duration, 3),
            "bytes": self.bytes,
            "sha256": self.sha256,
            "sentences": [s.to_json() for s in self.sentences],
        }
        if self.error:
            data["error"] = self.error
        if self.spoken_by is not None:
            provider, model, voice = self.spoken_by
            data["spokenBy"] = {"provider": provider, "model": model, "voice": voice}
            data["spokenBy"]["kind"] = self.spoken_kind or "fallback"
            if provider == "espeak":
                data["spokenBy"]["robotic"] = True
        if self.language and self.language != document_language:
            data["language"] = self.language
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChunkEntry:
        status = data.get("status", "pending")
        return cls(
            index=int(data["index"]),
            page=int(data["page"]),
            block_index=int(data["blockIndex"]),
            text=str(data.get("text", "")),
            file_name=str(data["fileName"]),
            status=status if status in ("pending", "done", "failed") else "pending",
            duration=data.get("duration"),
            bytes=data.get("bytes"),
            sha256=data.get("sha256"),
            sentences=[SentenceTime.from_json(s) for s in data.get("sentences", [])],
            error=data.get("error"),
            spoken_by=_spoken_by(data.get("spokenBy")),
            spoken_kind=_spoken_kind(data.get("spokenBy")),
            language=str(data.get("language", "")),
        )


@dataclass
class Manifest:
    document_id: str
    source_name: str
    title: str
    pages: int
    tts_provider: str
    tts_model: str
    voice: str
    native_speed: float
    format: str
    created_at: int = field(default_factory=lambda: int(time.time()))
    updated_at: int = field(default_factory=lambda: int(time.time()))
    chapters: list[Chapter] = field(default_factory=list)
    chunks: list[ChunkEntry] = field(default_factory=list)
    instructions: str | None = None
    version: int = MANIFEST_VERSION
    language: str = ""  # ISO 639-1 code of the document's text ("" when unknown)
    unit: str = "page"  # what ``page`` counts: "page" (PDF) or "section" (other formats)
    level: str = ""  # how its audio is levelled (``ResolvedVoice.level``; "" before levelling)

    def voice_settings(self) -> VoiceSettings:
        """The settings this manifest's audio was made with (as recorded, unresolved)."""
        return VoiceSettings(
            provider=self.tts_provider,
            model=self.tts_model,
            voice=self.voice,
            speed=self.native_speed,
            format=self.format,
            instructions=self.instructions,
        )

    def recorded_voice(self) -> ResolvedVoice:
        """The voice this manifest's audio was made with, as content keys hash it, from
        what it records (no endpoint: a compatible server's resolved voice adds one)."""
        return ResolvedVoice(
            self.tts_provider,
            self.tts_model,
            self.voice,
            self.native_speed,
            self.format,
            self.instructions,
            level=self.level,
        )

    @classmethod
    def new(cls, document: DocumentText, blocks: list[Block], voice: ResolvedVoice) -> Manifest:
        """A manifest listing ``blocks`` as pending, for the provider-resolved ``voice``."""
        return cls(
            document_id=document.document_id,
            source_name=document.source_name,
            title=document.title,
            pages=document.pages,
            tts_provider=voice.provider,
            tts_model=voice.model,
            voice=voice.voice,
            native_speed=voice.speed,
            format=voice.format,
            chapters=list(document.chapters),
            chunks=[ChunkEntry.for_block(b, voice.format) for b in blocks],
            instructions=voice.instructions,
            language=document.language,
            unit=document.unit,
            level=voice.level,
        )

    def settings_match(self, provider: str, model: str, voice: str, speed: float, fmt: str) -> bool:
        return (
            self.tts_provider == provider
            and self.tts_model == model
            and self.voice == voice
            and abs(self.native_speed - speed) < 1e-9
            and self.format == fmt
        )

    def chunk(self, index: int) -> ChunkEntry | None:
        if 0 <= index < len(self.chunks) and self.chunks[index].index == index:
            return self.chunks[index]
        return next((c for c in self.chunks if c.index == index), None)

    def chunk_at(self, page: int, block_index: int) -> ChunkEntry | None:
        return next(
            (c for c in self.chunks if c.page == page and c.block_index == block_index), None
        )

    def count(self, status: ChunkStatus) -> int:
        return sum(1 for c in self.chunks if c.status == status)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": self.version,
            "documentId": self.document_id,
            "sourceName": self.source_name,
            "title": self.title,
            "pages": self.pages,
            "unit": self.unit,
            "ttsProvider": self.tts_provider,
            "ttsModel": self.tts_model,
            "voice": self.voice,
            "nativeSpeed": self.native_speed,
            "format": self.format,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "chapters": [c.to_json() for c in self.chapters],
            "chunks": [c.to_json(self.language) for c in self.chunks],
        }
        if self.instructions:
            data["instructions"] = self.instructions
        if self.language:
            data["language"] = self.language
        if self.level:
            data["level"] = self.level
        return data

    def dumps(self) -> bytes:
        """Compact JSON: ``indent`` would force the pure-Python encoder (10x slower)."""
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        manifest = cls._from_json(data)
        for chunk in manifest.chunks:  # a block in the document's language says none
            chunk.language = chunk.language or manifest.language
        return manifest

    @classmethod
    def _from_json(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            version=int(data.get("version", MANIFEST_VERSION)),
            document_id=str(data["documentId"]),
            source_name=str(data.get("sourceName", "")),
            title=str(data.get("title", "")),
            pages=int(data.get("pages", 0)),
            tts_provider=str(data.get("ttsProvider", "")),
            tts_model=str(data.get("ttsModel", "")),
            voice=str(data.get("voice", "")),
            native_speed=float(data.get("nativeSpeed", 1.0)),
            format=str(data.get("format", "mp3")),
            created_at=int(data.get("createdAt", 0)),
            updated_at=int(data.get("updatedAt", 0)),
            chapters=[Chapter.from_json(c) for c in data.get("chapters", [])],
            chunks=[ChunkEntry.from_json(c) for c in data.get("chunks", [])],
            instructions=data.get("instructions"),
            language=str(data.get("language", "")),
            unit="section" if data.get("unit") == "section" else "page",
            level=str(data.get("level", "")),
        )

    @classmethod
    def loads(cls, raw: bytes) -> Manifest:
        return cls.from_json(json.loads(raw))


def manifest_matches(manifest: Manifest, voice: ResolvedVoice) -> bool:
    """Whether ``manifest`` is for ``voice``'s settings (its level and instructions too)."""
    return (
        manifest.settings_match(voice.provider, voice.model, voice.voice, voice.speed, voice.format)
        and (manifest.instructions or None) == (voice.instructions or None)
        and (manifest.level == voice.level)
    )


def apply_entry(manifest: Manifest, entry: ChunkEntry) -> bool:
    """Copy ``entry``'s result into ``manifest`` if it still lists that very block."""
    current = manifest.chunk(entry.index)
    if current is None or current.text != entry.text or current.file_name != entry.file_name:
        return False
    current.status = entry.status
    current.duration = entry.duration
    current.bytes = entry.bytes
    current.sha256 = entry.sha256
    current.sentences = [replace(s) for s in entry.sentences]
    current.error = entry.error
    current.spoken_by = entry.spoken_by
    current.spoken_kind = entry.spoken_kind
    return True
