"""Counter-based random streams: results independent of chunking and workers.

Every (global seed, run, event, component) tuple maps to a 64-bit seed via
splitmix64 mixing; numpy's counter-based Philox generator, or a kernel's own
generator, starts from it.  Two components never share a stream, and an
event's numbers do not depend on which chunk or worker processed it.
"""
from __future__ import annotations

import hashlib

import numpy as np

from . import Service

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S27 = np.uint64(27)
_S30 = np.uint64(30)
_S31 = np.uint64(31)


def splitmix64_mix(z):
    """The splitmix64 finaliser on uint64 values, wrapping modulo 2**64.

    Operators only, so that the same function serves numpy arrays (through
    :func:`splitmix64`) and, compiled by numba in
    :mod:`hepreco.algorithms._random`, the kernels' scalar seeding: the
    mixing is written once, here.
    """
    z = z + GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def splitmix64(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser applied element-wise to a uint64 array."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return splitmix64_mix(z)


def name_key(name: str) -> np.uint64:
    """A stable 64-bit key for a component name (not Python's salted ``hash``)."""
    return np.uint64(int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little"))


def event_seeds(seed: int, runs: np.ndarray, events: np.ndarray, component: str) -> np.ndarray:
    """One uint64 seed per event for ``component``."""
    base = splitmix64(np.uint64(seed & 0xFFFFFFFFFFFFFFFF) ^ name_key(component))
    h = splitmix64(base ^ np.asarray(runs, dtype=np.int64).astype(np.uint64))
    return splitmix64(h ^ np.asarray(events, dtype=np.int64).astype(np.uint64))


class RandomSvc(Service):
    """Per-event random streams derived from the job's global seed (``job.seed``)."""

    def __init__(self, name: str | None = None, seed: int = 12345, **values):
        super().__init__(name, **values)
        self.seed = int(seed)

    def seeds(self, event_ids: np.ndarray, component: str) -> np.ndarray:
        """uint64 seeds, one per event of ``event_ids``, for ``component``."""
        return event_seeds(self.seed, event_ids["run"], event_ids["event"], component)

    def generators(self, event_ids: np.ndarray, component: str) -> list[np.random.Generator]:
        """A numpy Generator (Philox, counter-based) per event."""
        return [np.random.Generator(np.random.Philox(key=int(s))) for s in self.seeds(event_ids, component)]

    def generator(self, run: int, event: int, component: str) -> np.random.Generator:
        """The Generator of one event."""
        s = event_seeds(self.seed, np.array([run]), np.array([event]), component)[0]
        return np.random.Generator(np.random.Philox(key=int(s)))
