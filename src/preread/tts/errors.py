"""A provider's error, told safely: what reaches manifests, logs and HTTP bodies.

A speech server's error body is not ours: it may echo the request's credentials
(``Authorization: Bearer sk-…``, a key in a URL), or dump a stack trace with paths
and internals. Chunk errors are written to ``tts.meta.json`` (served to any reader)
and returned in 502 bodies of unauthenticated GETs, so ``status_reason`` keeps the
HTTP status and the error's type/code (when they are plain identifiers), plus the
message only after ``safe_text``: on one line, at most ``MAX_MESSAGE`` characters,
with anything key-like, any bearer or basic token, any URL's credentials and every
known secret replaced by ``***``, and no message at all when it looks like a stack
trace.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

MAX_MESSAGE = 120
REDACTED = "***"

_IDENTIFIER = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")
_TRACE = re.compile(
    r"Traceback \(most recent call last\)|\bFile \"[^\"]*\", line \d+|\bat [\w$.]+\(\w+\.\w+:\d+\)"
    r"|\bException in thread\b|^\s*File \"",
    re.MULTILINE,
)
_PATTERNS = [
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=\-]{6,}"), r"\1 " + REDACTED),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"), "sk-" + REDACTED),
    (re.compile(r"(?i)\b(api[_-]?key|access[_-]?token|secret|password|passwd|authorization)"
                r"(\s*[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]+"), r"\1\2" + REDACTED),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s:@]*:[^/\s@]*@"), r"\1" + REDACTED + "@"),
    (re.compile(r"[?&](?:key|api_key|token|sig|signature)=[^\s&]+", re.I), "?" + REDACTED),
    (re.compile(r"\b[A-Za-z0-9+/_\-]{32,}={0,2}"), REDACTED),  # long key-like runs
]  # fmt: skip


def safe_text(text: str, *, secrets: Iterable[str] = ()) -> str:
    """``text`` on one line, short, with secrets and key-like strings redacted;
    empty when it looks like a stack trace."""
    if _TRACE.search(text):
        return ""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 1].rstrip() + "…"
    return text


def status_reason(exc: Any, clean: Callable[[str], str] = safe_text) -> str:
    """``HTTP 503 server_error: message`` from an ``openai.APIStatusError``."""
    parts = [f"HTTP {exc.status_code}"]
    kind = next((str(v) for v in (getattr(exc, "type", None), getattr(exc, "code", None)) if v), "")
    if _IDENTIFIER.match(kind):
        parts.append(kind)
    body = getattr(exc, "body", None)
    raw = body.get("message") if isinstance(body, dict) else None
    if not isinstance(raw, str):
        raw = str(getattr(exc, "message", "") or "")
    message = clean(raw)
    reason = " ".join(parts)
    return f"{reason}: {message}" if message else reason
