"""Object tiers: where a library's files are shared beyond its local disk.

An ``ObjectTier`` keeps named byte strings. Names are the files' paths relative to
the store's home (``blobs/ab/abcd….mp3``, ``documents/{id}/document.json``,
``tts_cache_v1/{id}/tts.meta.json``), so the store's layout is spelled once, in
``preread.store``. Three implementations, the way httpx has transports:

- ``S3Tier`` (``preread.s3tier``): an S3-compatible bucket, the shared tier of many
  machines;
- ``DiskTier``: a directory (a mounted shared disk; also a real tier for tests);
- ``MemoryTier``: a dict, with a switch that makes it unreachable (the fake).

Blobs are content-addressed: ``put(..., replace=False)`` never replaces an object
that exists (an S3 conditional put where the server supports it). Manifests and
registrations change, and are put with ``replace=True``. A tier that cannot be
reached raises ``TierUnavailable``; the library then carries on from its disk.
"""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from pathlib import Path

from preread.errors import PrereadError
from preread.fsutil import atomic_write


class TierUnavailable(PrereadError):
    """The tier did not answer (down, slow, refused the credentials)."""


def check_name(name: str) -> str:
    """Names are relative paths of plain parts: no ``..``, no absolute path."""
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"bad object name {name[:80]!r}")
    return name


class ObjectTier(ABC):
    """Named byte strings somewhere else than the local store."""

    kind: str = ""

    @abstractmethod
    def get(self, name: str) -> bytes | None:
        """The object's bytes; None when absent; TierUnavailable when not reachable."""

    @abstractmethod
    def put(self, name: str, data: bytes, *, replace: bool = False) -> bool:
        """Store ``data`` as ``name``; False when it existed and ``replace`` is off."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove the object (absent is fine)."""

    def describe(self) -> str:
        """Where the tier is, without credentials (for logs and /healthz)."""
        return self.kind

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class DiskTier(ObjectTier):
    """Objects as files under ``root`` (each written whole: temp, fsync, rename)."""

    kind = "disk"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        return self.root / check_name(name)

    def get(self, name: str) -> bytes | None:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TierUnavailable(f"{self.describe()}: {exc.strerror or exc}") from None

    def put(self, name: str, data: bytes, *, replace: bool = False) -> bool:
        path = self._path(name)
        if not replace and path.exists():
            return False
        try:
            atomic_write(path, data)
        except OSError as exc:
            raise TierUnavailable(f"{self.describe()}: {exc.strerror or exc}") from None
        return True

    def delete(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(name).unlink()

    def describe(self) -> str:
        return f"disk {self.root}"


class MemoryTier(ObjectTier):
    """Objects in a dict: the fake tier for tests. ``reachable = False`` makes every
    call raise ``TierUnavailable``, as a bucket that is down does."""

    kind = "memory"

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.reachable = True
        self.gets = 0
        self.puts = 0
        self._lock = threading.Lock()

    def _check(self) -> None:
        if not self.reachable:
            raise TierUnavailable("memory tier: unreachable")

    def get(self, name: str) -> bytes | None:
        self._check()
        with self._lock:
            self.gets += 1
            return self.objects.get(check_name(name))

    def put(self, name: str, data: bytes, *, replace: bool = False) -> bool:
        self._check()
        with self._lock:
            if not replace and check_name(name) in self.objects:
                return False
            self.puts += 1
            self.objects[name] = bytes(data)
            return True

    def delete(self, name: str) -> None:
        self._check()
        with self._lock:
            self.objects.pop(check_name(name), None)
