"""Whether a file's bytes are all in the page cache now: Linux's ``cachestat`` (6.5+).

``sendfile`` has no ``RWF_NOWAIT``: on a file the page cache does not hold it reads
the disk, and the event loop would wait for it. ``in_page_cache(fd, size)`` asks the
kernel first (one system call, no copy): True when every page of the first ``size``
bytes is cached, False when one is not, None when this kernel cannot tell (not Linux,
older than 6.5, or the call filtered out by a sandbox: then never asked again), so
the caller reads with ``preadv(RWF_NOWAIT)`` instead.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import sys

_CACHESTAT = 451  # the same number on every Linux architecture (new system calls)
_PAGE = mmap.PAGESIZE


class _Range(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class _Stat(ctypes.Structure):
    _fields_ = [
        ("nr_cache", ctypes.c_uint64),
        ("nr_dirty", ctypes.c_uint64),
        ("nr_writeback", ctypes.c_uint64),
        ("nr_evicted", ctypes.c_uint64),
        ("nr_recently_evicted", ctypes.c_uint64),
    ]


def _libc_syscall() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.c_long
    return function


_syscall = _libc_syscall()


def in_page_cache(fd: int, size: int) -> bool | None:
    """Whether the first ``size`` bytes of ``fd`` are all in the page cache (None: this
    kernel cannot tell)."""
    global _syscall
    call = _syscall
    if call is None:
        return None
    span = _Range(0, size)
    stat = _Stat()
    result = call(
        ctypes.c_long(_CACHESTAT),
        ctypes.c_int(fd),
        ctypes.byref(span),
        ctypes.byref(stat),
        ctypes.c_uint(0),
    )
    if result != 0:
        if ctypes.get_errno() in (errno.ENOSYS, errno.EPERM, errno.EOPNOTSUPP):
            _syscall = None  # no cachestat here: never asked again
            return None
        return False  # EBADF and the like: the caller's read meets it
    return bool(stat.nr_cache >= (size + _PAGE - 1) // _PAGE)
