"""Sending parts of an open file as a response body, without blocking the event loop.

Reads first try ``preadv(..., RWF_NOWAIT)``: served from the page cache at once,
in the event loop (the common case for hot audio, and no thread hop). Whatever
is not cached is read in a worker thread. Bodies up to ``whole_limit`` bytes go
out in one message; larger ones in ``piece``-sized messages, stopping when the
client goes away. The descriptor is closed when the response ends, whatever
happens; an unlinked file stays readable through it until then.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

Segment = bytes | tuple[int, int]  # literal bytes, or (offset, length) in the file

_nowait = hasattr(os, "preadv") and hasattr(os, "RWF_NOWAIT")


def open_chunk(path: Path | str, expected_size: int | None) -> tuple[int, int] | None:
    """An open descriptor and size for a whole chunk file; None if missing or not whole.

    ``O_NOFOLLOW``: a chunk file is a hard link, never a symlink, so a symlink
    planted in a chunk folder is refused rather than followed out of the store.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        raise
    size = os.fstat(fd).st_size
    if expected_size is not None and size != expected_size:
        os.close(fd)
        return None
    return fd, size


def pread_all(fd: int, length: int, offset: int) -> bytes:
    pieces: list[bytes] = []
    while length > 0:
        data = os.pread(fd, length, offset)
        if not data:
            raise OSError(errno.EIO, "the file ended early")
        pieces.append(data)
        length -= len(data)
        offset += len(data)
    return b"".join(pieces)


def read_whole(fd: int, size: int) -> bytes:
    """Read and close: the whole file behind ``fd`` (from ``open_chunk``)."""
    try:
        return pread_all(fd, size, 0)
    finally:
        os.close(fd)


def read_cached(fd: int, into: bytearray | memoryview, offset: int) -> int:
    """Read into ``into`` at ``offset`` what the page cache holds now, never waiting for
    the disk: the number of bytes read (0 when none is cached or RWF_NOWAIT is missing)."""
    global _nowait
    if not _nowait:
        return 0
    try:
        return os.preadv(fd, [into], offset, os.RWF_NOWAIT)
    except BlockingIOError:
        return 0
    except OSError as exc:  # a kernel or file system without RWF_NOWAIT
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
        _nowait = False
        return 0


async def read_at(fd: int, length: int, offset: int) -> bytes:
    """``length`` bytes at ``offset``: from the page cache in place, else in a thread."""
    buffer = bytearray(length)
    done = read_cached(fd, buffer, offset)
    if done == length:
        return bytes(buffer)
    rest = await anyio.to_thread.run_sync(pread_all, fd, length - done, offset + done)
    return bytes(buffer[:done]) + rest if done else rest


class FileBody(Response):
    """A response whose body is ``segments``, read from ``fd`` as it is sent."""

    def __init__(
        self,
        fd: int,
        segments: Sequence[Segment],
        status_code: int,
        headers: Mapping[str, str],
        head: bool,
        whole_limit: int,
        piece: int,
    ) -> None:
        self.fd = fd
        self.segments = list(segments)
        self.status_code = status_code
        self.head = head
        self.whole_limit = whole_limit
        self.piece = max(4096, piece)
        self.background = None
        self.length = sum(len(s) if isinstance(s, bytes) else s[1] for s in self.segments)
        self.raw_headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
        ]
        self.raw_headers.append((b"content-length", str(self.length).encode("ascii")))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if self.head or self.length <= self.whole_limit:
                body = b"" if self.head else await self._whole()
                await send(
                    {
                        "type": "http.response.start",
                        "status": self.status_code,
                        "headers": self.raw_headers,
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            async with anyio.create_task_group() as group:

                async def watch() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(watch)
                await self._stream(send)
                group.cancel_scope.cancel()
        finally:
            os.close(self.fd)

    async def _whole(self) -> bytes:
        parts = []
        for segment in self.segments:
            if isinstance(segment, bytes):
                parts.append(segment)
            else:
                parts.append(await read_at(self.fd, segment[1], segment[0]))
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def _stream(self, send: Send) -> None:
        for segment in self.segments:
            if isinstance(segment, bytes):
                await send({"type": "http.response.body", "body": segment, "more_body": True})
                continue
            offset, remaining = segment
            while remaining > 0:
                size = min(self.piece, remaining)
                data = await read_at(self.fd, size, offset)
                offset += size
                remaining -= size
                await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
