"""Eviction while a real uvicorn streams a chunk: the body arrives whole; then 404."""

from __future__ import annotations

import hashlib
import os
import time

import httpx
import pytest
from synthstore import T0, SynthStore, content, doc_id

from liveserver import running_server, stop
from preread.lifecycle import run_cleanup
from preread.model import Block, DocumentText
from preread.store import Store

pytestmark = pytest.mark.slow


def test_a_chunk_being_streamed_survives_its_eviction(store: Store) -> None:
    big = content("a long chapter", pages=4096)  # 16 MiB: streamed in pieces
    document_id = doc_id("being listened to")
    SynthStore(store).add_document(document_id, [big, content("next")], at=T0)
    registered = doc_id("registered")  # its audio goes first, but it can be made again
    SynthStore(store).add_document(registered, [content("r")], at=T0 - 100)
    block = Block(0, 1, 0, "A sentence to speak again.", ("A sentence to speak again.",))
    store.register(DocumentText(registered, "r.pdf", "R", 1, blocks=(block,)), None)
    with running_server(store.home) as (base, server):
        url = f"{base}/api/tts/chunk"
        params = {"documentId": document_id, "index": "0"}
        with httpx.Client(timeout=30) as client, client.stream("GET", url, params=params) as r:
            assert r.status_code == 200
            pieces = r.iter_raw(65536)
            received = [next(pieces)]  # the stream has begun…
            # registered after the listener began: its registration is the most recent use
            later = time.time() + 4
            os.utime(store.registration_dir(registered) / "document.json", (later, later))
            report = run_cleanup(  # …and the document is evicted under it
                store, max_bytes=200_000, pin_minutes=0, now=time.time() + 5, grace_seconds=0
            )
            assert {(d.document_id, d.kind) for d in report.removed} == {
                (document_id, "audio"),
                (registered, "audio"),
            }  # under the limit then: the registration stays
            assert not store.doc_dir(document_id).exists()
            received.extend(pieces)
        body = b"".join(received)
        assert len(body) == len(big)
        assert hashlib.sha256(body).digest() == hashlib.sha256(big).digest()

        gone = httpx.get(url, params=params, timeout=10)  # not registered: unknown now
        assert gone.status_code == 404
        assert gone.json()["error"]["code"] == "not_found"

        again = httpx.get(url, params={"documentId": registered, "index": "0"}, timeout=30)
        assert again.status_code == 200, again.text  # registered: generated live
        assert again.headers["x-cache"] == "MISS" and len(again.content) > 0
        _, err = stop(server)
    assert b"Traceback" not in err, err.decode(errors="replace")
