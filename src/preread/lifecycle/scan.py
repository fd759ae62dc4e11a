"""A fast scan of the audio store: real disk usage, per document and per blob.

Sizes are what the files really take on disk (``st_blocks * 512``, what ``du`` counts),
and each inode is counted once however many names it has: a chunk file is a hard link to
a content-addressed blob, so a blob shared by ten documents counts once. The audio store
is ``tts_cache_v1/`` (manifests, chunks) and ``blobs/`` (audio + sidecars); registered
documents (``documents/``: blocks and uploaded source files) count against the same
limit (``preread.lifecycle.registrations``); locks and access marks are not counted.

Inodes are keyed by one int, ``st_dev << 64 | st_ino``, to keep the maps small.
"""

from __future__ import annotations

import gc
import os
import stat as statmod
import time
from dataclasses import dataclass, field

from preread.fsutil import is_temp_name
from preread.ids import is_full_id
from preread.lifecycle.registrations import RegistrationScan, scan_registrations
from preread.store import MANIFEST_NAME, Store

SIDECAR_EXT = "json"


def inode_key(st: os.stat_result) -> int:
    return (st.st_dev << 64) | st.st_ino


def disk_bytes(st: os.stat_result) -> int:
    """What the file really takes on disk (falls back to its length where unknown)."""
    blocks = getattr(st, "st_blocks", None)
    return st.st_size if blocks is None else blocks * 512


@dataclass
class DocumentScan:
    document_id: str
    has_manifest: bool
    last_used: float  # max(access mark, manifest mtime); dir mtime without either
    modified: float  # newest sign of writing: dir mtimes, temp files
    inodes: list[int] = field(default_factory=list)  # one entry per file name
    bytes: int = 0  # its files, each inode once (shared blobs included)
    chunk_files: int = 0


@dataclass
class BlobGroup:
    """One key in ``blobs/``: its audio file(s) and its sidecar."""

    key: str
    audio: list[tuple[str, int]] = field(default_factory=list)  # (path, inode)
    others: list[tuple[str, int]] = field(default_factory=list)  # sidecar (path, inode)
    mtime: float = 0.0

    @property
    def inodes(self) -> list[int]:
        return [i for _, i in self.audio] + [i for _, i in self.others]


@dataclass
class StrayFile:
    """A temp file in ``blobs/`` (left by a killed writer unless it is fresh)."""

    path: str
    inode: int
    mtime: float


@dataclass
class StoreScan:
    sizes: dict[int, int] = field(default_factory=dict)  # inode -> disk bytes
    nlinks: dict[int, int] = field(default_factory=dict)  # inode -> st_nlink
    links: dict[int, int] = field(default_factory=dict)  # inode -> names seen in the store
    doc_links: dict[int, int] = field(default_factory=dict)  # inode -> names in documents
    documents: dict[str, DocumentScan] = field(default_factory=dict)
    blobs: dict[str, BlobGroup] = field(default_factory=dict)
    blob_of_inode: dict[int, str] = field(default_factory=dict)  # audio inode -> blob key
    strays: list[StrayFile] = field(default_factory=list)
    registrations: dict[str, RegistrationScan] = field(default_factory=dict)
    seconds: float = 0.0
    dir_inodes_ok_: bool | None = None

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes.values())

    @property
    def blobs_count(self) -> int:
        return sum(1 for g in self.blobs.values() if g.audio)

    @property
    def dedup_saved_bytes(self) -> int:
        """Bytes the chunk files would take beyond these if each were its own copy."""
        return sum(self.sizes[i] * (n - 1) for i, n in self.doc_links.items() if n > 1)

    def is_referenced(self, group: BlobGroup) -> bool:
        """A blob is referenced while any of its audio files has another name."""
        return any(self.nlinks[i] > 1 for _, i in group.audio)

    @property
    def dir_inodes_ok(self) -> bool:
        """True when this scan found directory entries carry the real inode numbers."""
        return self.dir_inodes_ok_ is True

    def trust_dir_inodes(self, entry: os.DirEntry[str], key: int) -> bool:
        """Do directory entries carry the real inode numbers here (overlay file systems
        may not)? Checked once per scan, on the first chunk file met."""
        if self.dir_inodes_ok_ is None:
            try:
                self.dir_inodes_ok_ = inode_key(entry.stat(follow_symlinks=False)) == key
            except FileNotFoundError:
                return False
        return self.dir_inodes_ok_

    def _add(self, st: os.stat_result) -> int:
        key = inode_key(st)
        if key not in self.sizes:
            self.sizes[key] = disk_bytes(st)
            self.nlinks[key] = st.st_nlink
        self.links[key] = self.links.get(key, 0) + 1
        return key


