"""Train/validation/test split of events: a pure function of (run, event), so no event is in two splits."""
from __future__ import annotations

import numpy as np

TRAIN, VALIDATION, TEST = 0, 1, 2
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(x):
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def split_of(run, event, fractions=(0.8, 0.1, 0.1)):
    """0 (train), 1 (validation) or 2 (test) per event, from a hash of (run, event), in the given fractions."""
    with np.errstate(over="ignore"):
        h = _mix(np.asarray(event, np.int64).astype(np.uint64) ^ _mix(np.asarray(run, np.int64).astype(np.uint64)))
    u = (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    edges = np.cumsum(fractions)[:-1] / np.sum(fractions)
    return np.searchsorted(edges, u, side="right").astype(np.int8)
