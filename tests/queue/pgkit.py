"""A real PostgreSQL for the queue tests: Debian's server, ``initdb`` in a temporary folder.

It listens on 127.0.0.1 only (no Unix socket) on a free port, with a password
(scram-sha-256), so tests can check the password never shows. PostgreSQL refuses
to run as root: then the server runs as ``nobody``. Stopped by PID (SIGINT: fast
shutdown), the folder removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from liveserver import free_port

USER = "preread"
PASSWORD = "pw-Zq81-not-for-logs"
RUN_AS = "nobody"


def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL's bin folder, else the one ``initdb`` is in."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    if found:
        return found[-1].parent
    which = shutil.which("initdb")
    return Path(which).parent if which else None


@dataclass
class PgServer:
    bin: Path
    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "preread") -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def _run_as(self) -> dict[str, str]:
        return {"user": RUN_AS} if os.geteuid() == 0 else {}

    def start(self) -> None:
        log = open(self.folder / "postgres.log", "ab")  # noqa: SIM115 (the child writes it)
        self.process = subprocess.Popen(
            [
                str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                "-c", "fsync=off", "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off", "-c", "max_connections=200",
            ],
            stdout=log, stderr=log, start_new_session=True, **self._run_as(),  # type: ignore[arg-type]
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    tail = (self.folder / "postgres.log").read_text(errors="replace")[-2000:]
                    raise AssertionError(f"postgres did not start: {tail}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Fast shutdown by PID; the data stays (``start`` brings it back)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)


@contextlib.contextmanager
def running_postgres() -> Iterator[PgServer]:
    pgbin = postgres_bin()
    if pgbin is None:
        import pytest

        pytest.skip("PostgreSQL is not installed (tests/queue/install_postgresql.sh installs it)")
    folder = Path(tempfile.mkdtemp(prefix="preread-pg-"))
    server = PgServer(pgbin, folder, free_port())
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, RUN_AS)
        (folder / "pw").write_text(PASSWORD)
        subprocess.run(
            [
                str(pgbin / "initdb"), "-D", str(server.data), "-U", USER,
                "--pwfile", str(folder / "pw"), "--auth=scram-sha-256", "-E", "UTF8",
                "--no-sync", "--no-instructions",
            ],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            **server._run_as(),  # type: ignore[arg-type]
        )  # fmt: skip
        server.start()
        server.create_database("preread")
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
