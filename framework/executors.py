"""Executors: how work items are run, behind one interface.

=============  ===================================================================
``sequential`` in this process, one item after the other
``processes``  a local pool of worker processes (``job.workers``)
``dask``       a dask ``distributed`` cluster: a LocalCluster with ``job.workers``
               processes, or the scheduler at ``job.scheduler`` (for batch systems
               start workers with dask-jobqueue and pass its scheduler address)
=============  ===================================================================

Every executor takes a picklable function of one work item and yields results
as items complete; the client orders them.  Algorithms never know which
executor runs them.  A worker that dies takes its items with it: they are
retried (``job.max_retries`` times) and then reported as an
:class:`ItemFailure`; an exception raised by an algorithm is not retried.
Every item run more than once is listed in ``Executor.retries`` (for the
report).  Workers of the ``processes`` pool exit by themselves when the
main process dies (even by SIGKILL).

Where the system can fork (Linux), the ``processes`` pool is forked from the
client after the client has built and initialised the job once
(``prepare``): the workers start with every module imported, every kernel
loaded, the geometry built, Pythia initialised and the models read, instead
of each doing all of that again.  The client forks only while it runs no
other thread and no library reports a thread pool that a fork would break
(:func:`~hepreco.framework.threads.fork_hazard`); otherwise, and on other
systems, the workers are started fresh ('spawn').

After the event loop, :meth:`Executor.map_async` spreads end-of-job work
(drawing the histograms, and the summaries of algorithms whose end of job
only writes plots and tables) over the same workers while the client does its
own (the ROOT file of histograms, the other algorithms' summaries).
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from . import extras
from . import threads as policy
from .io.source import WorkItem


@dataclass
class ItemFailure:
    """A work item given up after its worker died ``attempts`` times."""

    index: int
    first: int
    last: int
    attempts: int
    reason: str


class Executor:
    """Base: ``run(fn, items)`` yields ``fn(item)`` results (or ItemFailure) as they complete."""

    name = "base"
    #: optional packages the executor needs (see :mod:`~hepreco.framework.extras`), checked when the job is built
    requires: tuple[str, ...] = ()

    def __init__(self, workers: int = 1, max_retries: int = 2, scheduler: str = "", threads: int = 1):
        self.workers = workers
        self.max_retries = max_retries
        self.scheduler = scheduler
        self.threads = threads  # per worker process (framework.threads)
        #: items run more than once: index -> {index, first, last, attempts, reasons}
        self.retries: dict[int, dict] = {}

    def _retried(self, item: WorkItem, reason: str) -> None:
        entry = self.retries.setdefault(item.index, {"index": item.index, "first": item.first, "last": item.last,
                                                     "attempts": 1, "reasons": []})
        entry["attempts"] += 1
        entry["reasons"].append(reason)

    def run(self, fn: Callable, items: Iterable[WorkItem], prepare: Callable[[], object] | None = None) -> Iterator:
        """``fn(item)`` for every item, as they complete.

        ``prepare()`` builds in this process what ``fn`` builds on its first
        call; an executor whose workers are forked from this process calls it
        first (the others need not).
        """
        raise NotImplementedError

    @property
    def has_workers(self) -> bool:
        """Whether :meth:`map_async` runs on workers now (after a complete event loop), not in this process."""
        return False

    def map_async(self, fn: Callable, args: Iterable) -> Callable[[], list]:
        """Start ``[fn(a) for a in args]`` on the workers while they are up (end-of-job work); return a waiter.

        Calling the waiter returns the list; this process is free for other
        work until then.  Without workers the waiter computes the list here.
        """
        args = list(args)
        return lambda: [fn(a) for a in args]

    def close(self) -> None:
        """Release workers (and finalise the algorithms they hold)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SequentialExecutor(Executor):
    """Runs every item in this process."""

    name = "sequential"

    def run(self, fn, items, prepare=None):
        for item in items:
            yield fn(item)

    def close(self) -> None:
        from .job import finalize_processors

        finalize_processors()


#: seconds between two checks, in a worker, that the main process still lives
PARENT_POLL = 0.5


