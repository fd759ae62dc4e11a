"""PostgreSQL behind the job queue (``PREREAD_QUEUE_URL``): procrastinate, plus one table.

procrastinate (an established PostgreSQL job library) owns the queue itself: its
jobs table, the per-document lock (``lock``: one document never runs in two
workers at once; ``queueing_lock``: one waiting job per document), retries with
backoff, worker heartbeats (a worker killed mid-job is found by its stale
heartbeat and its job retried) and abort requests (cancel, sent by NOTIFY).

preread adds ``preread_jobs``: one row per document, its latest job as the API
shows it (spec, state, progress, error). Workers update it as they go; every
``preread serve`` instance reads the rows changed since its last look (each
change takes the next ``version`` of a sequence), so status and event streams
on every instance come from this one shared state.

``init_schema`` creates both (idempotent, under an advisory lock, so instances
starting together do not race): ``preread worker``, ``preread serve`` and
``preread queue init`` call it. The URL may carry a password: messages name the
database with ``describe`` (never the password) and ``scrub`` any error text.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any
from urllib.parse import urlsplit

from preread.errors import BadSettings, Busy, PrereadError

QUEUE = "preread"  # procrastinate's queue name
TASK = "preread.preprocess"  # procrastinate's task name (defined by preread.worker)
LOCK_KEY = 7_305_241_118  # pg_advisory_xact_lock key while creating the schema
ACTIVE_STATES = ("queued", "running")
SCHEMES = ("postgresql", "postgres")

TABLE_SQL = """
CREATE SEQUENCE IF NOT EXISTS preread_jobs_version;
CREATE TABLE IF NOT EXISTS preread_jobs (
    document_id text PRIMARY KEY,
    job_id text NOT NULL,
    task_id bigint,
    spec jsonb NOT NULL,
    state text NOT NULL,
    progress jsonb,
    error text,
    cancel_requested boolean NOT NULL DEFAULT false,
    attempts integer NOT NULL DEFAULT 0,
    worker text,
    version bigint NOT NULL DEFAULT nextval('preread_jobs_version'),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS preread_jobs_by_version ON preread_jobs (version);
"""


def check_url(url: str) -> str:
    """The URL if it names a PostgreSQL database; BadSettings (without the password) if not."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        raise BadSettings("bad PREREAD_QUEUE_URL: not a URL") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise BadSettings(
            "bad PREREAD_QUEUE_URL: use postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
        )
    return url


def describe(url: str) -> str:
    """``postgresql://user@host:port/db``: the URL without its password or query."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "postgresql://?"
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{parts.hostname or ''}{port}{parts.path}"


def secrets_of(url: str) -> list[str]:
    """What must never appear in a message: the URL's password (and the whole URL)."""
    found = [url]
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        found.append(password)
    return found


def scrub(text: str, url: str) -> str:
    """``text`` with the URL's secrets replaced, on one line, at most 300 characters."""
    for secret in sorted(secrets_of(url), key=len, reverse=True):
        text = text.replace(secret, "***")
    return " ".join(text.split())[:300]


class OneLine(logging.Formatter):
    """Library log records (procrastinate's, psycopg's) as one scrubbed line each."""

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__()
        self.url = url
        self.prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            cause = exc.__cause__ or exc
            text += f" ({type(cause).__name__}: {cause})"
        return scrub(f"{self.prefix}: {record.name}: {text}", self.url)


