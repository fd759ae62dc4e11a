"""Log lines written by a thread, so a slow or unread stdout never stalls the server.

``LineWriter.write(line)`` only puts the line on a bounded queue (the event loop
never waits on a pipe); one thread writes the queued lines to the stream, gathered
for 50 ms, in batches of whole lines of at most ``PIPE_BUF`` bytes (one ``write``
each, so the lines of several server processes sharing a stdout pipe never
interleave mid-line).
When the stream is not read and the queue is full, lines are dropped and counted;
a JSON line says how many once the stream takes lines again.
"""

from __future__ import annotations

import contextlib
import json
import queue
import sys
import threading
import time
from typing import IO

QUEUE_LINES = 10_000  # ≈ 2.5 MB of access log lines waiting at most
BATCH_BYTES = 4096  # PIPE_BUF on Linux: one write of at most this much is atomic
GATHER_SECONDS = 0.05  # after a first line, lines gathered this long go out together


class LineWriter:
    def __init__(self, stream: IO[str] | None = None, limit: int = QUEUE_LINES) -> None:
        """``stream``: where lines go (None: ``sys.stdout`` as it is when written)."""
        self.stream = stream
        self.dropped = 0
        self._reported = 0
        self._queue: queue.Queue[str | None] = queue.Queue(limit)
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def write(self, line: str) -> None:
        """Queue one line (ending with a newline); never blocks."""
        if self._thread is None:
            with self._start:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="preread-log", daemon=True
                    )
                    self._thread.start()
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (waiting at most ``timeout``), then stop the thread."""
        thread = self._thread
        if thread is None:
            return
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while True:
            line = self._queue.get()
            if line is None:
                return
            # wake at most ~20 times a second under load, not once per request: each
            # wake-up takes the GIL from the event loop
            time.sleep(GATHER_SECONDS)
            batch, size, stop = [line], len(line), False
            while size < BATCH_BYTES:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                if size + len(more) > BATCH_BYTES:
                    self._emit("".join(batch))
                    batch, size = [], 0
                batch.append(more)
                size += len(more)
            if batch:
                self._emit("".join(batch))
            dropped = self.dropped
            if dropped > self._reported:
                note = {"event": "logLinesDropped", "lines": dropped - self._reported}
                self._reported = dropped
                self._emit(json.dumps(note, separators=(",", ":")) + "\n")
            if stop:
                return

    def _emit(self, text: str) -> None:
        stream = self.stream or sys.stdout
        with contextlib.suppress(OSError, ValueError):  # a closed stdout: lines are lost
            stream.write(text)
            stream.flush()
