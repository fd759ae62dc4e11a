"""``/v1/audio/speech`` claims a stored clip before reading it: clips are evicted by last
use (the claim is the use), not by when they were made."""

from __future__ import annotations

import json
import os
import time

from starlette.testclient import TestClient

from preread.blobs import BlobStore, blob_key
from preread.lifecycle import run_cleanup
from preread.settings import VoiceSettings
from preread.speech.index import index_path
from preread.store import Store
from preread.tts.fake import FakeProvider

OLD = "The morning ferry leaves at seven from the northern pier."
NEWER = "Quantum gardens bloom purple under twin moons tonight."


def age(blobs: BlobStore, key: str, seconds: float) -> None:
    then = time.time() - seconds
    for path in (blobs.audio_path(key, "mp3"), blobs.sidecar_path(key)):
        os.utime(path, (then, then))


def test_a_clip_heard_again_outlives_a_newer_one_nobody_asked_for(
    client: TestClient, store: Store
) -> None:
    voice = FakeProvider().resolve(VoiceSettings(provider="fake"))
    blobs = BlobStore(store)
    keys = {}
    for text in (OLD, NEWER):
        response = client.post("/v1/audio/speech", json={"model": "tts-1", "input": text})
        assert response.status_code == 200 and response.headers["x-cache"] == "MISS"
        keys[text] = blob_key(text, voice)
    age(blobs, keys[OLD], 3 * 3600)  # made three hours ago
    age(blobs, keys[NEWER], 2 * 3600)  # made two hours ago
    again = client.post("/v1/audio/speech", json={"model": "tts-1", "input": OLD})
    assert again.headers["x-cache"] == "HIT"  # heard now: its blob is claimed
    report = run_cleanup(store, max_bytes=10**12, older_than=3600, pin_minutes=0, grace_seconds=0)
    assert report.blobs_removed == 1
    assert blobs.read(keys[OLD], "mp3") is not None  # used a moment ago: kept
    assert blobs.read(keys[NEWER], "mp3") is None  # unused for two hours: evicted
    # the evicted clip's line left the speech index; the kept one's stayed
    assert report.index_lines_dropped == 1
    lines = index_path(store).read_text().splitlines()
    assert [json.loads(line)["key"] for line in lines] == [keys[OLD]]
