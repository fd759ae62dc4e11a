"""An assembled ``/v1/audio/speech`` answer is sent as it is encoded, and stored once whole.

A real server process on a store pre-generated with the fake voice; requests through
the official ``openai`` SDK (its streaming response) and through a raw socket, which
sees the HTTP chunks the server sends.
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import soundfile as sf

from liveserver import running_server, wait
from preread.blobs import BlobStore, blob_key
from preread.manifest import SentenceTime
from preread.model import Block, DocumentText
from preread.preprocess import run_preprocess
from preread.settings import VoiceSettings
from preread.store import Store
from preread.tts.fake import FakeProvider

WORDS = [
    "amber", "birch", "cedar", "delta", "ember", "fjord",
    "granite", "harbor", "island", "juniper", "kestrel", "lagoon",
]  # fmt: skip
BLOCKS = [
    tuple(
        f"The {WORDS[(b + s) % 12]} path number {b * 10 + s} runs past the "
        f"{WORDS[(b * 5 + s) % 12]} and the {WORDS[(b + 7 * s) % 12]} again."
        for s in range(8)
    )
    for b in range(4)
]
DOCUMENT_ID = "7a" * 32


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    home = tmp_path_factory.mktemp("stream") / "home"
    home.mkdir()
    blocks = tuple(Block(n, n + 1, 0, " ".join(b), b) for n, b in enumerate(BLOCKS))
    document = DocumentText(DOCUMENT_ID, "paths.pdf", "Paths", len(blocks), blocks=blocks)
    fake = VoiceSettings(provider="fake")
    assert run_preprocess(Store(home), FakeProvider(), document, fake).state == "complete"
    with running_server(home) as (base, _):
        yield base, home


def _times(home: Path) -> dict[str, SentenceTime]:
    manifest = Store(home).require_manifest(DOCUMENT_ID)
    return {s.text: s for c in manifest.chunks for s in c.sentences}


def _seconds(data: bytes) -> float:
    samples, rate = sf.read(io.BytesIO(data), dtype="int16")
    return len(samples) / rate


def _client(base: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key="any", max_retries=0)


def _streamed(base: str, text: str) -> tuple[list[bytes], dict[str, str]]:
    with (
        _client(base) as client,
        client.audio.speech.with_streaming_response.create(
            model="kokoro", voice="af_sky", input=text
        ) as response,
    ):
        return list(response.iter_bytes()), dict(response.headers)


def _request(text: str, port: int) -> bytes:
    body = json.dumps({"model": "kokoro", "voice": "af_sky", "input": text}).encode()
    return (
        f"POST /v1/audio/speech HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class _Chunked:
    """An HTTP/1.1 response read off a socket, one chunk of its body at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer = sock, b""
        head = self._until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:])}

    def _until(self, mark: bytes) -> bytes:
        while mark not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("the server closed the connection")
            self.buffer += data
        found, self.buffer = self.buffer.split(mark, 1)
        return found

    def _exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("the server closed the connection")
            self.buffer += data
        found, self.buffer = self.buffer[:n], self.buffer[n:]
        return found

    def chunk(self) -> bytes:
        """The next chunk's data (b"" for the last, empty one)."""
        size = int(self._until(b"\r\n").split(b";")[0], 16)
        data = self._exactly(size)
        assert self._exactly(2) == b"\r\n"
        return data


def test_an_assembled_answer_is_streamed_then_stored_whole(server: tuple[str, Path]) -> None:
    base, home = server
    times = _times(home)
    sentences = [*BLOCKS[0][5:], *BLOCKS[1], *BLOCKS[2][:3]]  # across three blocks
    pieces, headers = _streamed(base, " ".join(sentences))
    assert headers["x-cache"] == "ASSEMBLED"
    assert headers["x-preread-synthesized-chars"] == "0"
    # sent while it was made: no length up front
    assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers
    data = b"".join(pieces)
    expected = sum(times[s].end - times[s].start for s in sentences)
    assert abs(_seconds(data) - expected) <= 0.050
    again, headers = _streamed(base, " ".join(sentences))
    assert headers["x-cache"] == "HIT"
    assert b"".join(again) == data  # the bytes sent are the bytes stored


def test_the_first_chunk_leaves_before_the_last_is_made(server: tuple[str, Path]) -> None:
    base, home = server
    text = " ".join([*BLOCKS[2][4:], *BLOCKS[3]])
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_request(text, port))
        response = _Chunked(sock)
        assert response.status == 200 and response.headers["x-cache"] == "ASSEMBLED"
        chunks = [response.chunk()]
        # the first chunk opens the MP3 stream: the Xing/LAME frame made before the audio
        assert chunks[0][:2] == b"\xff\xf3" and b"Xing" in chunks[0][:64]
        assert b"LAME" in chunks[0][:80]
        while chunks[-1]:
            chunks.append(response.chunk())
    body = b"".join(chunks)
    # the body came in many chunks, the first of them a small part of it
    assert len(chunks) >= 4 and len(chunks[0]) < len(body) / 3
    times = _times(home)
    expected = sum(times[s].end - times[s].start for s in [*BLOCKS[2][4:], *BLOCKS[3]])
    assert abs(_seconds(body) - expected) <= 0.050


def test_a_client_gone_midstream_leaves_no_partial_entry(server: tuple[str, Path]) -> None:
    base, home = server
    sentences = [*BLOCKS[0], *BLOCKS[1], *BLOCKS[2], *BLOCKS[3][:5]]
    text = "  ".join(sentences)  # not byte-equal to any earlier request
    port = int(base.rsplit(":", 1)[1])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the server cannot run ahead
    sock.connect(("127.0.0.1", port))
    sock.sendall(_request(text, port))
    response = _Chunked(sock)
    assert response.headers["x-cache"] == "ASSEMBLED"
    assert response.chunk()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # reset: gone mid-answer
    # the same request waits for the abandoned answer's end: then it is either stored
    # whole (it was all made before the server saw the client go) or not at all
    pieces, headers = _streamed(base, text)
    data = b"".join(pieces)
    times = _times(home)
    expected = sum(times[s].end - times[s].start for s in sentences)
    assert headers["x-cache"] in ("HIT", "ASSEMBLED")
    assert abs(_seconds(data) - expected) <= 0.050
    voice = FakeProvider().resolve(VoiceSettings(provider="fake"))
    key = blob_key(text, voice)
    blobs = BlobStore(Store(home))
    # a whole answer is stored when the server closes it, just after its last byte left
    info = wait("the answer to be stored", lambda: blobs.read(key, "mp3"), timeout=20)
    assert blobs.verify(info)
    assert blobs.audio_path(key, "mp3").read_bytes() == data
    assert not [p for p in Store(home).blobs_dir.rglob("*") if p.name.endswith(".tmp")]


def test_an_opus_answer_is_streamed_from_mp3_speech(server: tuple[str, Path]) -> None:
    base, home = server
    times = _times(home)
    sentences = list(BLOCKS[1][2:6])
    with (
        _client(base) as client,
        client.audio.speech.with_streaming_response.create(
            model="kokoro", voice="af_sky", input=" ".join(sentences), response_format="opus"
        ) as response,
    ):
        assert response.headers["x-cache"] == "ASSEMBLED"
        assert response.headers["content-type"].startswith("audio/ogg")
        data = response.read()
    expected = sum(times[s].end - times[s].start for s in sentences)
    assert abs(_seconds(data) - expected) <= 0.050
