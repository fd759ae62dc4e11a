"""Document ids: the lowercase hex SHA-256 of the source file's bytes.

Ids (and prefixes of ≥ 8 hex characters) are validated here, before any path is built.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from preread.errors import BadInput, NotFound
from preread.fsutil import sha256_file

ID_LENGTH = 64
MIN_PREFIX = 8
_ID_RE = re.compile(r"^[0-9a-f]{8,64}$")


def document_id_of_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def document_id_of_file(path: Path) -> str:
    return sha256_file(path)


def check_id_or_prefix(text: str) -> str:
    """Return ``text`` lowercased if it is 8–64 hex characters; else BadInput."""
    value = text.strip().lower()
    if not _ID_RE.match(value):
        raise BadInput(
            f"bad documentId {text[:80]!r}: expected 64 hex characters or a prefix of at least 8"
        )
    return value


def is_full_id(text: str) -> bool:
    return len(text) == ID_LENGTH and _ID_RE.match(text) is not None


def resolve_prefix(prefix: str, known: Iterable[str]) -> str:
    """The one known id starting with ``prefix``; NotFound or BadInput (ambiguous) otherwise."""
    value = check_id_or_prefix(prefix)
    matches = sorted({k for k in known if k.startswith(value)})
    if not matches:
        raise NotFound(f"no document with id {value}")
    if len(matches) > 1:
        raise BadInput(f"documentId prefix {value} is ambiguous ({len(matches)} documents)")
    return matches[0]