def _exit_with_parent(parent: int) -> None:
    """Exit this worker (no clean-up: its work is lost anyway) once the process ``parent`` is gone."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL)
    os._exit(1)


def _worker_init(parent: int, threads: int) -> None:
    from .job import finalize_processors

    from . import job

    job.freeze_after_build = True  # a worker exists to run the job
    if "numba" not in sys.modules:
        # a spawned worker: before any algorithm imports numba or torch.  A forked one has them loaded with the
        # client's pool sizes; numba re-reads NUMBA_NUM_THREADS at each compilation and refuses a changed value
        # once its pool runs, so the environment stays as the client's there
        policy.set_environment(threads)
    policy.apply(threads)
    multiprocessing.util.Finalize(None, finalize_processors, exitpriority=10)
    # Ctrl-C reaches the whole process group: the main process alone decides how to stop (it lets the
    # items in flight finish), so workers do not die half-way with a KeyboardInterrupt traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker inherits the client's SIGTERM handler
    # a killed main process cannot stop its pool: a watchdog ends the worker instead of leaving it
    # running (and writing parts) or idle; polling the parent's id works on every POSIX system
    threading.Thread(target=_exit_with_parent, args=(parent,), name="hepreco-parent-watchdog", daemon=True).start()


def _can_fork() -> bool:
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def _start_method(wanted: str, prepare: Callable[[], object] | None) -> tuple[str, str]:
    """``(method, why not forked)`` for new workers: "fork" after ``prepare()`` built the job here, when
    ``wanted`` is "fork", there is something to prepare and no fork hazard is found before or after it;
    else "spawn"."""
    if wanted != "fork" or prepare is None:
        return "spawn", ""
    why = policy.fork_hazard() or ""
    if not why:
        prepare()
        why = policy.fork_hazard() or ""
    return ("spawn" if why else "fork"), why


class ProcessExecutor(Executor):
    """A local pool of ``workers`` processes, forked from the prepared client where safe (else 'spawn')."""

    name = "processes"
    #: "fork" (from the prepared client, where the system and the libraries allow it) or "spawn"
    start_method = "fork" if _can_fork() else "spawn"

    def __init__(self, workers: int = 1, max_retries: int = 2, scheduler: str = "", threads: int = 1):
        super().__init__(workers, max_retries, scheduler, threads)
        self._prepare: Callable[[], object] | None = None
        self._live: ProcessPoolExecutor | None = None  # the pool kept after a complete run, for map()
        #: how the last pool was started, and why not forked when it could have been
        self.started: tuple[str, str] = ("", "")

    def _pool(self) -> ProcessPoolExecutor:
        # prepared once: the built job stays in this process for the next pool too
        self.started = _start_method(self.start_method, self._prepare)
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context(self.started[0]),
                                   initializer=_worker_init, initargs=(os.getpid(), self.threads))

    def run(self, fn, items, prepare=None):
        self._prepare = prepare
        self._close_live()
        fresh = iter(items)  # taken one at a time: the client holds only the items in flight
        queue: list = []  # items to run again (their worker died), before the fresh ones
        attempts: dict[int, int] = {}  # worker deaths per item, for the items that had one
        suspects: set[int] = set()  # items in flight when a worker died, rerun one at a time
        pool = self._pool()
        running: dict = {}
        complete = False

        def next_item():
            if not queue:
                item = next(fresh, None)
                if item is None:
                    return None
                queue.append(item)
            return queue[0]

        try:
            while next_item() is not None or running:
                # two items per worker: each worker finds its next item queued while the client records the last
                limit = 1 if suspects else 2 * self.workers
                while len(running) < limit:
                    item = next_item()
                    if item is None:
                        break
                    try:
                        running[pool.submit(fn, item)] = item
                        queue.pop(0)
                    except BrokenProcessPool:  # died since the last wait: its futures tell which items
                        break
                if not running:
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = self._pool()
                    continue
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                lost = []
                for fut in done:
                    item = running.pop(fut)
                    try:
                        result = fut.result()
                    except BrokenProcessPool:
                        lost.append(item)
                        continue
                    suspects.discard(item.index)
                    yield result
                if not lost:
                    continue
                lost += list(running.values())
                running.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = self._pool()
                if len(lost) > 1:
                    # several items shared the dead pool: rerun each alone to find the culprit
                    suspects.update(item.index for item in lost)
                    for item in lost:
                        self._retried(item, f"a worker process died while {len(lost)} items were in flight; "
                                            "rerun alone")
                    queue[:0] = sorted(lost, key=lambda it: it.index)
                    continue
                item = lost[0]
                attempts[item.index] = attempts.get(item.index, 0) + 1
                if attempts[item.index] > self.max_retries:
                    suspects.discard(item.index)
                    yield ItemFailure(item.index, item.first, item.last, attempts[item.index], "worker process died")
                else:
                    self._retried(item, "its worker process died")
                    queue.insert(0, item)
            complete = True
        finally:
            if complete:
                self._live = pool  # for map_async(); close() shuts it down
            else:  # stopped early: the items in flight finish (and write their parts) before the client goes on
                for fut in running:
                    fut.cancel()
                pool.shutdown(wait=True, cancel_futures=True)

    @property
    def has_workers(self) -> bool:
        return self._live is not None

    def map_async(self, fn, args):
        args = list(args)
        if self._live is None:
            return super().map_async(fn, args)
        try:
            futures = [self._live.submit(fn, a) for a in args]
        except BrokenProcessPool:
            self._close_live()
            return super().map_async(fn, args)

        def wait_all() -> list:
            try:
                return [f.result() for f in futures]
            except BrokenProcessPool:  # a worker died: do it here
                self._close_live()
                return [fn(a) for a in args]

        return wait_all

    def _close_live(self) -> None:
        if self._live is not None:
            pool, self._live = self._live, None
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        self._close_live()
        from .job import finalize_processors

        finalize_processors()  # the job the client prepared for forking


class DaskExecutor(Executor):
    """A dask.distributed cluster (LocalCluster by default, or ``scheduler`` address)."""

    name = "dask"
    requires = ("dask", "distributed")

    #: how the LocalCluster's workers start: "fork" (from the prepared client, where safe) or "spawn"
    start_method = "fork" if _can_fork() else "spawn"

    def __init__(self, workers: int = 1, max_retries: int = 2, scheduler: str = "", threads: int = 1):
        super().__init__(workers, max_retries, scheduler, threads)
        dask = extras.dask(needed_by="the dask executor")
        extras.distributed(needed_by="the dask executor")
        # no statistical profiler sampling the task thread every 10 ms, and the event-loop, system and
        # memory monitors polled every 1-2 s instead of 20-500 ms: on a machine with one core per worker
        # these took the GIL and the cores from the tasks (the main job's 1,000 events: 15.3 s -> 14.5 s)
        dask.config.set({"distributed.scheduler.allowed-failures": max_retries,
                         "distributed.worker.daemon": False,
                         "distributed.worker.profile.enabled": False,
                         "distributed.admin.system-monitor.gil.enabled": False,
                         "distributed.admin.tick.interval": "1s",
                         "distributed.admin.system-monitor.interval": "2s",
                         "distributed.worker.memory.monitor-interval": "1s"})
        self.cluster = None
        self.client = None
        self.started: tuple[str, str] = ("", "")

    def _connect(self, prepare=None) -> None:
        """Connect to the scheduler, or start the LocalCluster (its workers forked from here where safe)."""
        if self.client is not None:
            return
        dask = extras.dask(needed_by="the dask executor")
        distributed = extras.distributed(needed_by="the dask executor")
        if self.scheduler:
            self.client = distributed.Client(self.scheduler)
            return
        self.started = _start_method(self.start_method, prepare)
        # ":0": a free port; None means 8787, and when another cluster holds it distributed retries and
        # leaks the socket it tried (a ResourceWarning)
        with dask.config.set({"distributed.worker.multiprocessing-method": self.started[0]}):
            self.cluster = distributed.LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                                    dashboard_address=":0", silence_logs=40,
                                                    env=policy.environment(self.threads))
        self.client = distributed.Client(self.cluster)

    def run(self, fn, items, prepare=None):
        distributed = extras.distributed(needed_by="the dask executor")
        self._connect(prepare)

        # a bounded window of items in flight, refilled as each completes: the client and the scheduler
        # hold a few futures, not one per item of the job
        n_workers = len(self.client.scheduler_info().get("workers", {})) or self.workers
        window = max(4, 4 * n_workers)
        fresh = iter(items)
        futures: dict = {}
        pending = distributed.as_completed()

        def submit() -> None:
            item = next(fresh, None)
            if item is not None:
                fut = self.client.submit(fn, item, pure=False, key=f"hepreco-item-{item.key}-{id(self)}")
                futures[fut] = item
                pending.add(fut)

        for _ in range(window):
            submit()
        try:
            for fut in pending:
                item = futures.pop(fut)
                submit()  # before the client records this one: the workers stay busy meanwhile
                try:
                    yield fut.result()
                except distributed.scheduler.KilledWorker as exc:
                    yield ItemFailure(item.index, item.first, item.last, self.max_retries + 1,
                                      f"worker died: {exc}")
        finally:
            for fut in futures:
                fut.cancel()

    @property
    def has_workers(self) -> bool:
        return self.client is not None

    def map_async(self, fn, args):
        args = list(args)
        if self.client is None:
            return super().map_async(fn, args)
        self._maps = getattr(self, "_maps", 0) + 1
        keys = [f"hepreco-map-{self._maps}-{i}-{id(self)}" for i in range(len(args))]
        futures = self.client.map(fn, args, pure=False, key=keys)
        return lambda: self.client.gather(futures)

    def close(self) -> None:
        from .job import finalize_processors

        finalize_processors()  # the job the client prepared for forking, if it did
        if self.client is None:
            return
        try:
            self.client.run(finalize_processors)
        except Exception:  # workers may be gone already
            pass
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


EXECUTORS = {"sequential": SequentialExecutor, "processes": ProcessExecutor, "dask": DaskExecutor}


def check_executor(name: str) -> None:
    """Refuse an executor whose optional packages are not installed (imports nothing)."""
    cls = EXECUTORS.get(name)
    if cls is not None:
        extras.require(*cls.requires, needed_by=f"the {name} executor")


def make_executor(name: str, workers: int = 1, max_retries: int = 2, scheduler: str = "",
                  threads: int = 1) -> Executor:
    try:
        cls = EXECUTORS[name]
    except KeyError:
        from .errors import UnknownNameError

        raise UnknownNameError("executor", name, list(EXECUTORS)) from None
    return cls(workers=workers, max_retries=max_retries, scheduler=scheduler, threads=threads)
