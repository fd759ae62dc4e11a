"""The shared tier of a library: its files also kept in an ``ObjectTier`` (a bucket).

The local store stays the first tier (chunks are served from it, zero-copy); the
shared tier is the second. ``SharedTier`` moves files between the two:

- **writes** (``push_blob``, ``push_document``) are queued and put by one background
  thread, in order, so a request never waits for the bucket; a put that fails is
  retried with backoff (1 s, 2 s, … 30 s) until the bucket answers. A blob is put
  once (content-addressed, never replaced); manifests and registrations are put
  as they are at the moment of the put, so a burst of changes costs one put.
- **reads** (``fetch_blob``, ``fetch_registration``, ``adopt_manifest``) fill local
  misses, a blob checked (size, SHA-256) before it is written whole. After a failed
  call reads skip the tier for ``cooldown`` s: a bucket that is down costs one
  timeout, not one per request, and the caller falls back to synthesis.
- **claims** (``claim``, ``wait_for_blob``, ``release``): one maker across instances.

``health()`` is what ``/healthz`` reports. The names, the write queue, the guarded
reads and ``health`` are ``preread.tier_link.TierLink``'s, which ``SharedTier`` extends.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from preread.blobs import BlobInfo, BlobStore, blob_key
from preread.fsutil import atomic_write, create_exclusive
from preread.manifest import ChunkEntry, Manifest, manifest_matches
from preread.model import DocumentText
from preread.tier_link import TierLink, merged_manifest
from preread.tiers import TierUnavailable
from preread.voice import ResolvedVoice


class SharedTier(TierLink):
    # -- writes -------------------------------------------------------------------------------
    def push_blob(self, key: str, fmt: str) -> None:
        audio, sidecar = self.blob_names(key, fmt)
        self._enqueue(audio, False)
        self._enqueue(sidecar, False)

    def push_document(self, document_id: str, *, registration: bool = True) -> None:
        """Queue the manifest (and the registration, with its source) for sharing."""
        if registration:
            self._enqueue(self._name(self.store.source_path(document_id)), False)
            directory = self.store.registration_dir(document_id)
            self._enqueue(self._name(directory / "document.json"), True)
        self._enqueue(self._name(self.store.manifest_path(document_id)), True)

    # -- reads --------------------------------------------------------------------------------
    def fetch_blob(self, key: str, fmt: str, sha256: str | None = None) -> BlobInfo | None:
        """Bring blob ``key`` from the tier into the local store; its info, or None.

        ``sha256``: only that audio (a manifest's record of a chunk): the tier's blob of
        other bytes is not stored. A stored blob is never replaced (its info is returned).
        """
        audio_name, sidecar_name = self.blob_names(key, fmt)
        raw = self._get(sidecar_name)
        if raw is None:
            return None
        try:
            info = BlobInfo.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            return None
        if info.key != key or info.format != fmt or sha256 not in (None, info.sha256):
            return None
        data = self._get(audio_name)
        if data is None or len(data) != info.bytes:
            return None
        if hashlib.sha256(data).hexdigest() != info.sha256:
            return None
        audio = self.store.blob_path(key, fmt)
        if not create_exclusive(audio, data):  # a stored blob is never replaced
            return BlobStore(self.store).describe(key, fmt)  # the local one wins
        atomic_write(self.store.blob_path(key, "json"), raw)
        self.fetched += 1
        return info

    def fetch_registration(self, document_id: str) -> DocumentText | None:
        """The document's registration from the tier, stored locally (with its source)."""
        directory = self.store.registration_dir(document_id)
        raw = self._get(self._name(directory / "document.json"))
        if raw is None:
            return None
        try:
            document = DocumentText.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            return None
        if document.document_id != document_id:
            return None
        source = self._get(self._name(self.store.source_path(document_id)))
        if source is not None and hashlib.sha256(source).hexdigest() == document_id:
            atomic_write(self.store.source_path(document_id), source)
        atomic_write(directory / "document.json", raw)
        self.fetched += 1
        return document

    def remote_manifest(self, document_id: str) -> Manifest | None:
        """The tier's copy of the manifest (not stored locally)."""
        found = self._remote_manifest(document_id)
        return None if found is None else found[0]

    def _remote_manifest(self, document_id: str) -> tuple[Manifest, bytes] | None:
        raw = self._get(self._name(self.store.manifest_path(document_id)))
        if raw is None:
            return None
        try:
            manifest = Manifest.loads(raw)
        except (ValueError, KeyError, TypeError):
            return None
        return (manifest, raw) if manifest.document_id == document_id else None

    # -- a document's audio ---------------------------------------------------------------------
    def adopt_manifest(self, document_id: str) -> Manifest | None:
        """The tier's manifest, written locally (its very bytes) while the disk has none."""
        found = self._remote_manifest(document_id)
        if found is None:
            return None
        remote, raw = found
        with self.store.manifest_lock(document_id):
            local = self.store.read_manifest(document_id)
            if local is not None:
                return local
            self.store.write_manifest(remote, raw)
            self.store.chunks_dir(document_id).mkdir(parents=True, exist_ok=True)
        return remote

    def refresh_manifest(self, document_id: str) -> bool:
        """After another machine's job on the document: the tier's manifest, with the
        chunks only the local copy has done (same voice and blocks), replaces the local
        one. True when the local manifest changed (chunks are fetched when asked)."""
        remote_raw = self._get(self._name(self.store.manifest_path(document_id)))
        if remote_raw is None:
            return False
        try:
            if Manifest.loads(remote_raw).document_id != document_id:
                return False
        except (ValueError, KeyError, TypeError):
            return False
        self.store.fold_journal(document_id)  # (it takes the manifest lock itself)
        with self.store.manifest_lock(document_id):
            try:
                local_raw: bytes | None = self.store.manifest_path(document_id).read_bytes()
            except FileNotFoundError:
                local_raw = None
            merged = merged_manifest(remote_raw, local_raw)
            if merged == local_raw:
                return False
            self.store.write_manifest(Manifest.loads(merged))
            self.store.chunks_dir(document_id).mkdir(parents=True, exist_ok=True)
        return True

    def fetch_missing(self, blobs: BlobStore, text: str, voice: ResolvedVoice) -> str | None:
        """Make sure the blob of ``text`` in ``voice`` is local, fetching it from the tier.

        None when it is local now; its key when neither tier has it (the caller makes
        it, then shares it with ``push_blob``).
        """
        key = blob_key(text, voice)
        if blobs.read(key, voice.format) is not None:
            return None
        return key if self.fetch_blob(key, voice.format) is None else None

    def fetch_done(
        self,
        blobs: BlobStore,
        document_id: str,
        voice: ResolvedVoice,
        key_of: Callable[[Manifest, ChunkEntry], str],
    ) -> int:
        """Before pre-generating: fetch the blobs the tier's manifest lists as done (for
        the same voice), each under ``key_of``'s key (the voice that spoke it, a
        fallback's too) and only as the manifest records it, eight at a time; how many
        were fetched."""
        remote = self.remote_manifest(document_id)
        if remote is None or not manifest_matches(remote, voice):
            return 0
        done = [e for e in remote.chunks if e.status == "done"]
        return self.fetch_blobs(blobs, {key_of(remote, e): e.sha256 for e in done}, voice.format)

    def fetch_blobs(self, blobs: BlobStore, wanted: Mapping[str, str | None], fmt: str) -> int:
        """Bring the blobs among ``wanted`` (key: its audio's SHA-256, None for any) the
        local store lacks from the tier, eight at a time; how many were fetched."""
        missing = [k for k in sorted(wanted) if blobs.read(k, fmt) is None]
        with ThreadPoolExecutor(8, thread_name_prefix="preread-fetch") as pool:
            found = list(pool.map(lambda key: self.fetch_blob(key, fmt, wanted[key]), missing))
        return sum(1 for info in found if info is not None)

    def push_done(self, manifest: Manifest, key_of: Callable[[Manifest, ChunkEntry], str]) -> None:
        """Queue the blob of every done chunk (the tier keeps one copy of each), under
        ``key_of``'s key: the voice that spoke it, a fallback's too."""
        for entry in manifest.chunks:
            if entry.status == "done":
                self.push_blob(key_of(manifest, entry), manifest.format)

    def forget_document(self, document_id: str, *, registration: bool) -> None:
        """Remove a deleted document's manifest (and registration) from the tier, so no
        instance adopts it again. Its blobs stay for the bucket's retention rules."""
        names = [self._name(self.store.manifest_path(document_id))]
        if registration:
            directory = self.store.registration_dir(document_id)
            names += [
                self._name(directory / "document.json"),
                self._name(self.store.source_path(document_id)),
            ]
        with self._cond:
            for name in names:
                self._pending.pop(name, None)
        try:
            for name in names:
                self.tier.delete(name)
        except TierUnavailable as exc:
            self._failed(exc)

    # -- one maker across instances --------------------------------------------------------------
    def claim(self, key: str) -> bool:
        """Whether this instance should make blob ``key`` now that neither tier has it.

        The first instance to put ``claims/{key}`` (a conditional put) makes it; the
        others wait for its blob (``wait_for_blob``). A claim older than
        ``claim_ttl`` (its maker died) is taken over; a tier that does not answer
        leaves every instance to make its own.
        """
        name = f"claims/{key}"
        mine = json.dumps({"at": time.time()}).encode()
        if time.monotonic() < self._down_until:
            return True
        try:
            if self.tier.put(name, mine):
                return True
            raw = self.tier.get(name)
            if raw is None:
                return self.tier.put(name, mine)
            if time.time() - float(json.loads(raw).get("at", 0)) > self.claim_ttl:
                self.tier.put(name, mine, replace=True)
                return True
        except TierUnavailable as exc:
            self._failed(exc)
            return True
        except (ValueError, TypeError, AttributeError):
            return True
        return False

    def release(
        self, key: str, fmt: str, *, spoken: str | None = None, document_id: str | None = None
    ) -> None:
        """After making blob ``key`` under a claim: put it now (waiters poll for it),
        then drop the claim. ``spoken``: the key the audio was stored under instead (a
        fallback voice spoke it), put now with ``document_id``'s manifest, from which
        the waiters take the chunk."""
        names = [(name, False) for name in self.blob_names(key, fmt)]
        if spoken is not None:
            names += [(name, False) for name in self.blob_names(spoken, fmt)]
        if document_id is not None:
            names.append((self._name(self.store.manifest_path(document_id)), True))
        for name, replace in names:
            if not self._put(name, replace):
                self._enqueue(name, replace)
        with contextlib.suppress(TierUnavailable):
            self.tier.delete(f"claims/{key}")

    def wait_for_blob(self, key: str, fmt: str, timeout: float) -> BlobInfo | None:
        """The blob another instance is making, once it lands in the tier; None when its
        claim goes away without it, or after ``timeout`` (then make it here)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.fetch_blob(key, fmt)
            if info is not None:
                return info
            try:
                if self.tier.get(f"claims/{key}") is None:
                    return self.fetch_blob(key, fmt)
            except TierUnavailable as exc:
                self._failed(exc)
                return None
            time.sleep(self.poll)
        return None
