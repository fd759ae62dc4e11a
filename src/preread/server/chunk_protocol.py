"""The hot chunk GET answered below ASGI, in uvicorn's HTTP protocol.

``ChunkProtocol`` is uvicorn's httptools protocol (``uvicorn.protocols.http.
httptools_impl.HttpToolsProtocol``), given to uvicorn as ``Config(http=...)`` by
``preread serve``. When a request's headers are complete and it is a plain
``GET``/``HEAD /api/tts/chunk?...`` that ``preread.server.fastpath`` answers, with the
chunk's bytes in the page cache (the event loop never waits for the disk), the
protocol writes status line and headers, then the file with ``sendfile`` (checked
first with ``cachestat``; where the kernel cannot tell, the bytes read with
``RWF_NOWAIT`` and written with the head in one ``writev``) — no ASGI scope, task,
``send`` messages or Starlette — and counts, marks and logs it as the fast path does.
The response is the one the ASGI paths give, byte for byte (uvicorn's ``date`` header
first, ``connection: close`` when the connection ends), except for the date itself.

Everything else goes through uvicorn's ASGI cycle untouched: other routes and
methods, what the fast path declines, a chunk not in the page cache, a request
pipelined behind one still being answered (answers keep their order), a connection
whose writes are paused (the transport's buffer is full: the ASGI cycle waits for it
to drain), a server with a root path, a concurrency limit, or proxy headers to apply
(the app is then wrapped, and the ASGI fast path answers).
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import time
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from preread.server.access_log import request_id_in
from preread.server.fastpath import PATH, ChunkFastPath
from preread.server.filebody import pread_all, read_cached
from preread.server.pagecache import in_page_cache

_PATH = PATH.encode("ascii")
_CLOSE = b"connection: close\r\n"
_MSG_MORE = getattr(socket, "MSG_MORE", 0)


class _Answered:
    """Stands for the request cycle of a request answered here: complete (a body the
    client sends after it is ignored; the next request starts at once)."""

    response_complete = True
    disconnected = False
    keep_alive = True

    class message_event:  # what uvicorn sets on a cycle when the connection drops
        @staticmethod
        def set() -> None:
            return None


_ANSWERED: Any = _Answered()


class ChunkProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.fast: ChunkFastPath | None
        fast = getattr(self.app, "fast", None)  # a wrapped app (proxy headers): none
        usable = isinstance(fast, ChunkFastPath) and not self.root_path
        self.fast = fast if usable and self.limit_concurrency is None else None
        self._socket: socket.socket | None = None
        self._date: tuple[list[tuple[bytes, bytes]], bytes] = ([], b"")

    def on_headers_complete(self) -> None:
        if self.fast is None or not self._answer():
            super().on_headers_complete()

    def _answer(self) -> bool:
        """Answer the request whose headers just arrived and return True, or return
        False having written, counted and logged nothing."""
        started = time.perf_counter()
        cycle = self.cycle
        if (cycle is not None and not cycle.response_complete) or self.flow.write_paused:
            return False  # behind an answer being written, or the transport is full
        path, _, query = self.url.partition(b"?")
        if path != _PATH or b"#" in query:
            return False
        parser = self.parser
        method = parser.get_method()
        if method == b"GET":
            method_name = "GET"
        elif method == b"HEAD":
            method_name = "HEAD"
        else:
            return False
        if parser.should_upgrade():
            return False
        fast = self.fast
        assert fast is not None
        headers = self.headers
        try:
            hit = fast.lookup(method_name, query, headers)
        except Exception:  # the ASGI cycle meets it again, and answers it as an error
            return False
        if hit is None:
            return False
        request_id = request_id_in(headers)
        try:
            if hit.status == 304:
                lines, size = hit.headers.not_modified_lines, 0
            else:
                lines, size = hit.headers.ok_lines, 0 if method_name == "HEAD" else hit.size
            keep_alive = parser.get_http_version() != "1.0" and parser.should_keep_alive()
            head = b"".join(
                (
                    STATUS_LINE[hit.status],
                    self._default_lines(),
                    lines,
                    b"x-request-id: ",
                    request_id.encode("ascii"),
                    b"\r\n" if keep_alive else b"\r\n" + _CLOSE,
                    b"\r\n",
                )
            )
            if not size:
                self.transport.write(head)
            elif not self._send_file(head, hit.fd, size):
                body = bytearray(size)
                try:
                    done = read_cached(hit.fd, body, 0)
                except OSError:
                    done = -1  # the full path meets the same error and answers it
                if done != size:
                    return False  # not all in the page cache: read in a thread by ASGI
                self.transport.writelines((head, body))
        finally:
            os.close(hit.fd)
        self.cycle = _ANSWERED
        client = self.client
        client_host = client[0] if client else None
        fast.served(hit, client_host, request_id, method_name, size, started, "protocol")
        if not keep_alive:
            self.transport.close()
        self.on_response_complete()  # counted; reads resumed; the keep-alive timer armed
        return True

    def _send_file(self, head: bytes, fd: int, size: int) -> bool:
        """Send ``head`` then the file with ``sendfile`` (no copy through this process)
        and return True; False having sent nothing when it cannot be used: the file is
        not all in the page cache (or the kernel cannot tell), or the transport still
        holds bytes to send."""
        transport = self.transport
        if transport.get_write_buffer_size() or not in_page_cache(fd, size):
            return False
        sock = self._socket
        if sock is None:
            sock = self._socket = transport.get_extra_info("socket").dup()
        sent = offset = 0
        try:
            sent = sock.send(head, _MSG_MORE)  # held back until the file's bytes follow
            if sent == len(head):
                out = sock.fileno()
                while offset < size:
                    done = os.sendfile(out, fd, offset, size - offset)
                    if not done:
                        raise OSError(errno.EIO, "the chunk file ended early")
                    offset += done
        except BlockingIOError:  # the socket's buffer is full: the transport sends the rest
            pass
        except OSError:  # the client went away (or the file shrank): end the connection
            transport.close()
            return True
        if sent < len(head) or offset < size:
            if sent < len(head):
                transport.write(head[sent:])
            try:
                transport.write(pread_all(fd, size - offset, offset))  # cached: no waiting
            except OSError:
                transport.close()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._socket is not None:
            self._socket.close()  # the duplicate descriptor sendfile writes to
            self._socket = None

    def _default_lines(self) -> bytes:
        """uvicorn's default headers (``date``, refreshed each second), as header lines."""
        current = self.server_state.default_headers
        known, lines = self._date
        if current is not known:
            lines = b"".join(b"%s: %s\r\n" % pair for pair in current)
            self._date = (current, lines)
        return lines