def _scan_access(store: Store) -> dict[str, float]:
    marks: dict[str, float] = {}
    try:
        entries = os.scandir(store.access_dir)
    except FileNotFoundError:
        return marks
    with entries:
        for entry in entries:
            if is_full_id(entry.name):
                try:
                    marks[entry.name] = entry.stat(follow_symlinks=False).st_mtime
                except FileNotFoundError:
                    continue
    return marks


def _scan_files(
    scan: StoreScan, doc: DocumentScan, directory: str, dev: int, *, top: bool
) -> float | None:
    """Every file under ``directory`` (recursively) belongs to ``doc``; returns the
    manifest's mtime when ``top`` and it is there.

    A chunk file is a hard link to a blob already stat'ed, so its inode number from the
    directory entry (no system call) is enough; anything else is stat'ed.
    """
    manifest_mtime = None
    try:
        entries = os.scandir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return None
    with entries:
        for entry in entries:
            name = entry.name
            temp = is_temp_name(name)
            key = (dev << 64) | entry.inode()
            if not temp and key in scan.sizes and scan.trust_dir_inodes(entry, key):
                scan.links[key] += 1
            else:
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if statmod.S_ISDIR(st.st_mode):
                    doc.modified = max(doc.modified, st.st_mtime)
                    _scan_files(scan, doc, entry.path, st.st_dev, top=False)
                    continue
                key = scan._add(st)
                if temp:
                    doc.modified = max(doc.modified, st.st_mtime)
                elif top and name == MANIFEST_NAME:
                    manifest_mtime = st.st_mtime
            doc.inodes.append(key)
            scan.doc_links[key] = scan.doc_links.get(key, 0) + 1
            if not temp and not (top and name == MANIFEST_NAME):
                doc.chunk_files += 1
    return manifest_mtime


def _scan_document(scan: StoreScan, path: str, document_id: str, mark: float | None) -> None:
    try:
        dir_st = os.stat(path)
    except FileNotFoundError:
        return
    doc = DocumentScan(
        document_id=document_id, has_manifest=False, last_used=0.0, modified=dir_st.st_mtime
    )
    manifest_mtime = _scan_files(scan, doc, path, dir_st.st_dev, top=True)
    doc.has_manifest = manifest_mtime is not None
    stamps = [s for s in (mark, manifest_mtime) if s is not None]
    doc.last_used = max(stamps) if stamps else dir_st.st_mtime
    seen: set[int] = set()
    for key in doc.inodes:
        if key not in seen:
            seen.add(key)
            doc.bytes += scan.sizes[key]
    scan.documents[document_id] = doc


def _scan_blob_dir(scan: StoreScan, directory: str) -> None:
    try:
        entries = os.scandir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return
    with entries:
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if not statmod.S_ISREG(st.st_mode):
                continue
            key = scan._add(st)
            if is_temp_name(entry.name):
                scan.strays.append(StrayFile(entry.path, key, st.st_mtime))
                continue
            stem, _, ext = entry.name.partition(".")
            group = scan.blobs.get(stem)
            if group is None:
                group = scan.blobs[stem] = BlobGroup(stem)
            group.mtime = max(group.mtime, st.st_mtime)
            if ext == SIDECAR_EXT:
                group.others.append((entry.path, key))
            else:
                group.audio.append((entry.path, key))
                scan.blob_of_inode[key] = stem


def scan_store(store: Store) -> StoreScan:
    """Walk ``tts_cache_v1/`` and ``blobs/`` once (one ``lstat`` per file)."""
    started = time.perf_counter()
    collecting = gc.isenabled()
    gc.disable()  # hundreds of thousands of small objects, no cycles: skip the collector
    try:
        scan = _scan(store)
    finally:
        if collecting:
            gc.enable()
    scan.seconds = time.perf_counter() - started
    return scan


def _scan(store: Store) -> StoreScan:
    scan = StoreScan()
    try:
        blob_entries = os.scandir(store.blobs_dir)
    except FileNotFoundError:
        blob_entries = None
    if blob_entries is not None:
        with blob_entries:
            for entry in blob_entries:
                if entry.is_dir(follow_symlinks=False):
                    _scan_blob_dir(scan, entry.path)
    marks = _scan_access(store)
    try:
        cache_entries = os.scandir(store.cache_dir)
    except FileNotFoundError:
        cache_entries = None
    if cache_entries is not None:
        with cache_entries:
            for entry in cache_entries:
                if is_full_id(entry.name) and entry.is_dir(follow_symlinks=False):
                    _scan_document(scan, entry.path, entry.name, marks.get(entry.name))
    scan_registrations(store, scan, marks)
    return scan
