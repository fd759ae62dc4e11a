"""A real local HTTP server speaking OpenAI's ``/v1/audio/speech`` protocol, for tests.

It answers on 127.0.0.1 (a free port) from a thread, so the real ``openai`` SDK
talks to it over real HTTP. Answers are scripted:

    with SpeechServer() as server:            # server.base_url -> "http://127.0.0.1:PORT/v1"
        server.script = ["429", "500", "ok"]  # one answer per request, then ``default``
        server.default = "ok"
        server.fail_when = lambda text: "poison" in text   # always 500 for such inputs

Answers: ``ok`` (24 kHz s16le PCM: a tone per sentence, 0.25 s of silence between
sentences, or WAV when ``response_format`` is ``wav``), ``429`` (with
``Retry-After: server.retry_after``), ``500`` (with ``Retry-After`` only if
``server.retry_after_on_500`` is set), ``401``, ``404-voice`` (an unknown voice),
``timeout`` (answers only after ``server.hang`` seconds), ``hang`` (never answers:
the connection stays open, silent, until the server stops). ``server.delay``
seconds pass before every ``ok`` answer (a server's synthesis time), and
``server.choose(text)``, when set, picks each answer instead of the script (e.g.
a primary failing 30 % of requests). Answers a broken server
gives, all with status 200: ``noise-mpeg`` (random bytes as ``audio/mpeg``), ``mp3``
(the speech as real MP3, ``audio/mpeg``, whatever was asked), ``mp3-as-pcm`` (the
same bytes labelled ``audio/pcm``), ``silence`` (PCM zeros as long as the speech),
``short`` (a 0.1 s tone), ``html`` (an HTML page). ``leaky-500`` and ``leaky-400``
answer an error whose body echoes the request's Authorization header, a URL with
credentials and a stack trace. Every request is recorded in ``server.requests``
(with ``at``, its ``time.monotonic()``, and ``answer``), except preread's loudness
reference (``preread.tts.loudness.REFERENCE``: one request per voice and store, measuring
the voice's level), which is answered ``ok`` whatever the script or ``fail_when`` say, recorded in
``server.references``. ``server.amplitude`` sets the tone's level.
The server engineer may reuse it.
"""

from __future__ import annotations

import io
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from preread.tts.loudness import REFERENCE

RATE = 24000
SECONDS_PER_CHAR = 0.03
GAP = 0.25


@dataclass
class Recorded:
    path: str
    authorization: str | None
    body: dict[str, Any]
    at: float = 0.0
    answer: str = ""


