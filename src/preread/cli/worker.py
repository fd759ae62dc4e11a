"""``preread worker`` and ``preread queue init``: the PostgreSQL job queue's commands."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from preread.cli.common import DebugOption, HomeOption, console_err, load_settings
from preread.errors import BadSettings
from preread.settings import Settings

NO_URL = "set PREREAD_QUEUE_URL=postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE first"


def _queue_url(settings: Settings) -> str:
    from preread.queuedb import check_url

    if not settings.queue_url:
        raise BadSettings(f"no job queue: {NO_URL}")
    return check_url(settings.queue_url)


def register(app: typer.Typer) -> None:
    """Add ``worker`` and the ``queue`` group to ``app``."""

    @app.command()
    def worker(
        heartbeat: Annotated[
            float,
            typer.Option(
                "--heartbeat", min=0.1, help="Seconds between this worker's heartbeats (10)."
            ),
        ] = 10.0,
        stalled_after: Annotated[
            float,
            typer.Option(
                "--stalled-after",
                min=0.5,
                help="A worker silent this many seconds is dead: its job runs again (60).",
            ),
        ] = 60.0,
        attempts: Annotated[
            int,
            typer.Option("--attempts", min=1, help="Runs of a job before it fails for good (5)."),
        ] = 5,
        home: HomeOption = None,
        debug: DebugOption = False,
    ) -> None:
        """Run preprocess jobs from the PostgreSQL queue (PREREAD_QUEUE_URL) until stopped."""
        from preread.library import Library
        from preread.queuedb import describe
        from preread.worker import run_worker

        settings = load_settings(home, debug)
        url = _queue_url(settings)
        if stalled_after < 2 * heartbeat:
            raise BadSettings(
                f"--stalled-after {stalled_after:g} must be at least twice --heartbeat"
                f" {heartbeat:g}, or a busy worker would be taken for dead"
            )
        console_err.print(
            f"preread: worker for {settings.home}, queue {describe(url)}", soft_wrap=True
        )
        library = Library(settings)

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await run_worker(
                library,
                url,
                heartbeat=heartbeat,
                stalled_after=stalled_after,
                attempts=attempts,
                stop=stop,
            )

        try:
            asyncio.run(main())
        finally:
            library.close()

    queue = typer.Typer(
        help="The PostgreSQL job queue (PREREAD_QUEUE_URL).",
        no_args_is_help=True,
        rich_markup_mode=None,
    )

    @queue.command("init")
    def init(home: HomeOption = None, debug: DebugOption = False) -> None:
        """Create the queue's tables in PREREAD_QUEUE_URL's database (idempotent)."""
        from preread.queuedb import describe, init_schema_now

        settings = load_settings(home, debug)
        url = _queue_url(settings)
        created = asyncio.run(init_schema_now(url))
        state = "created" if created else "already there"
        typer.echo(f"preread: the job queue's tables in {describe(url)}: {state}")

    app.add_typer(queue, name="queue")
