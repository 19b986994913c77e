"""The one numba policy of hepreco.

Every kernel in ``hepreco.algorithms`` is compiled through :func:`jit`, so the
caching, ``nogil`` and fast-math choices live in one place.  ``cache=True``
writes the compiled machine code next to the source (or into
``NUMBA_CACHE_DIR``), which removes most of numba's start-up cost from the
second process on: later runs and the worker processes of every executor load
it instead of compiling.

A process that has to compile one of these kernels (the first run after an
install or an edit: a cache miss) says so once on stderr, so that a minute of
compilation is not a minute of silence.

Thread counts are not chosen here: the job's threading policy
(``job.threads``, :mod:`hepreco.framework.threads`) sets numba's thread count
through the applier registered below, and the kernels' own thread pools
follow ``numba.get_num_threads()``.
"""
from __future__ import annotations

import os
import sys

# Parallel kernels use numba's OpenMP layer; on a busy machine the default
# spinning wait made every parallel call cost ~11 ms instead of ~40 us.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numba  # noqa: E402
from numba.core import event  # noqa: E402

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


#: printed once per process when one of our kernels misses the cache and is compiled
COMPILING = "hepreco: compiling numba kernels (the first time each is used, cached afterwards)..."


class _CompileNotice(event.Listener):
    """Prints :data:`COMPILING` at the first compilation of a hepreco kernel in this process.

    numba fires ``numba:compile`` only when a signature is neither compiled in
    this process nor found in the on-disk cache; kernels loaded from the cache
    say nothing.
    """

    def __init__(self):
        self.said = False

    def on_start(self, ev) -> None:
        if self.said:
            return
        dispatcher = (ev.data or {}).get("dispatcher")
        module = getattr(getattr(dispatcher, "py_func", None), "__module__", None) or ""
        if not module.startswith("hepreco."):
            return
        self.said = True
        from tqdm import tqdm

        tqdm.write(COMPILING, file=sys.stderr)  # above a progress bar, if one is drawn

    def on_end(self, ev) -> None:
        pass


#: the process's notice (``said`` once it has printed)
NOTICE = _CompileNotice()
event.register("numba:compile", NOTICE)


def _apply_threads(threads: int) -> int:
    """Threading-policy applier: numba's parallel kernels (and the pools sized from them) use ``threads``."""
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    return numba.get_num_threads()


_thread_policy.register("numba", _apply_threads, starts_pool=True)  # numba.set_num_threads starts the layer


def _fork_hazard() -> str | None:
    """Fork check: numba's threading layer, once started, is not fork-safe (its OpenMP layer aborts the child)."""
    try:
        layer = numba.threading_layer()
    except ValueError:  # not started in this process
        return None
    return f"numba's {layer} threading layer is running in this process"


_thread_policy.register_fork_check("numba", _fork_hazard)
