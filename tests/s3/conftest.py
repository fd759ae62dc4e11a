"""Fixtures of the shared-tier tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from s3kit import S3Server, running_s3


@pytest.fixture
def s3() -> Iterator[S3Server]:
    with running_s3() as server:
        yield server
