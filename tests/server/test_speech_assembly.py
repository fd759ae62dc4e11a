"""``/v1/audio/speech`` answers by what was said: a real server process, the openai SDK.

The store is pre-generated with the fake voice (a tone burst per word, word times
like Piper's); the server runs the same voice in its own process, so every figure
here comes over HTTP: ``X-Cache``, ``X-Preread-Synthesized-Chars`` and the decoded
length of the answer.
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import soundfile as sf

from liveserver import LAUNCH, running_server
from preread.lifecycle import run_cleanup
from preread.manifest import Manifest, SentenceTime
from preread.model import Block, DocumentText
from preread.preprocess import run_preprocess
from preread.settings import VoiceSettings
from preread.store import Store
from preread.tts.fake import FakeProvider

HEADER = "The Long Stairs at Dusk 12"  # a running header that repeats words of the text
PAGE_1 = (
    "The keeper climbed the long stairs at dusk.",
    "Far out at sea, a ship saw the light and turned.",
    "Nobody on the ship knew his name.",
)
PAGE_2 = (
    "He had kept the lamp burning for thirty years.",
    "Each night the beam swept the rocks below.",
)


def _document() -> DocumentText:
    blocks = (
        Block(0, 1, 0, " ".join(PAGE_1), PAGE_1),
        Block(1, 2, 0, " ".join(PAGE_2), PAGE_2),
    )
    return DocumentText(
        "5e" * 32, "keeper.pdf", "The Keeper", 2, blocks=blocks, furniture=(HEADER, "13")
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    home = tmp_path_factory.mktemp("speech") / "home"
    home.mkdir()
    store = Store(home)
    summary = run_preprocess(store, FakeProvider(), _document(), VoiceSettings(provider="fake"))
    assert summary.state == "complete"
    with running_server(home) as (base, _):
        yield base, home


def _sentences(home: Path) -> dict[str, SentenceTime]:
    manifest = Store(home).require_manifest("5e" * 32)
    return {s.text: s for c in manifest.chunks for s in c.sentences}


def _ask(base: str, text: str, **extra: object) -> tuple[bytes, dict[str, str]]:
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="any", max_retries=0)
    raw = client.audio.speech.with_raw_response.create(
        model="kokoro", voice="af_bella", input=text, extra_body=extra or None
    )
    return raw.content, dict(raw.headers)


def _seconds(data: bytes) -> float:
    samples, rate = sf.read(io.BytesIO(data), dtype="int16")
    return len(samples) / rate


def _span(sentences: list[SentenceTime]) -> float:
    return sum(s.end - s.start for s in sentences)


def test_a_run_of_stored_sentences_is_assembled_without_synthesis(
    server: tuple[str, Path],
) -> None:
    base, home = server
    times = _sentences(home)
    text = f"{PAGE_1[1].upper()}   “{PAGE_1[2]}”\n{PAGE_2[0]}"  # across two blocks
    data, headers = _ask(base, text)
    assert headers["x-cache"] == "ASSEMBLED"
    assert headers["x-preread-synthesized-chars"] == "0"
    expected = _span([times[PAGE_1[1]], times[PAGE_1[2]], times[PAGE_2[0]]])
    assert abs(_seconds(data) - expected) <= 0.050
    again, headers = _ask(base, text)
    assert headers["x-cache"] == "HIT" and again == data


def test_a_running_header_in_the_middle_is_skipped(server: tuple[str, Path]) -> None:
    base, home = server
    times = _sentences(home)
    text = f"{PAGE_1[2]} {HEADER} {PAGE_2[0]} 13 {PAGE_2[1]}"
    data, headers = _ask(base, text)
    assert headers["x-cache"] == "ASSEMBLED"
    assert headers["x-preread-synthesized-chars"] == "0"
    expected = _span([times[PAGE_1[2]], times[PAGE_2[0]], times[PAGE_2[1]]])
    assert abs(_seconds(data) - expected) <= 0.050


@pytest.mark.parametrize("first", [5, 8])  # from "saw", or just "and turned."
def test_a_partial_sentence_is_cut_at_word_times(server: tuple[str, Path], first: int) -> None:
    base, home = server
    times = _sentences(home)
    ship = times[PAGE_1[1]]
    assert ship.words is not None
    words = PAGE_1[1].split()
    # from word ``first`` to the sentence's end, then the next sentence whole
    cut = (ship.words[first - 1][1] + ship.words[first][0]) / 2
    text = " ".join(words[first:]) + " " + PAGE_1[2]
    data, headers = _ask(base, text)
    assert headers["x-cache"] == "ASSEMBLED"
    assert headers["x-preread-synthesized-chars"] == "0"
    expected = (ship.end - cut) + _span([times[PAGE_1[2]]])
    assert abs(_seconds(data) - expected) <= 0.050


def test_only_the_unknown_sentence_is_synthesized(server: tuple[str, Path]) -> None:
    base, _ = server
    new = "A gull landed on the rail and stared."
    text = f"{PAGE_1[0]} {new} {PAGE_1[1]} {PAGE_1[2]}"
    _, headers = _ask(base, text)
    assert headers["x-cache"] == "ASSEMBLED"
    assert headers["x-preread-synthesized-chars"] == str(len(new))
    metrics = httpx.get(f"{base}/metrics").text
    assert 'preread_speech_requests_total{result="assembled"}' in metrics
    assert "preread_speech_synthesized_chars_total" in metrics


def test_mostly_new_text_is_synthesized_whole(server: tuple[str, Path]) -> None:
    base, _ = server
    text = "Entirely new words arrive here. Another new sentence follows them."
    data, headers = _ask(base, text, language="en", unknown_field=1)
    assert headers["x-cache"] == "MISS"
    assert headers["x-preread-synthesized-chars"] == str(len(text) - 1)  # two sentences
    assert _seconds(data) > 1.0


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"model": "kokoro", "voice": "af_bella", "input": ""}, "input is required"),
        ({"voice": "amy", "input": "Hello there."}, "unknown voice"),
        ({"model": "kokoro", "input": "x" * 5000}, "over"),
        ({"model": "kokoro", "input": 12}, "input is required"),
        ({"model": "kokoro", "input": "Hi.", "speed": "fast"}, "speed"),
    ],
)
def test_bad_requests_are_400(server: tuple[str, Path], body: object, needle: str) -> None:
    base, _ = server
    response = httpx.post(f"{base}/v1/audio/speech", json=body)
    assert response.status_code == 400, response.text
    assert needle in response.text


def test_malformed_json_is_400(server: tuple[str, Path]) -> None:
    base, _ = server
    response = httpx.post(
        f"{base}/v1/audio/speech",
        content=b'{"input": "Hello', headers={"content-type": "application/json"},
    )
    assert response.status_code == 400


def _fake_seconds(sentences: list[str]) -> float:
    """What the fake voice takes for these sentences, stored or not (its rule)."""
    return sum(max(0.1, len(s) * 0.02) for s in sentences)


def test_a_concurrent_cleanup_never_truncates_an_answer(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    store = Store(home)
    fake = VoiceSettings(provider="fake")
    with running_server(home) as (base, _):
        for n in range(6):
            # stored again, then evicted (no pins, no grace) while the answer is built
            assert run_preprocess(store, FakeProvider(), _document(), fake).state == "complete"
            evict = threading.Thread(
                target=run_cleanup,
                args=(store,),
                kwargs={"max_bytes": 0, "pin_minutes": 0, "grace_seconds": 0},
            )
            sentences = [PAGE_1[n % 3], f"Number {n} is new.", PAGE_2[n % 2]]
            evict.start()
            try:
                data, headers = _ask(base, " ".join(sentences))
            finally:
                evict.join()
            assert headers["x-cache"] in ("ASSEMBLED", "MISS")
            if headers["x-cache"] == "ASSEMBLED":  # streamed: a cut body fails to read
                assert headers["transfer-encoding"] == "chunked"
            else:
                assert int(headers["content-length"]) == len(data)
            assert abs(_seconds(data) - _fake_seconds(sentences)) <= 0.050


def test_the_index_is_rebuilt_by_a_command(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    store = Store(home)
    assert run_preprocess(store, FakeProvider(), _document(), VoiceSettings(provider="fake"))
    index = home / "index" / "speech.jsonl"
    assert len(index.read_bytes().splitlines()) == 2
    index.unlink()
    run = [sys.executable, "-c", LAUNCH, "--home", str(home)]
    done = subprocess.run([*run, "index", "rebuild"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "2 blobs" in done.stdout
    with running_server(home) as (base, _):
        _, headers = _ask(base, f"{PAGE_1[0]} {PAGE_2[1]}")
        assert headers["x-cache"] == "ASSEMBLED"
    assert Manifest.loads(store.manifest_path("5e" * 32).read_bytes()).chunks
