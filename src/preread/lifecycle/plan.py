"""What to remove first, and how many bytes a removal frees: pure functions over a scan.

The order is least recently *used* first, whole documents at a time:

1. leftovers first: a chunk folder with no manifest (a killed creation or deletion) and a
   stale temp file in ``blobs/``;
2. then, by last use, documents (``DocumentScan.last_used``) together with blobs that no
   document references any more (last use = when the blob was written: audio kept from
   earlier settings or from ``/v1/audio/speech``) and registrations (blocks and uploaded
   source files), each after its document's audio (a registration goes only once its
   document has no audio: ``preread.lifecycle.registrations``).

Evicting a document also removes the blobs only it referenced (the simulator frees them
with it), so a blob shared with a kept document stays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from preread.lifecycle.registrations import RegistrationScan
from preread.lifecycle.scan import BlobGroup, DocumentScan, StoreScan

CandidateKind = Literal["document", "blob", "stray", "registration"]


@dataclass(frozen=True)
class Candidate:
    kind: CandidateKind
    name: str  # document id, blob key or stray file path
    last_used: float  # -inf for leftovers

    @property
    def is_leftover(self) -> bool:
        return self.last_used == -math.inf


def eviction_order(scan: StoreScan, *, fresh_after: float) -> list[Candidate]:
    """Every removable thing, least recently used first.

    Unreferenced blobs and temp files written after ``fresh_after`` are being written (a
    blob is written before the chunk link that references it) and are left out.
    """
    items: list[Candidate] = []
    for doc in scan.documents.values():
        used = doc.last_used if doc.has_manifest else -math.inf
        items.append(Candidate("document", doc.document_id, used))
    for group in scan.blobs.values():
        if not scan.is_referenced(group) and group.mtime < fresh_after:
            items.append(Candidate("blob", group.key, group.mtime))
    for stray in scan.strays:
        if stray.mtime < fresh_after:
            items.append(Candidate("stray", stray.path, -math.inf))
    for reg in scan.registrations.values():  # never before its document's audio
        audio = scan.documents.get(reg.document_id)
        used = reg.last_used if audio is None else max(reg.last_used, audio.last_used)
        items.append(Candidate("registration", reg.document_id, used))
    kind_rank = {"stray": 0, "document": 1, "blob": 2, "registration": 3}
    items.sort(key=lambda c: (c.last_used, kind_rank[c.kind], c.name))
    return items


class FreeSimulator:
    """Tracks names removed so far and says which inodes leave the store (dry runs)."""

    def __init__(self, scan: StoreScan) -> None:
        self.scan = scan
        self.removed: dict[int, int] = {}

    def _drop(self, inode: int) -> int:
        count = self.removed.get(inode, 0) + 1
        self.removed[inode] = count
        return self.scan.sizes[inode] if self.scan.links[inode] - count == 0 else 0

    def _orphaned(self, group: BlobGroup) -> bool:
        """After the removals so far, does only the blob's own name remain?"""
        return bool(group.audio) and all(
            self.scan.nlinks[i] - self.removed.get(i, 0) == 1 for _, i in group.audio
        )

    def blob(self, group: BlobGroup) -> int:
        return sum(self._drop(i) for i in group.inodes)

    def stray(self, inode: int) -> int:
        return self._drop(inode)

    def registration(self, reg: RegistrationScan) -> int:
        return sum(self._drop(i) for i in reg.inodes)

    def document(self, doc: DocumentScan) -> tuple[int, int]:
        """Bytes freed by removing ``doc`` and the blobs only it used; blobs removed."""
        freed = 0
        touched: set[str] = set()
        for inode in doc.inodes:
            freed += self._drop(inode)
            key = self.scan.blob_of_inode.get(inode)
            if key is not None:
                touched.add(key)
        blobs = 0
        for key in sorted(touched):
            group = self.scan.blobs[key]
            if self._orphaned(group):
                freed += self.blob(group)
                blobs += 1
        return freed, blobs
