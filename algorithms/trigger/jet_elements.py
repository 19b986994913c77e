"""Level-1 jets and energy sums from jet elements.

A *jet element* is 2 x 2 towers (0.2 x 0.2 with 0.1 towers), EM plus
hadronic counts, saturating at ``max_count``.  Jets are sliding 4 x 4
windows of jet elements (0.8 x 0.8) whose central 2 x 2 core (0.4 x 0.4) is a
local maximum (:mod:`.windows`, same rule and ties as EM/tau); the jet's E_T
is the window sum and its region of interest the centre of the core.

Energy sums use every jet element: ``ex = -sum(c * cos(phi))``,
``ey = -sum(c * sin(phi))`` at the element centres, missing E_T
``met = floor(hypot(ex, ey))`` and total ``sum_et = sum(c)``, all in counts.
(HT, the scalar sum of L1 jets above a threshold, is summed from the jets by
the algorithm.)
"""
from __future__ import annotations

import math

import numba
import numpy as np

from .._numba import jit
from .windows import local_maxima, pad_cores, set_core_row, window_sum

#: Fields of the flat jet arrays returned by :func:`jets`, in order (all int64).
FIELDS = ("ieta", "iphi", "core", "et")


@jit(parallel=True)
def jet_elements(towers, max_count):
    """Jet elements ``int32[n_events, n_eta // 2, n_phi // 2]`` from towers (EM + hadronic, 2 x 2)."""
    n_events, _, n_eta, n_phi = towers.shape
    n_i = n_eta // 2
    n_j = n_phi // 2
    out = np.empty((n_events, n_i, n_j), dtype=np.int32)
    for ev in numba.prange(n_events):
        for i in range(n_i):
            for j in range(n_j):
                s = np.int64(0)
                for k in range(2):
                    s += (np.int64(towers[ev, k, 2 * i, 2 * j]) + towers[ev, k, 2 * i + 1, 2 * j]
                          + towers[ev, k, 2 * i, 2 * j + 1] + towers[ev, k, 2 * i + 1, 2 * j + 1])
                out[ev, i, j] = min(s, max_count)
    return out


@jit(parallel=True)
def jets(elements, min_counts):
    """Jets of every event from jet elements.

    Returns
    -------
    offsets : int64[n_events + 1]
    values : int64[len(FIELDS), offsets[-1]]
        ``ieta, iphi`` of the core's lower-left element, the core sum and
        the 4 x 4 window E_T (counts); jets with ``et >= min_counts``.
    """
    n_events, n_eta, n_phi = elements.shape
    n_i = max(n_eta - 1, 0)
    mask = np.zeros((n_events, n_i, n_phi), dtype=np.uint8)
    counts = np.zeros(n_events, dtype=np.int64)
    for ev in numba.prange(n_events):
        grid = elements[ev]
        padded = np.empty((n_i + 2, n_phi + 2), dtype=np.int64)  # core sums, padded (see .windows)
        column = np.empty(n_phi + 1, dtype=np.int64)
        for i in range(n_i):
            for j in range(n_phi):
                column[j] = np.int64(grid[i, j]) + grid[i + 1, j]
            set_core_row(padded, i, column)
        pad_cores(padded)
        local_maxima(padded, 1, mask[ev])
        n = 0
        for i in range(n_i):  # the few local maxima: is the whole window above the threshold?
            for j in range(n_phi):
                if mask[ev, i, j]:
                    if window_sum(grid, i, j, -1, 2) >= min_counts:
                        n += 1
                    else:
                        mask[ev, i, j] = 0
        counts[ev] = n
    offsets = np.zeros(n_events + 1, dtype=np.int64)
    for ev in range(n_events):
        offsets[ev + 1] = offsets[ev] + counts[ev]
    values = np.zeros((4, offsets[n_events]), dtype=np.int64)
    for ev in numba.prange(n_events):
        grid = elements[ev]
        k = offsets[ev]
        for i in range(n_i):
            for j in range(n_phi):
                if mask[ev, i, j]:
                    values[0, k] = i
                    values[1, k] = j
                    values[2, k] = window_sum(grid, i, j, 0, 1)
                    values[3, k] = window_sum(grid, i, j, -1, 2)
                    k += 1
    return offsets, values


@jit(parallel=True)
def energy_sums(elements, phi_centres):
    """Missing and total E_T from jet elements.

    Parameters
    ----------
    elements : int32 [n_events, n_eta, n_phi]
    phi_centres : float64 [n_phi]
        Azimuth of the element centres, radians.

    Returns
    -------
    float64 [n_events, 4]
        ``ex, ey`` (counts, float), ``met = floor(hypot(ex, ey))`` and
        ``sum_et`` (counts).
    """
    n_events, n_i, n_j = elements.shape
    cos_phi = np.cos(phi_centres)
    sin_phi = np.sin(phi_centres)
    out = np.zeros((n_events, 4))
    for ev in numba.prange(n_events):
        ex = 0.0
        ey = 0.0
        total = np.int64(0)
        for j in range(n_j):
            column = np.int64(0)
            for i in range(n_i):
                column += elements[ev, i, j]
            ex -= column * cos_phi[j]
            ey -= column * sin_phi[j]
            total += column
        out[ev, 0] = ex
        out[ev, 1] = ey
        out[ev, 2] = math.floor(math.hypot(ex, ey) + 1e-9)
        out[ev, 3] = total
    return out
