"""``preread export``: a document or a chapter as one audio file with chapter marks, or as
subtitles, made from the stored chunks.

* ``mp3``: an ID3v2 tag with the title and ID3 chapter frames (CTOC + one CHAP per
  chapter of the outline), then every chunk's MP3 frames in order (each chunk's own
  Xing/Info frame dropped). Chunks stored as Opus are decoded and encoded to MP3 one at
  a time. Chapter times are counted from the frames written, so they match the file.
* ``m4b``: an audiobook (MP4, AAC, chapters as a QuickTime chapter track and a Nero
  ``chpl`` box; ``preread.m4b``). Every chunk is decoded and encoded to AAC one at a
  time; chapter times are counted from the decoded samples.
* ``vtt`` / ``srt``: one cue per sentence, from the manifest's sentence times placed at
  each chunk's start in the exported audio.

Only stored chunks are used (``missing_pages`` tells which pages lack audio; the CLI
generates those first). Files are written to a temporary name and renamed when whole;
memory stays bounded (one chunk at a time), whatever the book's length.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from preread.errors import BadInput, NotFound, PrereadError
from preread.fsutil import fsync_dir
from preread.manifest import ChunkEntry, Manifest
from preread.mp3frames import NotMp3, audio_frames, xing_frame

EXPORT_FORMATS = ("mp3", "m4b", "vtt", "srt")
Tick = Callable[[ChunkEntry], None]  # called after each chunk is written (progress, cancel)
MEDIA_TYPES = {
    "mp3": "audio/mpeg",
    "m4b": "audio/mp4",
    "vtt": "text/vtt; charset=utf-8",
    "srt": "application/x-subrip",
}


@dataclass
class ChapterMark:
    title: str
    first: int  # position in ExportPlan.entries
    start: float = 0.0
    end: float = 0.0


@dataclass
class ExportPlan:
    manifest: Manifest
    chunks_dir: Path
    entries: list[ChunkEntry]
    chapters: list[ChapterMark]
    title: str
    offsets: list[float] = field(default_factory=list)  # each entry's start, seconds

    def missing(self) -> list[ChunkEntry]:
        return [e for e in self.entries if not self._stored(e)]

    def missing_pages(self) -> list[int]:
        return sorted({e.page for e in self.missing()})

    def _stored(self, entry: ChunkEntry) -> bool:
        if entry.status != "done" or "/" in entry.file_name:
            return False
        path = self.chunks_dir / entry.file_name
        return path.is_file() and (entry.bytes is None or path.stat().st_size == entry.bytes)

    def path(self, entry: ChunkEntry) -> Path:
        return self.chunks_dir / entry.file_name

    def file_name(self, fmt: str, chapter: int | None) -> str:
        stem = Path(self.manifest.source_name or "document").stem or "document"
        safe = "".join(c if c.isalnum() or c in " ._-" else "_" for c in stem).strip() or "document"
        return f"{safe}{f' - chapter {chapter}' if chapter else ''}.{fmt}"


def plan(manifest: Manifest, chunks_dir: Path, chapter: int | None = None) -> ExportPlan:
    """The entries (of chapter ``chapter``, 1-based, when given) and their chapter marks."""
    entries = sorted(manifest.chunks, key=lambda c: c.index)
    chapters = sorted(manifest.chapters, key=lambda c: c.page)
    title = manifest.title or manifest.source_name or "Untitled"
    if chapter is not None:
        if not 1 <= chapter <= len(chapters):
            count = len(chapters)
            raise BadInput(
                f"no chapter {chapter}: this document has {count} chapter"
                f"{'' if count == 1 else 's'}{' (from its outline)' if count else ''}"
            )
        first_page = chapters[chapter - 1].page
        end_page = chapters[chapter].page if chapter < len(chapters) else None
        entries = [
            e for e in entries if e.page >= first_page and (end_page is None or e.page < end_page)
        ]
        if not entries:
            raise NotFound(f"chapter {chapter} has no text to speak")
        marks = [ChapterMark(chapters[chapter - 1].title, 0)]
        title = f"{title}: {chapters[chapter - 1].title}"
    else:
        if not entries:
            raise NotFound("the document has no blocks to export")
        marks = []
        for ch in chapters:
            first = next((i for i, e in enumerate(entries) if e.page >= ch.page), None)
            if first is None or (marks and marks[-1].first == first):
                continue
            marks.append(ChapterMark(ch.title, first))
        if not marks or marks[0].first != 0:
            marks.insert(0, ChapterMark(title, 0))
    return ExportPlan(manifest, chunks_dir, entries, marks, title)


# -- audio --------------------------------------------------------------------------------
class BadChunk(PrereadError):
    """A stored chunk that cannot be exported (not the audio its manifest says)."""


def _chunk_mp3(plan_: ExportPlan, entry: ChunkEntry) -> bytes:
    if plan_.manifest.format == "mp3":
        return plan_.path(entry).read_bytes()
    from preread.audio import encode

    pcm, rate = _chunk_pcm(plan_, entry)  # int16 samples
    return encode(pcm.astype("<i2").tobytes(), rate, "mp3").data


def _frames_of(entry: ChunkEntry, data: bytes) -> tuple[memoryview, int, int]:
    try:
        return audio_frames(data)
    except NotMp3 as exc:
        raise BadChunk(f"chunk {entry.file_name} is not an MP3 file ({exc})") from None


def _id3_tag(plan_: ExportPlan) -> bytes:
    id3: Any = importlib.import_module("mutagen.id3")  # untyped
    CHAP, CTOC, TALB, TIT2, TPE1 = id3.CHAP, id3.CTOC, id3.TALB, id3.TIT2, id3.TPE1
    CTOCFlags = id3.CTOCFlags
    tags = id3.ID3()
    tags.add(TIT2(encoding=3, text=[plan_.title]))
    tags.add(TALB(encoding=3, text=[plan_.manifest.title or plan_.title]))
    tags.add(TPE1(encoding=3, text=[f"preread ({plan_.manifest.voice})"]))
    ids = [f"ch{n}" for n in range(len(plan_.chapters))]
    tags.add(
        CTOC(
            element_id="toc",
            flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
            child_element_ids=ids,
            sub_frames=[TIT2(encoding=3, text=["Chapters"])],
        )
    )
    for element, mark in zip(ids, plan_.chapters, strict=True):
        tags.add(
            CHAP(
                element_id=element,
                start_time=round(mark.start * 1000),
                end_time=round(mark.end * 1000),
                sub_frames=[TIT2(encoding=3, text=[mark.title])],
            )
        )
    buffer = io.BytesIO()
    tags.save(buffer, v2_version=3, padding=lambda info: 0)
    return buffer.getvalue()


def _place(plan_: ExportPlan, lengths: list[float]) -> None:
    offsets, t = [], 0.0
    for length in lengths:
        offsets.append(t)
        t += length
    plan_.offsets = offsets
    bounds = [m.first for m in plan_.chapters] + [len(plan_.entries)]
    for mark, end in zip(plan_.chapters, bounds[1:], strict=True):
        mark.start = offsets[mark.first]
        mark.end = offsets[end] if end < len(offsets) else t


def write_mp3(plan_: ExportPlan, out: BinaryIO, scratch: Path, tick: Tick | None = None) -> None:
    """The tag, then the frames: the audio goes to ``scratch`` first (the tag needs the
    chapter times, known once every chunk's frames are counted), then is copied after it."""
    lengths: list[float] = []
    first = b""
    count = size = 0
    with open(scratch, "w+b") as body:
        for entry in plan_.entries:
            frames, samples, rate = _frames_of(entry, _chunk_mp3(plan_, entry))
            first = first or bytes(frames[:4])
            count += samples // (1152 if rate >= 32000 else 576) if rate else 0
            size += len(frames)
            body.write(frames)
            lengths.append(samples / rate if rate else 0.0)
            if tick is not None:
                tick(entry)
        _place(plan_, lengths)
        out.write(_id3_tag(plan_))
        if first:
            out.write(xing_frame(first, count, size))
        body.seek(0)
        shutil.copyfileobj(body, out, 1 << 20)


def _chunk_pcm(plan_: ExportPlan, entry: ChunkEntry) -> tuple[Any, int]:
    from preread.audio import decode

    try:
        return decode(plan_.path(entry).read_bytes())
    except Exception as exc:  # libsndfile's errors are plain RuntimeErrors
        raise BadChunk(f"chunk {entry.file_name} does not decode: {exc}") from None


def write_m4b(plan_: ExportPlan, out: BinaryIO, scratch: Path, tick: Tick | None = None) -> None:
    """AAC frames to ``scratch`` one chunk at a time, then the file (``preread.m4b``)."""
    from preread.audio import resample
    from preread.m4b import AacWriter, Chapter

    writer: AacWriter | None = None
    lengths: list[int] = []
    try:
        for entry in plan_.entries:
            pcm, rate = _chunk_pcm(plan_, entry)
            if writer is None:
                writer = AacWriter(rate, scratch)
            elif rate != writer.track.rate:
                pcm = resample(pcm, rate, writer.track.rate)
            writer.write(pcm)
            lengths.append(len(pcm))
            if tick is not None:
                tick(entry)
        assert writer is not None  # plan() never has no entries
        rate = writer.track.rate
        _place(plan_, [n / rate for n in lengths])
        starts = [0]
        for n in lengths:
            starts.append(starts[-1] + n)
        chapters = [Chapter(m.title, starts[m.first]) for m in plan_.chapters]
        tags = {
            b"\xa9nam": plan_.title,
            b"\xa9alb": plan_.manifest.title or plan_.title,
            b"\xa9ART": f"preread ({plan_.manifest.voice})",
            b"\xa9too": "preread",
        }
        writer.finish(out, chapters, tags)
    finally:
        if writer is not None:
            writer.close()


def _chunk_lengths(plan_: ExportPlan, tick: Tick | None = None) -> list[float]:
    """Each chunk's length as the MP3 export lays it out (frames), else its duration."""
    lengths = []
    for entry in plan_.entries:
        if plan_.manifest.format == "mp3":
            _, samples, rate = _frames_of(entry, plan_.path(entry).read_bytes())
            lengths.append(samples / rate if rate else 0.0)
        else:
            lengths.append(entry.duration or 0.0)
        if tick is not None:
            tick(entry)
    return lengths


def _stamp(seconds: float, comma: bool) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{',' if comma else '.'}{ms:03d}"


def cues(plan_: ExportPlan, tick: Tick | None = None) -> Iterator[tuple[float, float, str]]:
    _place(plan_, _chunk_lengths(plan_, tick))
    for entry, offset in zip(plan_.entries, plan_.offsets, strict=True):
        for sentence in entry.sentences:
            if sentence.end > sentence.start:
                yield offset + sentence.start, offset + sentence.end, sentence.text


def write_subtitles(plan_: ExportPlan, out: BinaryIO, fmt: str, tick: Tick | None = None) -> None:
    srt = fmt == "srt"
    if not srt:
        out.write(b"WEBVTT\n\n")
    for number, (start, end, text) in enumerate(cues(plan_, tick), 1):
        head = f"{number}\n" if srt else ""
        line = f"{head}{_stamp(start, srt)} --> {_stamp(end, srt)}\n{text.strip()}\n\n"
        out.write(line.encode("utf-8"))


def write_export(plan_: ExportPlan, fmt: str, target: Path, tick: Tick | None = None) -> None:
    """Write the export to ``target`` whole or not at all (temp file, fsync, rename);
    ``tick`` after each chunk (an exception it raises stops the export, nothing left)."""
    if fmt not in EXPORT_FORMATS:
        raise BadInput(f"bad format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
    missing = plan_.missing()
    if missing:
        pages = plan_.missing_pages()
        shown = ", ".join(str(p) for p in pages[:10]) + (" …" if len(pages) > 10 else "")
        raise NotFound(f"{len(missing)} chunks are not stored (pages {shown}): pre-generate them")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    scratch = Path(tmp + ".audio")
    try:
        with os.fdopen(fd, "wb") as out:
            if fmt == "mp3":
                write_mp3(plan_, out, scratch, tick)
            elif fmt == "m4b":
                write_m4b(plan_, out, scratch, tick)
            else:
                write_subtitles(plan_, out, fmt, tick)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            scratch.unlink()
    fsync_dir(target.parent)
