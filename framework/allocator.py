"""The memory allocator policy of a process: glibc malloc's thresholds (``job.malloc``).

An event loop allocates the same large temporaries chunk after chunk: a set
network's activations for 1,000 jets of 50 constituents are 10-20 MB per
layer, a chunk's columns a few MB each.  With glibc's defaults a freed block
above the mmap threshold (128 kB, raised by glibc up to 32 MB as it sees
larger blocks freed) is returned to the operating system, and so is free
memory above the trim threshold at the top of the heap; the next chunk maps
the same sizes again and faults in every page on first touch.  In
``benchmarks/taggers.py`` that made the set networks 10-30% slower inside the
framework than a loop over tensors allocated once.

``reuse`` (the default) sets the mmap threshold to 64 MB and the trim
threshold to 256 MB, so such blocks stay in the process and are reused; the
price is up to about 256 MB more resident memory per process after a peak.
``system`` leaves glibc's defaults.  Under another C library (musl, macOS)
nothing is changed.  The policy is set once per process, in the client and in
every worker that builds the job (:func:`hepreco.framework.job.prepare`), and
by ``hepreco train``.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import threading

POLICIES = ("reuse", "system")
DEFAULT = "reuse"
#: mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: the thresholds of ``reuse`` [bytes]
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 256 << 20

_applied: str | None = None
_lock = threading.Lock()


def _glibc_mallopt():
    """glibc's ``mallopt``, or None under another C library."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if not hasattr(libc, "gnu_get_libc_version"):
            return None
        return libc.mallopt
    except (OSError, AttributeError):
        return None


def apply(policy: str = DEFAULT) -> str:
    """Set this process's allocator policy; returns what is in effect (``reuse``, ``system`` or ``unavailable``).

    The first call decides: glibc offers no way back to its adaptive thresholds,
    so a later call with another policy changes nothing.
    """
    global _applied
    if policy not in POLICIES:
        raise ValueError(f"malloc policy {policy!r} is not one of {', '.join(POLICIES)}")
    with _lock:
        if _applied is None:
            if policy == "reuse":
                mallopt = _glibc_mallopt()
                ok = mallopt is not None and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 \
                    and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
                _applied = "reuse" if ok else "unavailable"
            else:
                _applied = "system"
        return _applied


def state() -> str | None:
    """The policy in effect in this process (None before :func:`apply`)."""
    return _applied
