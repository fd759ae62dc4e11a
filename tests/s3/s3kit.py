"""A real S3-protocol server for the shared-tier tests: moto's server mode on 127.0.0.1."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
from moto.server import ThreadedMotoServer

from liveserver import free_port, wait

BUCKET = "preread-test"
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise


@dataclass
class S3Server:
    port: int
    server: ThreadedMotoServer

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, prefix: str = "library") -> dict[str, str]:
        """What a ``preread serve`` process needs to use the bucket (standard variables)."""
        return {
            "PREREAD_S3_URL": f"s3://{BUCKET}/{prefix}",
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": "test-key-id",
            "AWS_SECRET_ACCESS_KEY": "test-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test-key-id",
            aws_secret_access_key="test-secret",
        )

    def object_keys(self) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def stop(self) -> None:
        self.server.stop()

    def restart(self) -> None:
        """Up again on the same port, with the same objects (moto keeps them in memory)."""
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()


@contextlib.contextmanager
def running_s3() -> Iterator[S3Server]:
    """moto's S3 server on a free port of 127.0.0.1, with an empty bucket; stopped after."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    running = S3Server(port, server)
    try:
        httpx.post(f"{running.endpoint}/moto-api/reset", timeout=10)  # moto's state is global
        running.client().create_bucket(Bucket=BUCKET)
        yield running
    finally:
        running.stop()


def export_mp3(base: str, doc: str) -> bytes:
    """A document's MP3 export from a running ``preread serve``: the job started, waited
    for, and its file downloaded (asserting each step went well)."""
    started = httpx.post(f"{base}/api/exports", json={"documentId": doc, "format": "mp3"})
    assert started.status_code in (200, 202), started.text
    url = f"{base}/api/exports/{started.json()['jobId']}"

    def ended() -> dict[str, Any] | None:
        status: dict[str, Any] = httpx.get(url).json()
        return status if status["state"] not in ("queued", "running") else None

    status = wait("the export", ended, timeout=60)
    assert status["state"] == "done", status
    got = httpx.get(f"{url}/file", timeout=30)
    assert got.status_code == 200
    return got.content
