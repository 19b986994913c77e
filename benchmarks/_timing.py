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
