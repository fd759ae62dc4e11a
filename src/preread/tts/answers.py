"""Checking a speech server's answer before it becomes a chunk: format, length, sound.

A server speaking OpenAI's protocol is asked for ``response_format="pcm"`` (24 kHz
s16le mono). ``decode_answer`` accepts that (``audio/pcm``, ``audio/l16``, a binary
or missing content type) or a WAV file (a server that ignores ``pcm``), and rejects
anything else, whatever the status code said: MP3, Ogg, FLAC, JSON or HTML bodies,
compressed audio labelled as PCM, an odd number of bytes. ``implausible`` then says
why decoded audio cannot be the speech of its text, or None:

* **too short**: faster than ``MAX_CHARS_PER_SECOND`` (40) letters and digits a second
  at speed 1.0 (the speed scales it), less ``SHORT_SLACK`` (0.1 s). Speech runs at
  12–18 of them a second; 40 is beyond any voice at that speed;
* **too long**: slower than ``MIN_CHARS_PER_SECOND`` (2.5) a second, plus
  ``LONG_SLACK`` (2 s) for pauses and numbers read out in full;
* **silence**: no 10 ms frame louder than ``SILENCE_RMS`` (-50 dBFS).

Only letters and digits count: a block of punctuation or symbols alone may rightly be
spoken as (near) nothing, and is not checked. The provider retries a rejected answer
like a failed request, then fails the chunk with the reason; it is never stored.
"""

from __future__ import annotations

import io

import numpy as np

PCM_RATE = 24000
MAX_CHARS_PER_SECOND = 40.0
MIN_CHARS_PER_SECOND = 2.5
SHORT_SLACK = 0.1
LONG_SLACK = 2.0
SILENCE_RMS = 32768 * 10 ** (-50 / 20)  # -50 dBFS ≈ 104 in 16-bit samples

PCM_TYPES = frozenset(
    {"audio/pcm", "audio/l16", "audio/raw", "audio/x-raw", "application/octet-stream",
     "binary/octet-stream", ""}
)  # fmt: skip
WAV_TYPES = frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"})
COMPRESSED_MAGIC = {b"ID3": "MP3", b"OggS": "Ogg", b"fLaC": "FLAC", b"\x1aE\xdf\xa3": "WebM"}


class BadAnswer(Exception):
    """The server's answer is not usable speech; the message says why (no body text)."""


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def decode_answer(data: bytes, content_type: str | None) -> tuple[np.ndarray, int]:
    """16-bit mono samples and their rate from an answer to a ``pcm`` request."""
    kind = media_type(content_type)
    if kind in WAV_TYPES or (kind in PCM_TYPES and data[:4] == b"RIFF"):
        return _wav(data)
    if kind not in PCM_TYPES:
        raise BadAnswer(f"the server answered {kind[:60]}, not the PCM audio asked for")
    for magic, name in COMPRESSED_MAGIC.items():
        if data.startswith(magic):
            raise BadAnswer(f"the server answered {name} audio labelled {kind or 'untyped'}")
    if _mp3_frames(data):
        raise BadAnswer(f"the server answered MP3 audio labelled {kind or 'untyped'}")
    if len(data) % 2:
        raise BadAnswer(f"the answer is not 16-bit PCM (an odd {len(data)} bytes)")
    if not data:
        raise BadAnswer("the answer has no audio")
    return np.frombuffer(data, dtype="<i2"), PCM_RATE


_MP3_KBPS = {  # (MPEG-1?, layer III) bitrate index -> kbit/s
    True: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    False: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_frame(data: bytes, at: int) -> int:
    """The length of the MPEG layer III frame starting at ``at``, or 0 if there is none."""
    head = data[at : at + 4]
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return 0
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    if version == 1 or layer != 1 or bitrate in (0, 15) or rate == 3:
        return 0
    kbps = _MP3_KBPS[version == 3][bitrate]
    hz = _MP3_RATES[version][rate]
    padding = (head[2] >> 1) & 1
    return (144 if version == 3 else 72) * kbps * 1000 // hz + padding


def _mp3_frames(data: bytes) -> bool:
    """Two MP3 frames in a row at the start (PCM does not chain frame headers)."""
    first = _mp3_frame(data, 0)
    return first > 0 and _mp3_frame(data, first) > 0


def _wav(data: bytes) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="int16", always_2d=True)
    except (RuntimeError, ValueError, TypeError) as exc:  # soundfile's LibsndfileError
        raise BadAnswer(f"the WAV answer does not decode ({type(exc).__name__})") from None
    if not len(samples):
        raise BadAnswer("the answer has no audio")
    return np.ascontiguousarray(samples.mean(axis=1).astype("<i2")), int(rate)


def spoken_chars(text: str) -> int:
    """Letters and digits: what takes time to say."""
    return sum(1 for c in text if c.isalnum())


def implausible(samples: np.ndarray, rate: int, text: str, speed: float) -> str | None:
    """Why ``samples`` cannot be ``text`` spoken at ``speed`` (see the module doc)."""
    chars = spoken_chars(text)
    if chars == 0:
        return None
    seconds = len(samples) / rate
    shortest = max(0.0, chars / (MAX_CHARS_PER_SECOND * speed) - SHORT_SLACK)
    longest = chars / (MIN_CHARS_PER_SECOND * speed) + LONG_SLACK
    if seconds < shortest:
        return (
            f"the audio is too short: {seconds:.2f} s for {chars} letters and digits"
            f" (at least {shortest:.2f} s at speed {speed:g})"
        )
    if seconds > longest:
        return (
            f"the audio is too long: {seconds:.1f} s for {chars} letters and digits"
            f" (at most {longest:.1f} s at speed {speed:g})"
        )
    frame = max(1, rate // 100)
    count = len(samples) // frame
    values = samples[: count * frame].astype(np.float64).reshape(max(count, 1), -1)
    loudest = float(np.sqrt((values**2).mean(axis=1)).max()) if values.size else 0.0
    if loudest < SILENCE_RMS:
        return f"the audio is silence (loudest 10 ms at {_dbfs(loudest):.0f} dBFS)"
    return None


def _dbfs(rms: float) -> float:
    return -120.0 if rms <= 0 else 20 * float(np.log10(rms / 32768))
