"""The Level-1 EM/tau algorithm on trigger towers (counts).

For every 2 x 2 core of towers (see :mod:`.windows` for positions and the
local-maximum rule) inside a 4 x 4 window (the core and a ring of 12 towers
around it):

==============  =====================================================================
quantity        definition (tower counts)
==============  =====================================================================
``core``        EM + hadronic E_T of the 2 x 2 core: the sum that must be a local maximum
``em``          EM cluster: the largest of the four 2 x 1 / 1 x 2 pairs of EM towers in the core
``tau``         tau cluster: ``em`` + ``had_core``
``em_isol``     EM isolation: EM E_T of the 12-tower ring
``had_core``    hadronic E_T of the 2 x 2 core (behind the EM cluster)
``had_isol``    hadronic E_T of the 12-tower ring
==============  =====================================================================

An object is kept where the core is a local maximum and ``em`` or ``tau``
reaches ``min_counts``.  Its region of interest is the centre of the core
(a tower corner).  Towers outside the grid in eta count as 0 in the ring.
"""
from __future__ import annotations

import numba
import numpy as np

from .._numba import jit
from .windows import local_maxima, pad_cores, set_core_row, window_sum

#: Fields of the flat EM/tau arrays returned by :func:`em_tau`, in order (all int64).
FIELDS = ("ieta", "iphi", "core", "em", "tau", "em_isol", "had_core", "had_isol")


@jit
def _em_cluster(em, i, j):
    n_j = em.shape[1]
    j1 = (j + 1) % n_j
    a = np.int64(em[i, j])
    b = np.int64(em[i + 1, j])
    c = np.int64(em[i, j1])
    d = np.int64(em[i + 1, j1])
    return max(max(a + b, c + d), max(a + c, b + d))


@jit
def _candidates(em, had, min_counts, mask):
    """Mark the objects of one event in ``mask[n_eta - 1, n_phi]``; return how many."""
    n_i = em.shape[0] - 1
    n_j = em.shape[1]
    roi = np.empty((n_i + 2, n_j + 2), dtype=np.int64)  # EM + hadronic core sums, padded (see .windows)
    column = np.empty(n_j + 1, dtype=np.int64)  # sums over the core's two eta rows, phi wrapped at the end
    for i in range(n_i):
        for j in range(n_j):
            column[j] = np.int64(em[i, j]) + em[i + 1, j] + had[i, j] + had[i + 1, j]
        set_core_row(roi, i, column)
    pad_cores(roi)
    # the EM cluster and the tau cluster lie inside the core, so a core below the threshold holds no object:
    # only maxima of at least min_counts are candidates (exact; most pile-up cores end here)
    local_maxima(roi, min_counts, mask)
    n = 0
    for i in range(n_i):
        for j in range(n_j):
            if mask[i, j] == 0:
                continue
            j1 = j + 1 if j + 1 < n_j else 0
            e = _em_cluster(em, i, j)
            hc = np.int64(had[i, j]) + had[i + 1, j] + had[i, j1] + had[i + 1, j1]
            if e >= min_counts or e + hc >= min_counts:
                n += 1
            else:
                mask[i, j] = 0
    return n


@jit(parallel=True)
def em_tau(towers, min_counts):
    """EM/tau objects of every event.

    Parameters
    ----------
    towers : int32 [n_events, 2, n_eta, n_phi]
        Tower counts (:func:`.towers.tower_counts`), EM then hadronic.
    min_counts : int
        Keep objects whose EM or tau cluster has at least this many counts.

    Returns
    -------
    offsets : int64[n_events + 1]
    values : int64[len(FIELDS), offsets[-1]]
        One row per field of :data:`FIELDS`; objects of an event in
        (eta, phi) order of their core.
    """
    n_events, _, n_eta, n_phi = towers.shape
    n_i = max(n_eta - 1, 0)
    mask = np.zeros((n_events, n_i, n_phi), dtype=np.uint8)
    counts = np.zeros(n_events, dtype=np.int64)
    for ev in numba.prange(n_events):
        counts[ev] = _candidates(towers[ev, 0], towers[ev, 1], min_counts, mask[ev])
    offsets = np.zeros(n_events + 1, dtype=np.int64)
    for ev in range(n_events):
        offsets[ev + 1] = offsets[ev] + counts[ev]
    values = np.zeros((8, offsets[n_events]), dtype=np.int64)
    for ev in numba.prange(n_events):
        em = towers[ev, 0]
        had = towers[ev, 1]
        k = offsets[ev]
        for i in range(n_i):
            for j in range(n_phi):
                if mask[ev, i, j] == 0:
                    continue
                e = _em_cluster(em, i, j)
                j1 = (j + 1) % n_phi
                em_core = np.int64(em[i, j]) + em[i + 1, j] + em[i, j1] + em[i + 1, j1]
                hc = np.int64(had[i, j]) + had[i + 1, j] + had[i, j1] + had[i + 1, j1]
                values[0, k] = i
                values[1, k] = j
                values[2, k] = em_core + hc
                values[3, k] = e
                values[4, k] = e + hc
                values[5, k] = window_sum(em, i, j, -1, 2) - em_core
                values[6, k] = hc
                values[7, k] = window_sum(had, i, j, -1, 2) - hc
                k += 1
    return offsets, values
