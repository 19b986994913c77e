"""The one threading policy of a job: threads per worker process.

``job.threads`` is the number of threads each worker process (or the one
process of the ``sequential`` executor) may use in numba's parallel kernels,
torch, BLAS and any thread pool of an algorithm; 0 (the default) means the
usable cores of this machine divided by the worker processes, at least 1.
With two workers on two cores every worker runs one thread, so the processes
do not compete for cores with each other's thread pools.

The framework imports no numba or torch.  It sets the policy once per process:

* in a worker process it starts (``processes``, dask LocalCluster) through
  environment variables read when the libraries load (:func:`environment`:
  ``NUMBA_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``,
  ``OPENBLAS_NUM_THREADS``), before any algorithm is imported;
* in every process, including the client under ``sequential``, through the
  *appliers* that the libraries' users register with :func:`register`
  (``hepreco.algorithms._numba`` registers ``numba.set_num_threads``).

Workers of an external dask scheduler (``job.scheduler``) were started by
someone else: only the appliers reach them, and the default count is computed
from this machine's cores.

An applier registered after the policy was set is applied at once, so the
order of imports does not matter.  Thread-local settings (numba's thread
count is one) are applied again in the thread that runs a work item
(:func:`apply` is cheap when nothing changes).
"""
from __future__ import annotations

import os
import threading
from typing import Callable

#: environment variables that size the libraries' thread pools when they load
ENV_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

_appliers: dict[str, Callable[[int], object]] = {}
_threads: int | None = None
_state: dict[str, object] = {}
_applied = threading.local()
_lock = threading.Lock()


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def resolve(threads: int, workers: int = 1) -> int:
    """Threads per worker: ``threads`` when > 0, else usable cores // ``workers`` (at least 1)."""
    if threads > 0:
        return int(threads)
    return max(1, usable_cores() // max(1, int(workers)))


def environment(threads: int) -> dict[str, str]:
    """The environment variables that give a new process ``threads`` threads per library."""
    return {name: str(int(threads)) for name in ENV_VARS}


def set_environment(threads: int) -> None:
    """Set :func:`environment` in this process (effective for libraries not loaded yet)."""
    os.environ.update(environment(threads))


_starts_pool: set[str] = set()
_start_pools = True


def register(name: str, applier: Callable[[int], object], starts_pool: bool = False) -> None:
    """Register ``applier(threads)``, which makes library ``name`` use ``threads`` threads.

    It returns what the library then reports (e.g. its thread count), which the
    job report records.  If the policy is set already, it is applied now.
    ``starts_pool``: the applier starts the library's thread pool (numba's
    does), so it waits in a process that must stay fit to fork
    (:func:`apply` with ``start_pools=False``).
    """
    with _lock:
        before = (_threads, tuple(_appliers), _start_pools)
        _appliers[name] = applier
        if starts_pool:
            _starts_pool.add(name)
        threads = _threads
        after = (_threads, tuple(_appliers), _start_pools)
        wait = starts_pool and not _start_pools
    if threads is not None and not wait:
        _state[name] = applier(threads)
        if getattr(_applied, "key", None) == before:
            _applied.key = after  # this thread now has the full set applied


def apply(threads: int, start_pools: bool = True) -> None:
    """Make every registered library in this process (and this thread) use ``threads`` threads.

    ``start_pools=False`` leaves out the libraries whose applier would start a
    thread pool (see :func:`register`): a process that prepares a job for
    workers forked from it must not start one.
    """
    global _threads, _start_pools
    key = (int(threads), tuple(_appliers), bool(start_pools))
    if getattr(_applied, "key", None) == key:
        return
    with _lock:
        _threads = int(threads)
        _start_pools = bool(start_pools)
        appliers = dict(_appliers)
    for name, applier in appliers.items():
        if start_pools or name not in _starts_pool:
            _state[name] = applier(_threads)
    _applied.key = key


_fork_checks: dict[str, Callable[[], str | None]] = {}


def register_fork_check(name: str, check: Callable[[], str | None]) -> None:
    """Register ``check()``: why library ``name`` makes forking this process unsafe now, or None.

    A process whose OpenMP pool is running must not fork: a child that uses it
    hangs or aborts (numba's OpenMP layer aborts it).  The ``processes``
    executor asks before it forks its workers and starts them fresh instead.
    """
    _fork_checks[name] = check


def fork_hazard() -> str | None:
    """Why forking this process is unsafe now (None: it is not), every reason found: other Python threads
    run (a child gets none of them, and any lock one holds stays locked there), or registered libraries say
    why."""
    reasons = []
    others = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    if others:
        reasons.append(f"other threads run in this process ({', '.join(sorted(others))})")
    for check in list(_fork_checks.values()):
        reason = check()
        if reason:
            reasons.append(reason)
    return "; ".join(reasons) or None


def state() -> dict[str, object]:
    """What the policy is in this process: ``{"threads": n, <library>: what its applier reported}``."""
    return {"threads": _threads, **_state}
