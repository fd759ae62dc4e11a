"""Folding a progress journal into its manifest, in memory flat in the book's length.

``fold`` (under the manifest lock) writes ``tts.meta.json`` with the journal's
records applied, whole or not at all, then removes the journal. A kill between the
two leaves a journal whose first line names the old manifest bytes: stale, ignored.
See ``preread.journal`` for the format.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path

from preread.fsutil import FileLock, atomic_write
from preread.journal import Record, digest, header_matches, record_fits


def fold(manifest_path: Path, journal: Path, lock: FileLock) -> int:
    """Write manifest + journal as the manifest, then drop the journal; how many applied."""
    with lock:
        try:
            with open(journal, "rb") as handle:
                mtime = os.fstat(handle.fileno()).st_mtime
                journal_raw = handle.read()
        except FileNotFoundError:
            return 0
        applied = 0
        try:
            raw = manifest_path.read_bytes()
        except FileNotFoundError:
            raw = b""
        spans = _line_spans(journal_raw, digest(raw)) if raw else {}
        if spans:
            updated = max(int(mtime), _updated_at(raw))
            folder = _Folder(raw.decode("utf-8"), journal_raw, spans, updated)
            del raw  # the text is enough
            try:
                atomic_write(manifest_path, folder.pieces())
            except IndexError:  # text ended inside the object
                raise ValueError("the manifest is not whole JSON") from None
            applied = folder.applied
        with contextlib.suppress(FileNotFoundError):
            journal.unlink()
        return applied


def _updated_at(raw: bytes) -> int:
    match = re.search(rb'"updatedAt"\s*:\s*(\d+)', raw[:4096])
    return int(match.group(1)) if match else 0


def _line_spans(raw: bytes, manifest_digest: str) -> dict[int, list[tuple[int, int]]]:
    """Where each chunk's records are in a journal's bytes (none if it is stale).

    Lines are parsed one at a time and dropped: only their offsets are kept.
    """
    spans: dict[int, list[tuple[int, int]]] = {}
    end = raw.rfind(b"\n") + 1
    start = raw.find(b"\n") + 1
    if not start or not header_matches(_object(raw[:start]), manifest_digest):
        return spans
    while start < end:
        stop = raw.index(b"\n", start) + 1
        record = _object(raw[start:stop])
        index = record.get("index") if record is not None else None
        if isinstance(index, int):
            spans.setdefault(index, []).append((start, stop))
        start = stop
    return spans


def _object(line: bytes) -> Record | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class _Folder:
    """Manifest text with journal records folded in, as pieces of bytes (``pieces()``).

    The manifest is walked member by member and chunk by chunk (``raw_decode``): only
    a chunk a record changes is parsed into objects and written again; the others are
    copied as they are, straight to the file being written. So folding a 4,000-chunk
    book holds its text and its journal's bytes, never the hundreds of thousands of
    objects its parsed form would make.
    """

    def __init__(
        self,
        text: str,
        journal_raw: bytes,
        spans: dict[int, list[tuple[int, int]]],
        updated_at: int,
    ) -> None:
        self.text = text
        self.journal_raw = journal_raw
        self.spans = spans
        self.updated_at = updated_at
        self.decoder = json.JSONDecoder()
        self.applied = 0

    def _skip(self, at: int) -> int:
        text = self.text
        while at < len(text) and text[at] in " \t\r\n":
            at += 1
        return at

    def pieces(self) -> Iterator[bytes]:
        text, decoder = self.text, self.decoder
        at = self._skip(0)
        if text[at : at + 1] != "{":
            raise ValueError("the manifest is not a JSON object")
        yield b"{"
        at = self._skip(at + 1)
        first = True
        while text[at] != "}":
            key, at = decoder.raw_decode(text, at)
            at = self._skip(self._skip(at) + 1)  # past the ':'
            yield (("" if first else ",") + json.dumps(key, ensure_ascii=False) + ":").encode()
            first = False
            if key == "chunks" and text[at] == "[":
                at = yield from self._chunks(at)
            else:
                _, end = decoder.raw_decode(text, at)
                value = str(self.updated_at) if key == "updatedAt" else text[at:end]
                yield value.encode("utf-8")
                at = end
            at = self._skip(at)
            if text[at] == ",":
                at = self._skip(at + 1)
        yield b"}"

    def _chunks(self, at: int) -> Generator[bytes, None, int]:
        """The chunks array starting at ``text[at] == '['``; returns where it ends."""
        text = self.text
        yield b"["
        at = self._skip(at + 1)
        first = True
        while text[at] != "]":
            chunk, end = self.decoder.raw_decode(text, at)
            index = chunk.get("index") if isinstance(chunk, dict) else None
            found = self.spans.get(index, []) if isinstance(index, int) else []
            records = [_object(self.journal_raw[a:b]) for a, b in found]
            fits = [r for r in records if r is not None and record_fits(chunk, r)]
            piece = "" if first else ","
            first = False
            if fits:
                for record in fits:
                    merged = {**chunk, **record}
                    for stale in ("error", "spokenBy"):  # see journal.apply_records
                        if stale not in record:
                            merged.pop(stale, None)
                    chunk = merged
                self.applied += len(fits)
                piece += json.dumps(chunk, ensure_ascii=False, separators=(",", ":"))
            else:
                piece += text[at:end]
            yield piece.encode("utf-8")
            at = self._skip(end)
            if text[at] == ",":
                at = self._skip(at + 1)
        yield b"]"
        return at + 1
