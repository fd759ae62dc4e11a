"""An audiobook file (M4B: MP4 with AAC audio and chapter marks), written in bounded memory.

The AAC encoder is FFmpeg's, from the ``av`` wheel (PyAV ships FFmpeg; nothing is
downloaded at run time). The MP4 boxes are written here rather than by FFmpeg's muxer,
whose sample index grows by ≈ 80 bytes per AAC frame (≈ 190 MB for a 30-hour book):
the encoded frames and their sizes go to scratch files, then the file is laid out as
``ftyp``, ``moov`` (sample tables streamed from the scratch files), ``mdat``.

Chapters are written twice, for both kinds of players: as a QuickTime chapter track
(a disabled ``text`` track referenced by the audio track's ``tref/chap``: Apple's
players, FFmpeg) and as a Nero ``chpl`` box (mutagen, many Android players). An edit
list hides the encoder's priming samples, so chapter times are those of the audio.
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

if TYPE_CHECKING:
    from av.packet import Packet
    from av.stream import Stream

AAC_BITRATE = 48_000  # mono speech at 22–24 kHz: ≈ 360 KB per audio minute
FRAMES_PER_CHUNK = 64  # AAC frames per MP4 chunk (≈ 3 s): one stco entry each
MOVIE_TIMESCALE = 1000
NERO_MAX = 255  # chapters a Nero ``chpl`` box can list
_IDENTITY = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def box(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *parts)


@dataclass
class Chapter:
    title: str
    start: int  # samples from the start of the audio


@dataclass
class _Track:
    """What the encoder produced: counted here, the frames themselves on disk."""

    rate: int
    extradata: bytes
    priming: int = 0
    frames: int = 0
    audio_bytes: int = 0
    samples: int = 0  # the audio's own samples (priming excluded)
    stts: list[list[int]] = field(default_factory=list)  # [count, delta] runs

    def add(self, size: int, duration: int) -> None:
        self.frames += 1
        self.audio_bytes += size
        if self.stts and self.stts[-1][1] == duration:
            self.stts[-1][0] += 1
        else:
            self.stts.append([1, duration])


class AacWriter:
    """Encode int16 mono PCM to AAC frames on disk; ``finish`` writes the M4B."""

    def __init__(self, rate: int, scratch: Path) -> None:
        import av

        self._ctx = av.AudioCodecContext.create("aac", "w")
        self._ctx.sample_rate = rate
        self._ctx.layout = "mono"
        self._ctx.format = "fltp"
        self._ctx.bit_rate = AAC_BITRATE
        self._ctx.time_base = Fraction(1, rate)
        self._ctx.open()
        self.track = _Track(rate, bytes(self._ctx.extradata or b""))
        self._frame_type = av.AudioFrame
        self._audio_path, self._sizes_path = scratch, scratch.with_name(scratch.name + ".sizes")
        self._audio = open(self._audio_path, "w+b")  # noqa: SIM115 (closed by close())
        self._sizes = open(self._sizes_path, "w+b")  # noqa: SIM115
        self._first = True

    def write(self, pcm: np.ndarray) -> None:
        """Append int16 mono samples at the writer's rate."""
        if not len(pcm):
            return
        frame = self._frame_type.from_ndarray(
            np.ascontiguousarray(pcm, dtype=np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = self.track.rate
        frame.pts = self.track.samples
        self.track.samples += len(pcm)
        self._take(self._ctx.encode(frame))

    def _take(self, packets: Iterable[Packet[Stream]]) -> None:
        for packet in packets:
            data = bytes(packet)
            if self._first:
                self.track.priming = max(0, -int(packet.pts or 0))
                self._first = False
            self._audio.write(data)
            self._sizes.write(struct.pack(">I", len(data)))
            self.track.add(len(data), int(packet.duration or 1024))

    def finish(self, out: BinaryIO, chapters: list[Chapter], tags: dict[bytes, str]) -> None:
        """Flush the encoder and write the whole file to ``out``."""
        self._take(self._ctx.encode(None))
        self._audio.flush()
        self._sizes.flush()
        texts = [_chapter_sample(c.title) for c in chapters]
        layout = _Layout(self.track, chapters, texts, tags)
        head = box(b"ftyp", b"M4B ", struct.pack(">I", 0x200), b"M4B M4A mp42isom")
        data_start = len(head) + layout.moov_size() + layout.mdat_header
        out.write(head)
        layout.write_moov(out, data_start, self._sizes)
        total = self.track.audio_bytes + sum(len(t) for t in texts)
        if layout.mdat_header == 16:
            out.write(struct.pack(">I4sQ", 1, b"mdat", total + 16))
        else:
            out.write(struct.pack(">I4s", total + 8, b"mdat"))
        self._audio.seek(0)
        shutil.copyfileobj(self._audio, out, 1 << 20)
        for text in texts:
            out.write(text)

    def close(self) -> None:
        self._audio.close()
        self._sizes.close()
        for path in (self._audio_path, self._sizes_path):
            path.unlink(missing_ok=True)


def _chapter_sample(title: str) -> bytes:
    """A QuickTime text sample: its length, the UTF-8 text, an ``encd`` box saying UTF-8."""
    text = title.encode("utf-8")[:1024]
    return struct.pack(">H", len(text)) + text + box(b"encd", struct.pack(">I", 0x100))


def _nero_title(title: str) -> bytes:
    text = title.encode("utf-8")[:255]
    return text.decode("utf-8", "ignore").encode("utf-8")  # never half a character


class _Layout:
    """Box sizes are known before any offset is: ``moov`` is sized, then written."""

    def __init__(
        self, track: _Track, chapters: list[Chapter], texts: list[bytes], tags: dict[bytes, str]
    ) -> None:
        self.track, self.chapters, self.texts, self.tags = track, chapters, texts, tags
        self.total = track.priming + track.samples
        self.chunks = -(-track.frames // FRAMES_PER_CHUNK)
        payload = track.audio_bytes + sum(len(t) for t in texts)
        self.mdat_header = 16 if payload + 8 > 0xFFFFFFFF else 8
        self.wide = payload + (1 << 20) + 64 * (track.frames + len(texts)) > 0xFFFFFFFF
        self.ms = round(track.samples * MOVIE_TIMESCALE / track.rate)

    # -- the moov box: every size known first, the sample tables streamed ------------------
    def _parts(self, data_start: int) -> tuple[bytes, int, bytes]:
        """``moov``'s bytes before the audio's sample tables, their length, the bytes after."""
        mvhd = full_box(
            b"mvhd", 0, 0, struct.pack(">IIII", 0, 0, MOVIE_TIMESCALE, self.ms),
            struct.pack(">IH10x", 0x10000, 0x100), _IDENTITY, bytes(24),
            struct.pack(">I", 3),
        )  # fmt: skip
        width = 8 if self.wide else 4
        tables = (20 + 4 * self.track.frames) + (16 + width * self.chunks)
        audio = _nest(self._audio_levels(), tables)
        after = self._text_trak(data_start) + self._udta()
        size = 8 + len(mvhd) + len(audio) + tables + len(after)
        return struct.pack(">I4s", size, b"moov") + mvhd + audio, tables, after

    def moov_size(self) -> int:
        before, tables, after = self._parts(0)
        return len(before) + tables + len(after)

    def write_moov(self, out: BinaryIO, data_start: int, sizes: BinaryIO) -> None:
        before, _, after = self._parts(data_start)
        out.write(before)
        frames = self.track.frames
        out.write(struct.pack(">I4sIII", 20 + 4 * frames, b"stsz", 0, 0, frames))
        sizes.seek(0)
        shutil.copyfileobj(sizes, out, 1 << 16)
        kind, fmt = (b"co64", ">Q") if self.wide else (b"stco", ">I")
        width = 8 if self.wide else 4
        out.write(struct.pack(">I4sII", 16 + width * self.chunks, kind, 0, self.chunks))
        sizes.seek(0)
        position, n = data_start, 0
        while block := sizes.read(4 * FRAMES_PER_CHUNK * 256):
            offsets = bytearray()
            for (size,) in struct.iter_unpack(">I", block):
                if n % FRAMES_PER_CHUNK == 0:
                    offsets += struct.pack(fmt, position)
                position += size
                n += 1
            out.write(offsets)
        out.write(after)

    def _tkhd(self, flags: int, track_id: int, volume: int) -> bytes:
        return full_box(
            b"tkhd", 0, flags, struct.pack(">IIIII", 0, 0, track_id, 0, self.ms), bytes(8),
            struct.pack(">hhH2x", 0, 0, volume), _IDENTITY, struct.pack(">II", 0, 0),
        )  # fmt: skip

    def _mdhd(self, timescale: int, duration: int) -> bytes:
        lang = struct.pack(">HH", 0x55C4, 0)  # "und"
        if duration > 0xFFFFFFFF:
            return full_box(b"mdhd", 1, 0, struct.pack(">QQIQ", 0, 0, timescale, duration), lang)
        return full_box(b"mdhd", 0, 0, struct.pack(">IIII", 0, 0, timescale, duration), lang)

    @staticmethod
    def _hdlr(kind: bytes, name: bytes) -> bytes:
        return full_box(b"hdlr", 0, 0, struct.pack(">I4s12x", 0, kind), name + b"\0")

    @staticmethod
    def _dinf() -> bytes:
        return box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))

    def _esds(self) -> bytes:
        def descriptor(tag: int, body: bytes) -> bytes:
            return struct.pack(">BB", tag, len(body)) + body

        rate = AAC_BITRATE
        config = descriptor(
            0x04, struct.pack(">BBBHII", 0x40, 0x15, 0, 0x1800, rate, rate)
            + descriptor(0x05, self.track.extradata),
        )  # fmt: skip
        es = descriptor(0x03, struct.pack(">HB", 1, 0) + config + descriptor(0x06, b"\x02"))
        return full_box(b"esds", 0, 0, es)

    def _audio_levels(self) -> list[tuple[bytes, bytes]]:
        """The audio track's boxes down to ``stbl``, each with what precedes its child."""
        track = self.track
        mp4a = box(
            b"mp4a", bytes(6), struct.pack(">H", 1), bytes(8),
            struct.pack(">HHHHI", 1, 16, 0, 0, track.rate << 16), self._esds(),
        )  # fmt: skip
        stsd = full_box(b"stsd", 0, 0, struct.pack(">I", 1), mp4a)
        stts = full_box(
            b"stts", 0, 0, struct.pack(">I", len(track.stts)),
            b"".join(struct.pack(">II", n, d) for n, d in track.stts),
        )  # fmt: skip
        runs = [(1, min(FRAMES_PER_CHUNK, track.frames))] if track.frames else []
        last = track.frames - (self.chunks - 1) * FRAMES_PER_CHUNK
        if self.chunks > 1 and last != FRAMES_PER_CHUNK:
            runs.append((self.chunks, last))
        stsc = full_box(
            b"stsc", 0, 0, struct.pack(">I", len(runs)),
            b"".join(struct.pack(">III", first, n, 1) for first, n in runs),
        )  # fmt: skip
        elst = full_box(b"elst", 0, 0, struct.pack(">IIIHH", 1, self.ms, track.priming, 1, 0))
        tref = box(b"tref", box(b"chap", struct.pack(">I", 2)))
        return [
            (b"trak", self._tkhd(3, 1, 0x100) + box(b"edts", elst) + tref),
            (b"mdia", self._mdhd(track.rate, self.total) + self._hdlr(b"soun", b"SoundHandler")),
            (b"minf", full_box(b"smhd", 0, 0, bytes(4)) + self._dinf()),
            (b"stbl", stsd + stts + stsc),
        ]

    def _text_trak(self, data_start: int) -> bytes:
        starts = [round(c.start * MOVIE_TIMESCALE / self.track.rate) for c in self.chapters]
        ends = [*starts[1:], self.ms]
        durations = [max(1, end - start) for start, end in zip(starts, ends, strict=True)]
        text_entry = box(
            b"text", bytes(6), struct.pack(">H", 1), struct.pack(">II", 1, 0), bytes(6),
            bytes(8), bytes(8), struct.pack(">HHBH", 0, 0, 0, 0), bytes(6),
            box(b"ftab", struct.pack(">HH", 1, 1), b"\0"),
        )  # fmt: skip
        stsd = full_box(b"stsd", 0, 0, struct.pack(">I", 1), text_entry)
        stts = full_box(
            b"stts", 0, 0, struct.pack(">I", len(durations)),
            b"".join(struct.pack(">II", 1, d) for d in durations),
        )  # fmt: skip
        stsc = full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, 1, 1))
        stsz = full_box(
            b"stsz", 0, 0, struct.pack(">II", 0, len(self.texts)),
            b"".join(struct.pack(">I", len(t)) for t in self.texts),
        )  # fmt: skip
        position = data_start + self.track.audio_bytes
        offsets = []
        for text in self.texts:
            offsets.append(position)
            position += len(text)
        kind, fmt = (b"co64", ">Q") if self.wide else (b"stco", ">I")
        stco = full_box(
            kind, 0, 0, struct.pack(">I", len(offsets)),
            b"".join(struct.pack(fmt, o) for o in offsets),
        )  # fmt: skip
        gmhd = box(
            b"gmhd", full_box(b"gmin", 0, 0, struct.pack(">HHHHHH", 0x40, 0x8000, 0x8000,
                                                        0x8000, 0, 0)),
            box(b"text", _IDENTITY),
        )  # fmt: skip
        minf = box(b"minf", gmhd, self._dinf(), box(b"stbl", stsd, stts, stsc, stsz, stco))
        mdia = box(
            b"mdia", self._mdhd(MOVIE_TIMESCALE, sum(durations)),
            self._hdlr(b"text", b"ChapterHandler"), minf,
        )  # fmt: skip
        return box(b"trak", self._tkhd(2, 2, 0), mdia)

    def _udta(self) -> bytes:
        marks = self.chapters[:NERO_MAX]  # its count is one byte; the chapter track has all
        nero = b"".join(
            struct.pack(">QB", round(c.start * 10_000_000 / self.track.rate), len(t)) + t
            for c in marks
            for t in [_nero_title(c.title)]
        )
        chpl = full_box(b"chpl", 1, 0, struct.pack(">IB", 0, len(marks)), nero)
        items = [
            box(key, full_box(b"data", 0, 1, bytes(4), value.encode("utf-8")))
            for key, value in self.tags.items()
        ]
        items.append(box(b"stik", full_box(b"data", 0, 21, bytes(4), b"\x02")))  # audiobook
        meta = full_box(
            b"meta", 0, 0, full_box(b"hdlr", 0, 0, struct.pack(">I4s12x", 0, b"mdir"), b"\0"),
            box(b"ilst", *items),
        )  # fmt: skip
        return box(b"udta", chpl, meta)


def _nest(levels: list[tuple[bytes, bytes]], tail: int) -> bytes:
    """Box headers and leading children, outermost first; the innermost box ends with
    ``tail`` bytes written later, and every size counts them."""
    out = b""
    for kind, before in reversed(levels):
        out = struct.pack(">I4s", 8 + len(before) + len(out) + tail, kind) + before + out
    return out
