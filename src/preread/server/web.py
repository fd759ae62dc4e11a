"""The web reader: ``/`` (library), ``/read/{documentId}`` (reader), ``/static/…``, ``/sw.js``.

Static files shipped inside the package (``preread/web``): plain HTML, CSS and ES
modules, no build step. Every answer here carries a strict content security policy
(same origin only, no inline script or style) and the usual hardening headers.
Pages and files revalidate (``no-cache`` with an ETag), so an upgrade shows at once.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from preread.ids import check_id_or_prefix

WEB_DIR = Path(str(resources.files("preread") / "web"))

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


def _secured(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    response.headers.setdefault("Cache-Control", "no-cache")
    return response


class WebFiles(StaticFiles):
    """``StaticFiles`` (ETag, 304) with the security headers on every answer."""

    def file_response(self, *args: object, **kwargs: object) -> Response:
        return _secured(super().file_response(*args, **kwargs))  # type: ignore[arg-type]

    async def get_response(self, path: str, scope: Scope) -> Response:
        return _secured(await super().get_response(path, scope))


def _page(name: str) -> Response:
    return _secured(FileResponse(WEB_DIR / name, media_type="text/html; charset=utf-8"))


async def library_page(request: Request) -> Response:
    return _page("index.html")


async def reader_page(request: Request) -> Response:
    check_id_or_prefix(str(request.path_params["document_id"]))  # 400 for anything else
    return _page("read.html")


async def service_worker(request: Request) -> Response:
    """At the root, so its scope covers the pages and the API it caches for offline use."""
    response = FileResponse(WEB_DIR / "sw.js", media_type="text/javascript; charset=utf-8")
    response.headers["Service-Worker-Allowed"] = "/"
    return _secured(response)


async def favicon(request: Request) -> Response:
    return _secured(FileResponse(WEB_DIR / "icon.svg", media_type="image/svg+xml"))


def web_routes() -> list[BaseRoute]:
    return [
        Route("/", library_page, methods=["GET", "HEAD"]),
        Route("/read/{document_id}", reader_page, methods=["GET", "HEAD"]),
        Route("/sw.js", service_worker, methods=["GET", "HEAD"]),
        Route("/favicon.ico", favicon, methods=["GET", "HEAD"]),
        Mount("/static", app=WebFiles(directory=WEB_DIR), name="static"),
    ]
