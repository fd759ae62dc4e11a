"""The web reader's pages and the routes it adds: security headers, static files,
the pre-generation estimate, cancelling a job while keeping its audio."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from dataclasses import replace

import pytest
from serverkit import TEXTS, register_document, write_synthetic
from starlette.testclient import TestClient

from preread.server.web import INLINE_MAX, WEB_DIR
from preread.store import Store

DOC = "ab" * 32


def _secured(headers: object) -> None:
    csp = headers["content-security-policy"]  # type: ignore[index]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
    assert headers["x-content-type-options"] == "nosniff"  # type: ignore[index]
    assert headers["x-frame-options"] == "DENY"  # type: ignore[index]
    assert headers["referrer-policy"] == "no-referrer"  # type: ignore[index]


def test_library_and_reader_pages_are_html_with_a_strict_policy(client: TestClient) -> None:
    for url in ("/", f"/read/{DOC}", f"/read/{DOC[:8]}"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith("text/html")
        _secured(response.headers)
        html = response.text
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert scripts and all('src="/static/' in s for s in scripts)  # no inline script
        # inline style: only the reader's stylesheet, allowed by the policy by its hash
        styles = re.findall(r"<style>(.*?)</style>", html, re.S)
        assert html.count("<style") == len(styles) == (0 if url == "/" else 1), url
        for style in styles:
            assert style == (WEB_DIR / "app.css").read_text()
            digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
            policy = response.headers["content-security-policy"]
            assert f"style-src 'self' 'sha256-{digest}';" in policy
        assert not re.search(r"<[^>]*\s(on[a-z]+|style)=", html)  # no inline handler or style
        assert "http://" not in html and "https://" not in html  # no third-party origin


def test_reader_page_refuses_a_bad_id(client: TestClient) -> None:
    response = client.get("/read/not-an-id")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


def test_static_files_revalidate_and_stay_inside_the_package(client: TestClient) -> None:
    css = client.get("/static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    _secured(css.headers)
    assert css.headers["cache-control"] == "no-cache"
    again = client.get("/static/app.css", headers={"If-None-Match": css.headers["etag"]})
    assert again.status_code == 304
    script = client.get("/static/js/reader.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/../server/web.py").status_code == 404
    assert client.get("/static/%2e%2e/__init__.py").status_code == 404
    worker = client.get("/sw.js")
    assert worker.status_code == 200 and worker.headers["service-worker-allowed"] == "/"
    assert client.get("/favicon.ico").headers["content-type"] == "image/svg+xml"


def test_every_module_the_pages_load_is_shipped(client: TestClient) -> None:
    imported = set()
    for path in (WEB_DIR / "js").glob("*.js"):
        imported |= set(re.findall(r'from "\./([a-z]+\.js)"', path.read_text()))
    assert imported
    for name in imported:
        assert client.get(f"/static/js/{name}").status_code == 200, name


def test_estimate_counts_the_selected_blocks_and_measures_the_voice(
    client: TestClient, store: Store
) -> None:
    doc = register_document(store)
    whole = client.get(f"/api/documents/{doc}/estimate").json()
    assert whole["characters"] == sum(len(t) for t in TEXTS)
    assert whole["charactersToGenerate"] == whole["characters"]
    assert whole["blocks"] == 3 and whole["pages"] == [1, 2]
    assert whole["audioSeconds"] > 0 and whole["bytes"] > 0
    measured = whole["measured"]
    assert measured["charsPerSecond"] > 0  # the fake voice is timed too: fast, never free
    expected = whole["characters"] / measured["charsPerSecond"]
    assert whole["seconds"] == pytest.approx(expected, abs=0.01)
    page_two = client.get(f"/api/documents/{doc}/estimate?pages=2").json()
    assert page_two["characters"] == len(TEXTS[2]) and page_two["pages"] == [2]
    slower = client.get(f"/api/documents/{doc}/estimate?pages=2&speed=0.5").json()
    assert slower["audioSeconds"] > page_two["audioSeconds"]
    assert client.get(f"/api/documents/{doc}/estimate?pages=9").status_code == 400
    assert client.get(f"/api/documents/{'cd' * 32}/estimate").status_code == 404


def test_estimate_counts_stored_chunks_as_done(client: TestClient, store: Store) -> None:
    synthetic = write_synthetic(store, [6000, 6000], register=True)
    body = client.get(f"/api/documents/{synthetic.document_id}/estimate").json()
    assert body["charactersToGenerate"] == 0 and body["seconds"] == 0
    assert body["measured"]["bytesPerAudioSecond"] == 6000  # read from the stored chunks


def test_listing_says_size_last_use_and_job(client: TestClient, store: Store) -> None:
    synthetic = write_synthetic(store, [100, 300], register=True)
    (item,) = client.get("/api/documents").json()["documents"]
    assert item["documentId"] == synthetic.document_id
    assert item["audio"]["bytes"] == 400 and item["audio"]["pagesDone"] == 1
    assert item["lastUsed"] > 0 and item["job"] is None


def test_cancel_without_a_job_is_404_and_keeps_audio(client: TestClient, store: Store) -> None:
    synthetic = write_synthetic(store, [100], register=True)
    response = client.post(f"/api/tts/preprocess/cancel?documentId={synthetic.document_id}")
    assert response.status_code == 404
    assert store.manifest_path(synthetic.document_id).exists()


def test_reader_page_carries_the_document_and_its_stored_first_chunk(
    client: TestClient, store: Store
) -> None:
    def opened(
        doc: str, at: str | None = None
    ) -> tuple[str | None, tuple[str, float] | None, object]:
        """(the Link header's one preload, the URL and time of the chunk the page names
        for js/boot.js, the document's JSON from its data block), None for what the page
        has not; ``at``: the position cookie js/reader.js sets."""
        client.cookies.clear()
        if at is not None:
            client.cookies.set("preread-at", at)
        response = client.get(f"/read/{doc}")
        client.cookies.clear()
        link = response.headers.get("link")
        if link is not None:
            assert link.endswith(">; rel=preload; as=fetch; crossorigin=anonymous"), link
            link = link.split(">")[0].lstrip("<")
        assert "<audio" not in response.text  # (boot.js makes the one it plays)
        metas = re.findall(r'<meta name="preread-start"[^>]*>', response.text)
        assert len(metas) <= 1, metas
        start = r'<meta name="preread-start" content="([^"]+)" data-time="([0-9.]+)">'
        found = re.fullmatch(start, metas[0]) if metas else None
        # before boot.js, the page's first script, in the head
        head = response.text.split("</head>")[0]
        boot = head.index('<script src="/static/js/boot.js" async></script>')
        assert head.index("<script") == boot and head.index("<style>") > boot
        assert "modulepreload" not in head and 'rel="stylesheet"' not in head
        assert found is None or response.text.index(found[0]) < boot
        data = re.findall(r'<script type="application/json" id="doc-data">(.*?)</script>',
                          response.text, re.S)  # fmt: skip
        assert len(data) <= 1 and (link is None) == bool(data)  # the one or the other
        src = (html.unescape(found[1]), float(found[2])) if found else None
        return link, src, json.loads(data[0]) if data else None

    synthetic = write_synthetic(store, [100, 300], register=True)
    doc = synthetic.document_id
    manifest = store.read_manifest(doc)
    assert manifest is not None
    first = manifest.chunks[0]
    assert first.status == "done" and first.sha256
    chunk = (
        f"/api/tts/chunk?documentId={doc}&page={first.page}&blockIndex={first.block_index}"
        f"&v={first.sha256[:16]}"  # the URL js/api.js's chunkUrl builds: the player adopts it
    )
    shown = client.get(f"/api/documents/{doc}").json()  # what the page carries
    assert opened(doc) == (None, (chunk, 0.0), shown)
    assert client.get(chunk).status_code == 200
    # the remembered position (the cookie): its chunk, and the time into it
    second = manifest.chunks[1]
    assert second.status == "done" and second.sha256
    there = f"page={second.page}&blockIndex={second.block_index}&v={second.sha256[:16]}"
    at = f"{second.page}.{second.block_index}"
    assert opened(doc, f"{at}.12.5") == (
        None,
        (f"/api/tts/chunk?documentId={doc}&{there}", 12.5),
        shown,
    )
    # a position no chunk has, or anything else: the first chunk, from its start
    for cookie in ("99.99.3.0", f"{at}", f"{at}.1e9", '1.0.0"><script>x()</script>', ""):
        assert opened(doc, cookie) == (None, (chunk, 0.0), shown), cookie
    # a registered document with no audio: its blocks, no first chunk
    registered = register_document(store)
    assert opened(registered) == (None, None, client.get(f"/api/documents/{registered}").json())
    # a prefix (resolved by the API), an unknown document: the preload, no first chunk
    assert opened(doc[:8]) == (f"/api/documents/{doc[:8]}", None, None)
    unknown = "cd" * 32
    assert opened(unknown) == (f"/api/documents/{unknown}", None, None)
    # each page has its own ETag; HEAD says the length GET sends; a revalidation is a 304
    page = client.get(f"/read/{doc}")
    plain = client.get(f"/read/{registered}")
    assert page.headers["etag"] != plain.headers["etag"]
    assert client.head(f"/read/{doc}").headers["content-length"] == str(len(page.content))
    again = client.get(f"/read/{doc}", headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304
    stale = client.get(f"/read/{registered}", headers={"If-None-Match": page.headers["etag"]})
    assert stale.status_code == 200


def test_pages_carry_the_chosen_theme_and_rate(client: TestClient, store: Store) -> None:
    """The theme cookie (js/api.js) is in both pages' <html> and the rate cookie
    (js/reader.js) on the reader's first chunk, for js/boot.js; anything else is ignored,
    and each variant has its own ETag."""
    doc = write_synthetic(store, [100, 300], register=True).document_id

    def opened(path: str, **cookies: str) -> tuple[str, str]:
        client.cookies.clear()
        for name, value in cookies.items():
            client.cookies.set(name, value)
        response = client.get(path)
        client.cookies.clear()
        assert response.status_code == 200
        (tag,) = re.findall(r"<html[^>]*>", response.text)
        metas = re.findall(r'<meta name="preread-start"[^>]*>', response.text)
        return tag + "".join(re.findall(r' data-rate="[^"]*"', "".join(metas))), response.headers[
            "etag"
        ]

    for path in ("/", f"/read/{doc}", f"/read/{doc[:8]}"):
        plain, plain_etag = opened(path)
        assert plain == '<html lang="en">'
        dark, dark_etag = opened(path, **{"preread-theme": "dark"})
        assert dark == '<html lang="en" data-theme="dark">' and dark_etag != plain_etag
        assert (
            opened(path, **{"preread-theme": "light"})[0] == '<html lang="en" data-theme="light">'
        )
        for bad in ("blue", 'dark"><script>x()</script>', ""):
            assert opened(path, **{"preread-theme": bad}) == (plain, plain_etag), bad
    both = opened(f"/read/{doc}", **{"preread-theme": "dark", "preread-rate": "1.5"})[0]
    assert both == '<html lang="en" data-theme="dark"> data-rate="1.5"'
    assert opened(f"/read/{doc}", **{"preread-rate": "0.75"})[0].endswith(' data-rate="0.75"')
    for bad in ("9", "0.1", "1e3", "-1", "1.5x", '1"><script>'):
        assert opened(f"/read/{doc}", **{"preread-rate": bad})[0] == '<html lang="en">', bad


def test_the_documents_json_in_the_page_cannot_end_its_data_block(
    client: TestClient, store: Store
) -> None:
    """Text such as ``</script><script>`` stays data (every ``<`` written ``\\u003c``); a
    document above INLINE_MAX is fetched (the Link preload), not carried."""
    hostile = "Before </script><script src=/x.js></script> and <!-- after"
    doc = register_document(store, seed=8, texts=[hostile])
    page = client.get(f"/read/{doc}").text
    (data,) = re.findall(r'<script type="application/json" id="doc-data">(.*?)</script>',
                         page, re.S)  # fmt: skip
    assert "<" not in data and "\\u003c/script>" in data
    assert json.loads(data)["blocks"][0]["text"] == hostile
    big = register_document(store, seed=9, texts=["word " * (INLINE_MAX // 5)])
    response = client.get(f"/read/{big}")
    assert "doc-data" not in response.text and response.headers["link"]


def test_the_readers_silence_is_a_20_ms_silent_wav(client: TestClient) -> None:
    """js/boot.js's early <audio> when it does not load the first chunk (built by the
    server, not a file in the repository)."""
    import io
    import wave

    response = client.get("/static/silence.wav")
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as wav:
        frames = wav.readframes(wav.getnframes())
        assert wav.getnframes() / wav.getframerate() == 0.02
    assert frames and not any(frames)


def test_a_reader_page_is_kept_per_manifest_state_and_start(
    client: TestClient, store: Store
) -> None:
    """Asked again, a reader page is the very answer it was (bytes and headers; the same
    when rendered anew), from memory; the manifest rewritten, a result in its journal,
    or another position in the cookie is another page; PAGES_KEPT pages at most."""
    from preread.server import web

    doc = write_synthetic(store, [100, 300, 200], seed=21, register=True).document_id

    def page(at: str | None = None) -> tuple[bytes, dict[str, str]]:
        client.cookies.clear()
        if at is not None:
            client.cookies.set("preread-at", at)
        response = client.get(f"/read/{doc}")
        client.cookies.clear()
        assert response.status_code == 200
        headers = dict(response.headers)
        del headers["x-request-id"]  # (each request's own)
        return response.content, headers

    def carried(answer: tuple[bytes, dict[str, str]]) -> list[str]:
        (data,) = re.findall(rb'<script type="application/json" id="doc-data">(.*?)</script>',
                             answer[0], re.S)  # fmt: skip
        return [c["status"] for c in json.loads(data)["chunks"]]

    kept = len(web._pages)
    first = page()
    assert len(web._pages) == kept + 1 and carried(first) == ["done"] * 3
    assert page() == first and len(web._pages) == kept + 1  # from memory
    web._pages.clear()
    assert page() == first  # rendered anew: the same answer
    manifest = store.read_manifest(doc)
    assert manifest is not None
    done = replace(manifest.chunks[2])
    manifest.chunks[2].reset()
    store.write_manifest(manifest)
    rewritten = page()
    assert carried(rewritten) == ["done", "done", "pending"]
    assert rewritten[1]["etag"] != first[1]["etag"]
    store.progress_journal(doc, lambda _: True).append([done])  # as a running job records
    journaled = page()
    assert carried(journaled) == ["done"] * 3 and journaled != rewritten
    there = page("1.1.2.5")  # the second block's chunk, 2.5 s into it
    assert there != journaled and b'data-time="2.5"' in there[0]
    assert page("1.1.2.5") == there and page() == journaled
    for seconds in range(web.PAGES_KEPT + 3):
        page(f"1.1.{seconds}")
    assert len(web._pages) == web.PAGES_KEPT
