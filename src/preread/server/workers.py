"""``preread serve --workers N``: N server processes answering on one port.

``run_workers(settings, ...)`` binds the port once and hands the socket to N worker
processes started and watched by uvicorn's supervisor (``uvicorn.supervisors.
Multiprocess``: a worker that dies is replaced; SIGTERM or SIGINT stops them all,
each finishing its requests, then the command returns). Each worker builds its own
app (``AppFactory``, pickled to it with the settings) over the same store:

- single flight across them comes from the library's file locks (``preread.flights``):
  a chunk two workers are asked for at once is synthesized by one of them;
- ``/metrics`` adds up every worker's counters: the command makes a folder for
  ``prometheus_client``'s multiprocess files (``PROMETHEUS_MULTIPROC_DIR``) before the
  workers start and removes it when they have stopped; the folder's name carries the
  command's PID, so one a killed command left behind is removed by the next command
  on the machine (``remove_stale_metrics``, called by the command: only folders whose
  PID is no process);
- what must run once per machine does: saved jobs are resumed by the worker holding
  the store's ``locks/serve-resume.lock`` (``preread.server.jobs``), cleanups take
  the store's cleanup lock (another worker's run is skipped, not repeated);
- a worker whose supervisor is gone (killed with SIGKILL) stops itself: no orphans;
- connections are spread over the workers: they share one listening socket, and
  uvloop's libuv would let the first worker to wake accept a whole burst of new
  connections (64 opened at once all landed on one worker, the other idle);
  ``UV_TCP_SINGLE_ACCEPT=1`` makes each accept yield to the other workers.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Any

from preread.errors import PrereadError
from preread.fsutil import pid_alive
from preread.server.metrics import MULTIPROC_ENV
from preread.settings import Settings

if TYPE_CHECKING:
    from starlette.applications import Starlette

METRICS_PREFIX = "preread-metrics-"
METRICS_NAME = re.compile(re.escape(METRICS_PREFIX) + r"(\d+)-")
PARENT_POLL_SECONDS = 1.0
GRACEFUL_SECONDS = 20.0  # a worker told to stop waits this long for open requests
HEALTHCHECK_SECONDS = 30.0  # a worker starting on a loaded machine is not killed as hung
SINGLE_ACCEPT_ENV = "UV_TCP_SINGLE_ACCEPT"  # libuv: one accept, then let others accept


class AppFactory:
    """Builds the app in a worker process (uvicorn calls it there: ``factory=True``)."""

    def __init__(self, settings: Settings, parent: int) -> None:
        self.settings = settings
        self.parent = parent

    def __call__(self) -> Starlette:
        from preread.server import create_app, settle

        watch_parent(self.parent)
        return settle(create_app(self.settings))


def watch_parent(parent: int) -> None:
    """SIGTERM this process (a graceful stop) once ``parent`` is no longer its parent."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="preread-parent-watch", daemon=True).start()


def remove_stale_metrics(folder: str | None = None) -> list[str]:
    """Remove the metrics folders (in ``folder``, default the temporary folder) of
    ``serve --workers`` commands that are no longer running (killed with SIGKILL: no
    cleanup ran): only this user's, only those whose PID is no process. Their names."""
    where = folder or tempfile.gettempdir()
    removed: list[str] = []
    try:
        entries = list(os.scandir(where))
    except OSError:
        return removed
    for entry in entries:
        found = METRICS_NAME.match(entry.name)
        if found is None or int(found.group(1)) == os.getpid():
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        if not pid_alive(int(found.group(1))):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.name)
    return removed


def run_workers(settings: Settings, workers: int, **options: Any) -> None:
    """Serve with ``workers`` processes until SIGTERM/SIGINT; ``options`` go to
    ``uvicorn.Config``. PrereadError when the workers could not start."""
    from uvicorn import Config
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    previous = {name: os.environ.get(name) for name in (MULTIPROC_ENV, SINGLE_ACCEPT_ENV)}
    with tempfile.TemporaryDirectory(prefix=f"{METRICS_PREFIX}{os.getpid()}-") as metrics_dir:
        os.environ[MULTIPROC_ENV] = metrics_dir  # inherited by the workers: set first
        os.environ.setdefault(SINGLE_ACCEPT_ENV, "1")
        try:
            config = Config(
                AppFactory(settings, os.getpid()),
                factory=True,
                workers=workers,
                timeout_graceful_shutdown=int(GRACEFUL_SECONDS),
                timeout_worker_healthcheck=int(HEALTHCHECK_SECONDS),
                **options,
            )
            sock = config.bind_socket()
            try:
                supervisor = Multiprocess(config, sockets=[sock])
                supervisor.run()
            finally:
                sock.close()
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
        raise PrereadError("a server process failed to start (see the lines above)")
