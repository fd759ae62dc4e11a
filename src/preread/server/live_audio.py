"""Incremental MP3 for the live stream: PCM in per sentence, MP3 frames out at once.

libsndfile's MP3 encoder writes frames as PCM arrives and, on close, goes back to
rewrite the Xing/LAME header frame at offset 0. A stream cannot go back, so the
live stream leaves that header frame out (it carries no audio; players handle a
plain frame sequence) and forwards every other byte in order. Constant bitrate:
without the header, decoders mis-read a VBR stream (libmpg123 drops most of it),
while CBR frames decode alone. The stored chunk is encoded separately, whole,
with its header (``preread.audio.encode``).
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf


class _Tap(io.RawIOBase):
    """A write-only "file" that hands bytes written in order to a list, once."""

    def __init__(self) -> None:
        self.position = 0
        self.forwarded = 0  # bytes [0, forwarded) already handled
        self.out: list[bytes] = []

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return b""

    def readinto(self, buffer: object) -> int:
        return 0

    def write(self, data: object) -> int:
        chunk = bytes(data)  # type: ignore[call-overload]
        if self.position == 0 and self.forwarded == 0 and chunk[:1] == b"\xff":
            # the first frame is the Xing/LAME header's placeholder, filled in at close
            self.forwarded = len(chunk)
        elif self.position >= self.forwarded:
            self.out.append(chunk)
            self.forwarded = self.position + len(chunk)
        self.position += len(chunk)
        return len(chunk)

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            self.position = offset
        elif whence == 1:
            self.position += offset
        else:
            self.position = max(self.position, self.forwarded) + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        data = b"".join(self.out)
        self.out.clear()
        return data


class LiveMp3Encoder:
    """``feed(pcm, rate)`` returns the MP3 bytes ready so far; ``close()`` the rest."""

    def __init__(self, compression_level: float = 0.7) -> None:
        self.compression_level = compression_level
        self._tap = _Tap()
        self._file: sf.SoundFile | None = None
        self.fed = False

    def feed(self, pcm: bytes, sample_rate: int) -> bytes:
        if self._file is None:
            self._file = sf.SoundFile(
                self._tap,
                "w",
                samplerate=sample_rate,
                channels=1,
                format="MP3",
                subtype="MPEG_LAYER_III",
                bitrate_mode="CONSTANT",
                compression_level=self.compression_level,
            )
        self._file.write(np.frombuffer(pcm, dtype="<i2"))
        self.fed = True
        return self._tap.take()

    def close(self) -> bytes:
        if self._file is not None:
            self._file.close()
            self._file = None
        return self._tap.take()
