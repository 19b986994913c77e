"""Latent noise from the per-event random streams: counter-based, vectorised, independent of chunking.

Event ``i`` with seed ``seeds[i]`` (from ``RandomSvc``: global seed, run,
event, component) gets the uniforms ``u_k = splitmix64(seed ^ splitmix64(STREAM + k))``
for counters ``k = 0, 1, ...`` and normals from pairs of them (Box-Muller),
so an event's latent vector depends on its seed alone, never on the events
around it.
"""
from __future__ import annotations

import numpy as np

from hepreco.framework.services.random import splitmix64

#: stream id mixed into the counters ("CALOGAN")
STREAM = 0x43414C4F47414E
_INV53 = 1.0 / 9007199254740992.0


def latent_normals(seeds: np.ndarray, n: int) -> np.ndarray:
    """Standard normal draws, float32 (events, n), from one uint64 seed per event."""
    seeds = np.asarray(seeds, dtype=np.uint64)
    pairs = (n + 1) // 2
    counters = splitmix64(np.uint64(STREAM) + np.arange(2 * pairs, dtype=np.uint64))
    bits = splitmix64(seeds[:, None] ^ counters[None, :])
    u = ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * _INV53  # open interval (0, 1)
    radius = np.sqrt(-2.0 * np.log(u[:, 0::2]))
    angle = 2.0 * np.pi * u[:, 1::2]
    out = np.empty((len(seeds), 2 * pairs))
    out[:, 0::2] = radius * np.cos(angle)
    out[:, 1::2] = radius * np.sin(angle)
    return out[:, :n].astype(np.float32)
