"""MPEG audio Layer III frames: find them, count their samples, drop a Xing/Info frame.

An exported book is its chunks' MP3 frames one after another. Each chunk file starts
with a Xing/LAME "Info" frame (no audio: a header with the frame count, encoder delay
and padding) that is only true of that file, so it is dropped; the book's length and
chapter times are then counted from the frames themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

_BITRATES = {  # kbit/s by bitrate index, Layer III
    "1": (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    "2": (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


class NotMp3(ValueError):
    """The bytes are not a run of MPEG Layer III frames."""


@dataclass(frozen=True)
class Frame:
    offset: int
    length: int
    samples: int
    sample_rate: int


def id3_size(data: bytes | memoryview) -> int:
    """Length of a leading ID3v2 tag (0 when there is none)."""
    if len(data) >= 10 and bytes(data[:3]) == b"ID3":
        size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
        footer = 10 if data[5] & 0x10 else 0
        return 10 + size + footer
    return 0


def frame_at(data: bytes | memoryview, offset: int) -> Frame | None:
    """The Layer III frame whose header starts at ``offset``, or None."""
    if offset + 4 > len(data):
        return None
    b0, b1, b2 = data[offset], data[offset + 1], data[offset + 2]
    if b0 != 0xFF or (b1 & 0xE0) != 0xE0:
        return None
    version = (b1 >> 3) & 3  # 3 MPEG-1, 2 MPEG-2, 0 MPEG-2.5
    layer = (b1 >> 1) & 3  # 1: Layer III
    bitrate_index, rate_index, padding = b2 >> 4, (b2 >> 2) & 3, (b2 >> 1) & 1
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1 = version == 3
    bitrate = _BITRATES["1" if mpeg1 else "2"][bitrate_index] * 1000
    rate = _RATES[version][rate_index]
    length = (144 if mpeg1 else 72) * bitrate // rate + padding
    if offset + length > len(data):
        return None
    return Frame(offset, length, 1152 if mpeg1 else 576, rate)


def frames(data: bytes | memoryview) -> list[Frame]:
    """Every frame in ``data`` after any ID3v2 tag; NotMp3 when there is none."""
    out: list[Frame] = []
    offset = id3_size(data)
    while offset < len(data):
        frame = frame_at(data, offset)
        if frame is None:
            if bytes(data[offset : offset + 3]) == b"TAG":  # an ID3v1 tag at the end
                break
            if out:  # trailing bytes that are no frame: ignored
                break
            raise NotMp3(f"no MPEG Layer III frame at byte {offset}")
        out.append(frame)
        offset += frame.length
    if not out:
        raise NotMp3("no MPEG Layer III frame")
    return out


def is_info_frame(data: bytes | memoryview, frame: Frame) -> bool:
    body = bytes(data[frame.offset : frame.offset + min(frame.length, 64)])
    return b"Xing" in body or b"Info" in body


def audio_frames(data: bytes) -> tuple[memoryview, int, int]:
    """(the audio frames without a leading Xing/Info frame, samples, sample rate)."""
    found = frames(data)
    if is_info_frame(data, found[0]):
        found = found[1:]
    if not found:
        return memoryview(b""), 0, 0
    view = memoryview(data)[found[0].offset : found[-1].offset + found[-1].length]
    return view, sum(f.samples for f in found), found[0].sample_rate


def xing_frame(first: bytes | memoryview, frame_count: int, byte_count: int) -> bytes:
    """A Xing header frame (no audio) for a stream whose first audio frame header is
    ``first[:4]``: it tells players the stream's frame count and byte length (the whole
    stream's, this frame included), so a VBR file's duration is exact."""
    b0, b1, b2, b3 = first[0], first[1], first[2], first[3]
    version = (b1 >> 3) & 3
    mpeg1 = version == 3
    mono = (b3 >> 6) == 3
    side = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
    rate = _RATES[version][(b2 >> 2) & 3]
    table = _BITRATES["1" if mpeg1 else "2"]
    need = 4 + side + 16
    for index in range(1, 15):
        length = (144 if mpeg1 else 72) * table[index] * 1000 // rate
        if length >= need:
            break
    header = bytes([b0, b1 | 0x01, (index << 4) | (b2 & 0x0C), b3])  # no CRC, no padding
    payload = b"Xing" + (3).to_bytes(4, "big")
    payload += frame_count.to_bytes(4, "big") + (byte_count + length).to_bytes(4, "big")
    frame = header + bytes(side) + payload
    return frame + bytes(length - len(frame))
