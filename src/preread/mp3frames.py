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


ENCODER_DELAY = 576  # LAME's: the samples it adds before the first input sample


def lame_layout(samples: int, sample_rate: int) -> tuple[int, int]:
    """(audio frames, end padding) LAME 3.100 makes of ``samples`` input samples.

    LAME starts with ``ENCODER_DELAY`` samples of its own and pads the end to whole
    frames, with at least 576 samples of padding (``lame_encode_flush``), so both are
    known from the input's length alone, before anything is encoded.
    """
    per_frame = 1152 if sample_rate >= 32000 else 576
    filled = samples + ENCODER_DELAY
    padding = per_frame - filled % per_frame
    if padding < 576:
        padding += per_frame
    return (filled + padding) // per_frame, padding


def _crc16(data: bytes) -> int:
    """CRC-16/ARC (LAME's Info tag CRC)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def lame_tag_frame(sample_rate: int, samples: int) -> bytes:
    """A Xing frame with a LAME tag (no audio) for a mono stream of ``samples`` samples
    that LAME 3.100 is about to encode, made before the audio: its frame count, encoder
    delay and padding (``lame_layout``), so players know the exact length and drop
    LAME's delay and padding (gapless). No byte count or seek table: those are known
    only after the last frame; players then seek by the average bitrate."""
    version = next(v for v, rates in _RATES.items() if sample_rate in rates)
    mpeg1 = version == 3
    frame_count, padding = lame_layout(samples, sample_rate)
    body = b"Xing" + (1).to_bytes(4, "big") + frame_count.to_bytes(4, "big")  # frames only
    body += b"LAME3.100" + bytes(2 + 4 + 2 + 2 + 2)  # revision .. bitrate: not known
    body += (ENCODER_DELAY << 12 | padding).to_bytes(3, "big")
    body += bytes(1 + 1 + 2 + 4 + 2)  # misc, gain, preset, music length, music CRC
    start = 4 + (17 if mpeg1 else 9)  # header, mono side info
    table = _BITRATES["1" if mpeg1 else "2"]
    for index in range(1, 15):
        length = (144 if mpeg1 else 72) * table[index] * 1000 // sample_rate
        if length >= start + len(body) + 2:
            break
    else:
        raise ValueError(f"no frame at {sample_rate} Hz holds a LAME tag")
    rate_index = _RATES[version].index(sample_rate)
    header = bytes([0xFF, 0xE0 | version << 3 | 0x03, index << 4 | rate_index << 2, 0xC0])
    tagged = header + bytes(start - 4) + body  # mono, no CRC, no padding bit
    frame = tagged + _crc16(tagged).to_bytes(2, "big")
    return frame + bytes(length - len(frame))
