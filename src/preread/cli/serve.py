"""``preread serve``: the HTTP chunk server (Starlette under uvicorn)."""

from __future__ import annotations

import socket
from typing import Annotated, Any

import typer

from preread.cli.common import DebugOption, HomeOption, console_err, load_settings
from preread.errors import BadInput, PrereadError
from preread.settings import MAX_SERVE_WORKERS


def check_can_listen(host: str, port: int) -> None:
    """Fail with one clear line (not uvicorn's log and exit 3) when ``host:port`` is unusable.

    Binds and closes a probe socket the way uvicorn will bind its own
    (``SO_REUSEADDR``): a port another process listens on, a name that does not
    resolve, an address this machine does not have or a port needing privileges.
    """
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn picks it
        infos = socket.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise BadInput(f"cannot listen on {host!r}: {getattr(exc, 'strerror', exc)}") from None
    _, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise PrereadError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def chunk_protocol() -> Any:
    """uvicorn's ``http`` option: ``ChunkProtocol`` (``preread.server.chunk_protocol``),
    or uvicorn's own choice where httptools cannot be imported."""
    try:
        from preread.server.chunk_protocol import ChunkProtocol
    except ImportError:
        return "auto"
    return ChunkProtocol


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""

    @app.command()
    def serve(
        host: Annotated[
            str | None, typer.Option("--host", help="Address to listen on (127.0.0.1).")
        ] = None,
        port: Annotated[
            int | None, typer.Option("--port", min=1, max=65535, help="Port (8000).")
        ] = None,
        workers: Annotated[
            int | None,
            typer.Option(
                "--workers",
                min=1,
                max=MAX_SERVE_WORKERS,
                help="Server processes on the port (PREREAD_SERVE_WORKERS; 1).",
            ),
        ] = None,
        home: HomeOption = None,
        debug: DebugOption = False,
    ) -> None:
        """Serve pre-generated chunks over HTTP, generating missing ones live."""
        import uvicorn

        settings = load_settings(home, debug, host=host, port=port, serve_workers=workers)
        n = settings.serve_workers
        if n > 1:  # what a supervisor killed with SIGKILL left in the temporary folder
            from preread.server.workers import remove_stale_metrics

            remove_stale_metrics()
        check_can_listen(settings.host, settings.port)
        options: dict[str, Any] = {
            "host": settings.host,
            "port": settings.port,
            "log_level": "debug" if settings.debug else "warning",
            "access_log": False,  # preread logs one JSON line per request itself
            "server_header": False,
            # Behind a reverse proxy (Fly's, nginx), the client is the proxy unless it is
            # trusted to say who the client is: rate limits and logs need the real one.
            "proxy_headers": bool(settings.trusted_proxies),
            "forwarded_allow_ips": settings.trusted_proxies or None,
            # the hot chunk GET is answered in the HTTP protocol, below ASGI
            "http": chunk_protocol(),
        }
        console_err.print(
            f"preread: serving {settings.home} on http://{settings.host}:{settings.port}"
            + (f" with {n} processes" if n > 1 else "")
            + (" (API token required for POST/DELETE)" if settings.api_token else ""),
            soft_wrap=True,  # one line, however narrow the terminal or log
        )
        if n > 1:
            from preread.server.workers import run_workers

            run_workers(settings, n, **options)
            return
        from preread.server import create_app, settle

        uvicorn.run(settle(create_app(settings)), **options)
