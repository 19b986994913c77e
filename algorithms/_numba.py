"""The one numba policy of hepreco.

Every kernel in ``hepreco.algorithms`` is compiled through :func:`jit`, so the
caching, ``nogil`` and fast-math choices live in one place.  ``cache=True``
writes the compiled machine code next to the source (or into
``NUMBA_CACHE_DIR``), which removes most of numba's start-up cost from the
second process on.

Thread counts are not chosen here: the job's threading policy
(``job.threads``, :mod:`hepreco.framework.threads`) sets numba's thread count
through the applier registered below, and the kernels' own thread pools
follow ``numba.get_num_threads()``.
"""
from __future__ import annotations

import os

# Parallel kernels use numba's OpenMP layer; on a busy machine the default
# spinning wait made every parallel call cost ~11 ms instead of ~40 us.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numba  # noqa: E402

from hepreco.framework import threads as _thread_policy  # noqa: E402

#: Options applied to every kernel unless a kernel overrides them.
DEFAULTS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}


def jit(*args, **options):
    """``numba.njit`` with the project defaults (see :data:`DEFAULTS`).

    Use as ``@jit`` or ``@jit(signature, parallel=True)``.
    """
    merged = {**DEFAULTS, **options}
    if len(args) == 1 and callable(args[0]) and not options:
        return numba.njit(**merged)(args[0])
    return numba.njit(*args, **merged)


def _apply_threads(threads: int) -> int:
    """Threading-policy applier: numba's parallel kernels (and the pools sized from them) use ``threads``."""
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    return numba.get_num_threads()


_thread_policy.register("numba", _apply_threads)
