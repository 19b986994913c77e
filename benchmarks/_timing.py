"""Timing helper shared by the benchmark scripts (each runs as ``python benchmarks/<script>.py``)."""
from __future__ import annotations

import time


def best(fn, repeat: int) -> float:
    """The shortest wall time of ``repeat`` calls of ``fn()`` [s]."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def best_alternating(fns, repeat: int) -> list[float]:
    """The shortest wall time of each of ``fns`` over ``repeat`` rounds, each round calling every one once, in
    turn [s]: a drift of the machine's speed during the measurement affects them alike."""
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, out in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return [min(t) for t in times]