def quiet_logs(url: str, prefix: str, level: int = logging.WARNING) -> None:
    """procrastinate's and psycopg's warnings on stderr, one line each, no password,
    no traceback (they would print one per failed reconnection otherwise)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLine(url, prefix))
    for name, at in (("procrastinate", level), ("psycopg", logging.ERROR)):
        logger = logging.getLogger(name)  # (psycopg's pool warns at every reconnection)
        logger.handlers = [handler]
        logger.propagate = False
        logger.setLevel(at)


def unavailable(url: str) -> Busy:
    """The 503 every job route answers while the database does not."""
    return Busy(
        f"the job queue (PostgreSQL at {describe(url)}) is unreachable: preprocess jobs"
        " cannot be started, watched or cancelled now; stored chunks are still served",
        retry_after=5.0,
    )


def make_app() -> Any:
    """A procrastinate ``App`` whose pool ``open_app`` opens."""
    import procrastinate

    return procrastinate.App(connector=procrastinate.PsycopgConnector())


async def open_app(
    app: Any, url: str, *, wait: bool, max_size: int = 4, timeout: float = 5.0
) -> Any:
    """Open a connection pool on ``url`` for ``app`` (returned: ``close_app`` closes it).

    ``wait=False`` returns at once (the pool connects in the background: a server
    starts and serves chunks while the database is down); a request waits
    ``timeout`` s for a connection, not 30 s."""
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(
        url,
        open=False,
        min_size=1,
        max_size=max_size,
        timeout=timeout,
        kwargs={"connect_timeout": max(1, int(timeout))},
        check=AsyncConnectionPool.check_connection,
    )
    await pool.open(wait=wait, timeout=timeout)
    await app.open_async(pool)
    return pool


async def probe(url: str, timeout: float = 5.0) -> str:
    """Why the database does not answer, in psycopg's words (scrubbed; "" if it does)."""
    import psycopg

    try:
        conn = await psycopg.AsyncConnection.connect(url, connect_timeout=max(1, int(timeout)))
    except psycopg.Error as exc:
        return scrub(str(exc).split("\n")[0], url)
    await conn.close()
    return ""


async def close_app(app: Any, pool: Any) -> None:
    await app.close_async()
    await pool.close()


async def init_schema(app: Any) -> bool:
    """Create procrastinate's schema and ``preread_jobs`` if missing; True if created now."""
    from procrastinate.schema import SchemaManager

    async with app.connector.pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        cursor = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
        row = await cursor.fetchone()
        exists = bool(row and row[0])
        if not exists:
            await conn.execute(SchemaManager.get_schema())
        await conn.execute(TABLE_SQL)
    return not exists


# -- preread_jobs rows --------------------------------------------------------------------
COLUMNS = "document_id, job_id, task_id, spec, state, progress, error, cancel_requested, \
attempts, worker, version"


def row_json(value: Any) -> Any:
    """A jsonb column as Python (psycopg decodes jsonb already; text is decoded here)."""
    if isinstance(value, str | bytes):
        return json.loads(value)
    return value


async def fetch_rows(app: Any, query: str, **params: Any) -> list[dict[str, Any]]:
    rows = await app.connector.execute_query_all_async(query, **params)
    return [dict(r) for r in rows]


async def fetch_row(app: Any, query: str, **params: Any) -> dict[str, Any] | None:
    rows = await fetch_rows(app, query, **params)
    return rows[0] if rows else None


async def init_schema_now(url: str) -> bool:
    """``preread queue init``: connect, create what is missing, disconnect; one line
    (no password) when the database does not answer."""
    import psycopg
    import psycopg_pool
    from procrastinate import exceptions as pexc

    errors = (pexc.ConnectorException, psycopg.Error, psycopg_pool.PoolTimeout, OSError)
    reason = await probe(url)
    if reason:
        raise unreachable(url, reason)
    app = make_app()
    try:
        pool = await open_app(app, url, wait=True)
    except errors as exc:
        raise unreachable(url, await probe(url) or type(exc).__name__) from None
    try:
        return await init_schema(app)
    except errors as exc:
        raise unreachable(url, scrub(str(exc.__cause__ or exc), url)) from None
    finally:
        await close_app(app, pool)


def unreachable(url: str, reason: str) -> PrereadError:
    """A command's error (exit 1) when the database does not answer."""
    return PrereadError(f"cannot reach the job queue at {describe(url)}: {reason}")
