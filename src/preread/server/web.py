"""The web reader: ``/`` (library), ``/read/{documentId}`` (reader), ``/static/…``, ``/sw.js``.

Static files shipped inside the package (``preread/web``): plain HTML, CSS and ES
modules, no build step. Every answer here carries a strict content security policy
(same origin only, no inline script; inline style only the reader page's stylesheet,
named by its hash) and the usual hardening headers.
Pages and files revalidate (``no-cache`` with an ETag), so an upgrade shows at once;
they are read once and served from memory.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import io
import re
import wave
from collections import OrderedDict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from preread.errors import NotFound, PrereadError
from preread.ids import check_id_or_prefix
from preread.server.documents import document_json
from preread.server.manifests import CachedManifest
from preread.server.ranges import etag_matches
from preread.server.state import state_of

WEB_DIR = Path(str(resources.files("preread") / "web"))

# The reader page carries the stylesheet in a <style> (its one request before the first
# paint is js/boot.js): the policy allows that one block by its hash, nothing else inline.
STYLESHEET = "app.css"
STYLESHEET_LINK = b'<link rel="stylesheet" href="/static/app.css">'
INLINE_STYLE_HASH = base64.b64encode(hashlib.sha256((WEB_DIR / STYLESHEET).read_bytes()).digest())

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        f"style-src 'self' 'sha256-{INLINE_STYLE_HASH.decode()}'",
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


TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
SILENCE = "silence.wav"  # js/boot.js's 20 ms <audio>: sets the audio output up early


def silence_wav(milliseconds: int = 20, rate: int = 8000) -> bytes:
    """A silent 16-bit mono WAV, built here rather than shipped as a file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(bytes(2 * rate * milliseconds // 1000))
    return out.getvalue()


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str

    @classmethod
    def of(cls, body: bytes, media_type: str) -> Asset:
        """``body`` with its ETag: a digest of the bytes (a page rendered per request
        gets its own)."""
        return cls(body, media_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


@functools.cache
def assets() -> dict[str, Asset]:
    """Every file of the web reader, read once (≈ 75 KB): served from memory, no thread
    hop or disk read per request. Keyed by the path under ``preread/web``."""
    files = {
        path.relative_to(WEB_DIR).as_posix(): (path.read_bytes(), TYPES[path.suffix])
        for path in sorted(WEB_DIR.rglob("*"))
        if path.suffix in TYPES and path.is_file()
    }
    files[SILENCE] = (silence_wav(), "audio/wav")
    page, media = files["read.html"]
    css = files[STYLESHEET][0]
    if base64.b64encode(hashlib.sha256(css).digest()) == INLINE_STYLE_HASH:
        files["read.html"] = (page.replace(STYLESHEET_LINK, b"<style>%s</style>" % css, 1), media)
    return {name: Asset.of(body, media) for name, (body, media) in files.items()}


def _serve(request: Request, name: str, **headers: str) -> Response:
    asset = assets().get(name)
    if asset is None:
        raise NotFound(f"no file {name[:100]!r} in the web reader")
    return _answer(request, asset, headers)


def _answer(request: Request, asset: Asset, headers: dict[str, str]) -> Response:
    head = {"ETag": asset.etag, **headers}
    if etag_matches(request.headers.get("if-none-match"), asset.etag):
        return _secured(Response(status_code=304, headers=head))
    body = b"" if request.method == "HEAD" else asset.body
    response = Response(body, media_type=asset.media_type, headers=head)
    if request.method == "HEAD":
        response.headers["Content-Length"] = str(len(asset.body))
    return _secured(response)


class StaticAssets:
    """Mounted at ``/static``: the files under ``preread/web``, from memory."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method not in ("GET", "HEAD"):
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})
        response = _serve(request, str(scope["path"]).removeprefix("/static/"))
        await response(scope, receive, send)


# A person's choices the server puts in its pages, so that they hold from the first paint
# (before any script could read localStorage): the theme (js/api.js sets this cookie,
# path "/") and the playback rate (js/reader.js), which js/boot.js gives the first chunk's
# <audio> so Play pressed before the modules run plays at that rate.
THEME_COOKIE = "preread-theme"
RATE_COOKIE = "preread-rate"
_THEMES = ("light", "dark")
_RATE = re.compile(r"[0-4](?:\.\d{1,2})?")
HTML_TAG = b'<html lang="en">'


def _theme(request: Request) -> str | None:
    theme = request.cookies.get(THEME_COOKIE)
    return theme if theme in _THEMES else None


def _rate(request: Request) -> float | None:
    found = _RATE.fullmatch(request.cookies.get(RATE_COOKIE, ""))
    rate = float(found[0]) if found else None
    return rate if rate is not None and 0.25 <= rate <= 4 else None


def _themed(body: bytes, theme: str | None) -> bytes:
    if theme is None:
        return body
    return body.replace(HTML_TAG, b'<html lang="en" data-theme="%s">' % theme.encode(), 1)


@functools.cache
def _page(name: str, theme: str | None) -> Asset:
    """A page of the web reader as shipped, in the chosen theme when there is one."""
    page = assets()[name]
    return page if theme is None else Asset.of(_themed(page.body, theme), page.media_type)


async def library_page(request: Request) -> Response:
    return _answer(request, _page("index.html", _theme(request)), {})


def _preload(url: str) -> str:
    return f"<{url}>; rel=preload; as=fetch; crossorigin=anonymous"


# A reader page names, in its head, the stored chunk its first audio plays (the first, or
# the one at the remembered position), where js/boot.js (the page's first script) finds
# it and starts loading it at once; with the time into it to start at.
BOOT_TAG = b'<script src="/static/js/boot.js" async></script>'
START = '<meta name="preread-start" content="{url}" data-time="{time}"{rate}>\n'
# The remembered position, for the server: js/reader.js keeps it in localStorage, which a
# script reads only at a cost (a synchronous load of the origin's storage, tens of ms on a
# busy machine, before the chunk could be asked for), and in this cookie, scoped to the
# document's page: "PAGE.BLOCKINDEX.SECONDS".
POSITION_COOKIE = "preread-at"
_POSITION = re.compile(r"(\d{1,7})\.(\d{1,7})\.(\d{1,6}(?:\.\d{1,3})?)")
# The document's JSON, carried by the page when it is at most INLINE_MAX bytes: a data
# block (type application/json), which the browser never runs as a script.
DOC_DATA = b'<script type="application/json" id="doc-data">%s</script>\n</body>'
INLINE_MAX = 64 * 1024


# Rendered reader pages, the last PAGES_KEPT (each at most read.html + INLINE_MAX bytes),
# keyed by what makes one: the document's manifest as read (its chunk folder, the file's
# stamp, the journal read so far), the chunk and time it starts at (from the cookie), and
# the theme and rate the person chose (their cookies).
PAGES_KEPT = 32
PageKey = tuple[
    str, tuple[int, int, int], int | None, int, tuple[str, float] | None, str | None, float | None
]
_pages: OrderedDict[PageKey, tuple[Asset, dict[str, str]]] = OrderedDict()


async def reader_page(request: Request) -> Response:
    """The reader, ready for its first audio without a request from its scripts: the
    page carries the document's JSON (what ``GET /api/documents/{doc}`` answers) when it
    is small, else its ``Link`` header has the browser fetch it while the scripts load;
    and when the chunk at the remembered position (POSITION_COOKIE; else the first) is
    stored, its URL (the one ``chunkUrl`` in js/api.js builds) in a ``<meta
    name="preread-start">`` before the page's one script, js/boot.js, which loads it
    into an ``<audio>``: the player plays that element. The chosen theme and rate (their
    cookies) are in the page too.

    A document with a manifest has its page rendered once per manifest state, start and
    choices (``_pages``): asked again, it is answered from memory, its manifest not read."""
    doc = str(request.path_params["document_id"])
    check_id_or_prefix(doc)  # 400 for anything else: only hex digits reach the header
    link = {"Link": _preload(f"/api/documents/{doc}")}
    theme = _theme(request)
    if len(doc) != 64:  # a prefix: the script's fetch resolves it
        return _answer(request, _page("read.html", theme), link)
    state = state_of(request)
    rate = _rate(request)
    cached = await _manifest(request, doc)
    first = key = None
    if cached is not None:
        first = _start_chunk(request, doc, cached)
        key = (
            cached.chunks_dir,
            cached.stamp,
            cached.journal_inode,
            cached.journal_offset,
            first,
            theme,
            rate,
        )
        kept = _pages.get(key)
        if kept is not None:
            _pages.move_to_end(key)
            return _answer(request, *kept)
    # (read after the manifest's state was: never older than the key it is kept under)
    data = await run_in_threadpool(document_json, state.library, doc)
    if cached is None and data is not None:  # adopted from a shared tier just now
        cached = await _manifest(request, doc)
        first = None if cached is None else _start_chunk(request, doc, cached)
    if data is not None and len(data) <= INLINE_MAX:
        link = {}
    else:
        data = None
    if first is not None or data is not None:
        page = _reader_html(first, data, theme, rate)
    else:
        page = _page("read.html", theme)
    if key is not None:
        _pages[key] = (page, link)
        while len(_pages) > PAGES_KEPT:
            _pages.popitem(last=False)
    return _answer(request, page, link)


def _reader_html(
    first: tuple[str, float] | None, data: bytes | None, theme: str | None, rate: float | None
) -> Asset:
    """read.html with the starting chunk's URL and time (and the remembered rate), the
    document's JSON and the chosen theme, when given (its own ETag: the page differs by
    document, position and choices)."""
    page = _page("read.html", theme)
    body = page.body
    if first is not None:
        url, time = first
        at_rate = f' data-rate="{rate:g}"' if rate is not None else ""
        meta = START.format(url=html.escape(url), time=f"{time:g}", rate=at_rate).encode()
        body = body.replace(BOOT_TAG, meta + BOOT_TAG, 1)
    if data is not None:  # "<" escaped: nothing in it can end the data block
        body = body.replace(b"</body>", DOC_DATA % data.replace(b"<", b"\\u003c"), 1)
    return Asset.of(body, page.media_type)


async def _manifest(request: Request, doc: str) -> CachedManifest | None:
    """The document's manifest as the chunk GETs see it (None: none, or unreadable)."""
    state = state_of(request)
    cached = state.manifests.fresh(doc)  # two stats: on the loop
    if cached is None:
        try:  # reading it warms the cache the chunk's request then finds
            cached = await run_in_threadpool(state.manifests.get, doc)
        except PrereadError:
            return None
    return cached


def _start_chunk(request: Request, doc: str, cached: CachedManifest) -> tuple[str, float] | None:
    """(URL, seconds into it) of the chunk the document's first audio plays, when it is
    stored: the one at the remembered position (the cookie), else the first; None
    otherwise (the reader then fetches what it plays)."""
    if not cached.manifest.chunks:
        return None
    chunk, time = cached.manifest.chunks[0], 0.0
    found = _POSITION.fullmatch(request.cookies.get(POSITION_COOKIE, ""))
    if found is not None:  # (a position no chunk has: the first)
        entry = cached.by_position.get((int(found[1]), int(found[2])))
        if entry is not None:
            chunk, time = entry, float(found[3])
    if chunk.status != "done" or not chunk.sha256:
        return None
    query = f"documentId={doc}&page={chunk.page}&blockIndex={chunk.block_index}"
    return f"/api/tts/chunk?{query}&v={chunk.sha256[:16]}", time


async def service_worker(request: Request) -> Response:
    """At the root, so its scope covers the pages and the API it caches for offline use."""
    return _serve(request, "sw.js", **{"Service-Worker-Allowed": "/"})


async def favicon(request: Request) -> Response:
    return _serve(request, "icon.svg")


def web_routes() -> list[BaseRoute]:
    return [
        Route("/", library_page, methods=["GET", "HEAD"]),
        Route("/read/{document_id}", reader_page, methods=["GET", "HEAD"]),
        Route("/sw.js", service_worker, methods=["GET", "HEAD"]),
        Route("/favicon.ico", favicon, methods=["GET", "HEAD"]),
        Mount("/static", app=StaticAssets(), name="static"),
    ]
