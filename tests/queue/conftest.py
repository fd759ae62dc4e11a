"""Fixtures of the job queue tests: a real PostgreSQL (and moto's S3 server)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "s3"))

from pgkit import PgServer, running_postgres


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    """One server for the session (``initdb`` once); each test has its own database."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def queue_url(pg: PgServer, request: pytest.FixtureRequest) -> str:
    """A fresh database on the session's server, for one test."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    return pg.create_database(name)
