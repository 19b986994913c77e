"""Pile-up overlay kernels: arrays in, arrays out.

The minimum-bias library is flat particle columns plus ``offsets``
(``int64[n_library + 1]``), one entry per minimum-bias interaction.  For event
``e`` the overlay draws, from ``seeds[e]`` alone (stream :data:`STREAM`):

1. ``n = Poisson(mu)`` in-time pile-up interactions;
2. for ``k = 1 .. n``, a library interaction ``floor(U * n_library)``
   (uniform, with replacement: an interaction may be drawn twice, in one
   event or in several).

The output of an event is its hard-scatter particles (``pileup`` index 0),
then the particles of its first, second, ... pile-up interaction (index
``k``).  The draws of an event depend on its seed only, never on the chunk,
the other events or the number of threads.
"""
from __future__ import annotations

import numba
import numpy as np

from .. import _random as rnd
from .._numba import jit

__all__ = ["COLUMNS", "DTYPES", "STREAM", "overlay", "pack"]

#: Stream id mixed into the event seeds by :func:`overlay`.
STREAM = 0x50494C455550  # "PILEUP"

#: The particle columns the overlay carries (hard scatter and library alike).
COLUMNS = ("pdg_id", "charge", "px", "py", "pz", "E")
#: dtypes of the overlaid columns (those of the generator's truth particles)
DTYPES = {"pdg_id": np.int32, "charge": np.float32, "px": np.float64, "py": np.float64, "pz": np.float64,
          "E": np.float64}


@jit
def _draw_index(state, n_library):
    i = np.int64(rnd.uniform(state) * n_library)
    return min(i, n_library - 1)


@jit
def _count(seeds, mu, hs_offsets, lib_offsets, n_pileup, sizes):
    """Per event: the number of interactions drawn and the number of output particles."""
    n_library = lib_offsets.shape[0] - 1
    for e in range(seeds.shape[0]):
        state = rnd.new_state(seeds[e], STREAM)
        n = rnd.poisson(state, mu) if n_library > 0 else 0
        size = hs_offsets[e + 1] - hs_offsets[e]
        for _ in range(n):
            i = _draw_index(state, n_library)
            size += lib_offsets[i + 1] - lib_offsets[i]
        n_pileup[e] = n
        sizes[e] = size


@jit(parallel=True)
def _fill(seeds, mu, hs_offsets, lib_offsets, out_offsets, hs_pdg, hs_charge, hs_p, lib_pdg, lib_charge, lib_p,
          out_pdg, out_charge, out_p, out_pileup, out_index, index_offsets):
    n_library = lib_offsets.shape[0] - 1
    for e in numba.prange(seeds.shape[0]):
        state = rnd.new_state(seeds[e], STREAM)
        n = rnd.poisson(state, mu) if n_library > 0 else 0
        o = out_offsets[e]
        for j in range(hs_offsets[e], hs_offsets[e + 1]):
            out_pdg[o] = hs_pdg[j]
            out_charge[o] = hs_charge[j]
            for c in range(4):
                out_p[c, o] = hs_p[c, j]
            out_pileup[o] = 0
            o += 1
        for k in range(n):
            i = _draw_index(state, n_library)
            out_index[index_offsets[e] + k] = i
            for j in range(lib_offsets[i], lib_offsets[i + 1]):
                out_pdg[o] = lib_pdg[j]
                out_charge[o] = lib_charge[j]
                for c in range(4):
                    out_p[c, o] = lib_p[c, j]
                out_pileup[o] = k + 1
                o += 1


def pack(columns):
    """``(pdg_id int32, charge float32, momenta float64[4, n])`` of particle columns, as the kernels take them."""
    p4 = np.empty((4, len(columns["px"])), dtype=np.float64)
    for c, name in enumerate(("px", "py", "pz", "E")):
        p4[c] = columns[name]
    return (np.ascontiguousarray(columns["pdg_id"], dtype=np.int32),
            np.ascontiguousarray(columns["charge"], dtype=np.float32), p4)


def overlay(hs, hs_offsets, library, library_offsets, seeds, mu):
    """Add ``Poisson(mu)`` library interactions to the particles of every event.

    Parameters
    ----------
    hs : dict of arrays
        Hard-scatter particle columns :data:`COLUMNS` (flat over the events):
        pdg_id, charge (e), px, py, pz, E (GeV).
    hs_offsets : int64 array, shape (n_events + 1,)
        Per-event offsets into ``hs``.
    library : dict of arrays, or tuple
        The minimum-bias library's particle columns :data:`COLUMNS`, or
        :func:`pack` of them (pack a library once, not per chunk).
    library_offsets : int64 array, shape (n_library + 1,)
        Offsets of the library's interactions.
    seeds : uint64 array, shape (n_events,)
        One seed per event.
    mu : float
        Mean number of pile-up interactions per event (>= 0).

    Returns
    -------
    columns : dict
        Flat columns :data:`COLUMNS` of the combined particles (dtypes
        :data:`DTYPES`) and ``pileup`` (int32): 0 for the hard scatter, ``k``
        for the ``k``-th pile-up interaction of the event.
    offsets : int64 array, shape (n_events + 1,)
    n_pileup : int32 array, shape (n_events,)
        Interactions overlaid on each event.
    drawn : int64 array
        The library interaction of each overlaid interaction, flat over the
        events (``n_pileup`` per event, in order ``k = 1, 2, ...``).
    """
    if not mu >= 0:
        raise ValueError(f"overlay: mu must be >= 0, got {mu!r}")
    seeds = np.ascontiguousarray(seeds, dtype=np.uint64)
    hs_offsets = np.ascontiguousarray(hs_offsets, dtype=np.int64)
    library_offsets = np.ascontiguousarray(library_offsets, dtype=np.int64)
    n_events = seeds.shape[0]
    if hs_offsets.shape != (n_events + 1,):
        raise ValueError(f"overlay: hs_offsets must have shape ({n_events + 1},), got {hs_offsets.shape}")
    if mu > 0 and len(library_offsets) < 2:
        raise ValueError("overlay: the minimum-bias library is empty")
    n_pileup = np.zeros(n_events, dtype=np.int32)
    sizes = np.zeros(n_events, dtype=np.int64)
    _count(seeds, float(mu), hs_offsets, library_offsets, n_pileup, sizes)
    offsets = np.zeros(n_events + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    index_offsets = np.zeros(n_events + 1, dtype=np.int64)
    np.cumsum(n_pileup, out=index_offsets[1:])
    total = int(offsets[-1])

    out_p = np.empty((4, total), dtype=np.float64)
    out_pdg = np.empty(total, dtype=np.int32)
    out_charge = np.empty(total, dtype=np.float32)
    out_pileup = np.empty(total, dtype=np.int32)
    drawn = np.empty(int(index_offsets[-1]), dtype=np.int64)
    hs_pdg, hs_charge, hs_p = pack(hs)
    lib_pdg, lib_charge, lib_p = library if isinstance(library, tuple) else pack(library)
    _fill(seeds, float(mu), hs_offsets, library_offsets, offsets, hs_pdg, hs_charge, hs_p, lib_pdg, lib_charge,
          lib_p, out_pdg, out_charge, out_p, out_pileup, drawn, index_offsets)
    columns = {"pdg_id": out_pdg, "charge": out_charge, "px": out_p[0], "py": out_p[1], "pz": out_p[2],
               "E": out_p[3], "pileup": out_pileup}
    return columns, offsets, n_pileup, drawn