def speech_pcm(text: str, amplitude: float = 0.4) -> bytes:
    """A tone per sentence, silence between: cuts should land in the silences."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    pieces: list[np.ndarray] = []
    for number, sentence in enumerate(sentences):
        n = int(max(0.2, len(sentence) * SECONDS_PER_CHAR) * RATE)
        t = np.arange(n) / RATE
        pieces.append(amplitude * np.sin(2 * math.pi * (300 + 40 * number) * t))
        if number < len(sentences) - 1:
            pieces.append(np.zeros(int(GAP * RATE)))
    wave = np.concatenate(pieces) if pieces else np.zeros(RATE // 10)
    return (wave * 32767).astype("<i2").tobytes()


def speech_mp3(text: str) -> bytes:
    import soundfile as sf

    buffer = io.BytesIO()
    samples = np.frombuffer(speech_pcm(text), dtype="<i2")
    sf.write(buffer, samples, RATE, format="MP3")
    return buffer.getvalue()


def leaky_message(authorization: str | None) -> str:
    """An error body a careless server might send: the key, a URL, a stack trace."""
    return (
        f"upstream rejected {authorization} at https://admin:hunter2@tts.internal:8443/v1"
        ' Traceback (most recent call last):\n  File "/srv/tts/app.py", line 42, in speak\n'
        "    raise RuntimeError('model not loaded')"
    )


BROKEN: dict[str, Callable[[str], tuple[bytes, str]]] = {
    "noise-mpeg": lambda text: (np.random.default_rng(7).bytes(48000), "audio/mpeg"),
    "mp3": lambda text: (speech_mp3(text), "audio/mpeg"),
    "mp3-as-pcm": lambda text: (speech_mp3(text), "audio/pcm"),
    "silence": lambda text: (bytes(len(speech_pcm(text))), "audio/pcm"),
    "short": lambda text: (speech_pcm("Hi.")[: RATE // 5], "audio/pcm"),
    "html": lambda text: (b"<html><body>Bad gateway</body></html>", "text/html"),
}


class SpeechServer:
    def __init__(self) -> None:
        self.script: list[str] = []
        self.default = "ok"
        self.retry_after = "0.05"
        self.retry_after_on_500: str | None = None
        self.hang = 2.0
        self.delay = 0.0
        self.fail_when: Callable[[str], bool] | None = None
        self.choose: Callable[[str], str] | None = None
        self._closing = threading.Event()
        self.requests: list[Recorded] = []
        self.references: list[Recorded] = []  # the loudness reference, per voice and store
        self.amplitude = 0.4
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> SpeechServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()  # hanging answers end
        self._httpd.shutdown()
        self._httpd.server_close()

    def next_answer(self, text: str) -> str:
        with self._lock:
            if self.fail_when is not None and self.fail_when(text):
                return "500"
            if self.script:
                return self.script.pop(0)
            return self.choose(text) if self.choose is not None else self.default

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in headers.items():
                        self.send_header(name.replace("_", "-"), value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def _error(self, status: int, message: str, **headers: str) -> None:
                body = json.dumps({"error": {"message": message, "type": "test"}}).encode()
                self._send(status, body, "application/json", **headers)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    data = {"data": [{"id": "gpt-4o-mini-tts"}, {"id": "tts-1"}]}
                    self._send(200, json.dumps(data).encode(), "application/json")
                else:
                    self._error(404, "not found")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                text = str(body.get("input", ""))
                record = Recorded(
                    self.path, self.headers.get("Authorization"), body, time.monotonic()
                )
                reference = text.startswith(REFERENCE[0])
                (server.references if reference else server.requests).append(record)
                if not self.path.rstrip("/").endswith("/audio/speech"):
                    self._error(404, "not found")
                    return
                answer = "ok" if reference else server.next_answer(text)
                record.answer = answer
                if answer in BROKEN:
                    self._send(200, *BROKEN[answer](text))
                    return
                if answer.startswith("leaky-"):
                    self._error(int(answer[6:]), leaky_message(self.headers.get("Authorization")))
                    return
                if answer == "429":
                    self._error(429, "slow down", Retry_After=server.retry_after)
                elif answer == "500":
                    extra = {}
                    if server.retry_after_on_500 is not None:
                        extra["Retry_After"] = server.retry_after_on_500
                    self._error(500, "boom", **extra)
                elif answer == "401":
                    self._error(401, "Incorrect API key provided")
                elif answer == "404-voice":
                    self._error(404, f"voice {body.get('voice')!r} not found")
                elif answer == "timeout":
                    time.sleep(server.hang)
                    self._send(200, speech_pcm(text, server.amplitude), "audio/pcm")
                elif answer == "hang":
                    server._closing.wait()
                    self.close_connection = True
                elif server.delay and server._closing.wait(server.delay):
                    self.close_connection = True
                elif body.get("response_format") == "wav":
                    import soundfile as sf

                    samples = np.frombuffer(speech_pcm(text, server.amplitude), dtype="<i2")
                    buffer = io.BytesIO()
                    sf.write(buffer, samples, RATE, format="WAV", subtype="PCM_16")
                    self._send(200, buffer.getvalue(), "audio/wav")
                else:
                    self._send(200, speech_pcm(text, server.amplitude), "audio/pcm")

        return Handler
