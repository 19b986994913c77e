"""ATLAS-style topological clustering (4-2-0) of dense calorimeter cells.

:func:`topo_cluster` groups the cells of every event of a chunk into
topological clusters with the algorithm of ATLAS ``CaloTopoClusterMaker``
(Aad et al., Eur. Phys. J. C 77 (2017) 490, section 4).  One call handles
all events of a chunk (a parallel loop over events); an event's clusters
depend only on its own cells.

Algorithm (per event)
---------------------
The significance of a cell is ``S = |E| / sigma`` (``E / sigma`` with
``absolute=False``); it is 0 for cells whose noise is not a positive finite
number, whose energy is not finite, or which are flagged dead, so that such
cells never seed, grow or join a cluster.

1. Seeds are the cells with ``S > seed_sigma``, sorted by decreasing
   ``S`` (ties by increasing cell index).  Each seed opens a proto-cluster.
2. Growth proceeds in generations (breadth first).  Generation 0 is the seed
   list; generation ``g + 1`` lists, in the order they were found, the
   growing cells (``S > grow_sigma``) first reached while processing
   generation ``g``, whose cells are processed in list order.  For a cell of
   proto-cluster A and each of its neighbours (in neighbour-graph order) with
   ``S > cell_sigma`` or ``S > grow_sigma``:

   * a neighbour in no cluster joins A (growing or perimeter cell alike);
   * a *growing* neighbour already in another proto-cluster B merges A and B;
   * a *perimeter* neighbour (``cell_sigma < S <= grow_sigma``)
     already in another proto-cluster stays there: a perimeter cell belongs
     to the first cluster that reached it;
   * a growing neighbour not yet queued is appended to generation ``g + 1``.

   This is ``CaloTopoClusterMaker::execute`` step by step (its
   ``mySeedCells`` / ``myNextCells`` lists), with the cell lists of the seed
   order inherited generation by generation.  Merging is a union of cell
   sets, so which proto-cluster "keeps" the other has no effect on the
   result.
3. Clusters are numbered within each event by **decreasing energy** (sum of
   the cell energies, GeV); clusters of equal energy are ordered by their
   most significant seed.

Differences from ATLAS
----------------------
* ATLAS sorts the final clusters by transverse energy and applies an
  optional cluster Et cut; here clusters are sorted by energy and none is
  dropped.
* Bad cells get ``S = 0`` here (never clustered with ``cell_sigma >= 0``);
  ATLAS gives them a tiny positive ratio so that they can be perimeter cells.
  Dead cells are zeroed by the cell builder anyway.
* No per-sampling seed restriction, no Et thresholds, no "two-Gaussian"
  noise, no restricted neighbours for the presampler.
* One ``absolute`` flag applies to the seed, growth and perimeter cuts
  (ATLAS has one flag per cut; its 4-2-0 configuration uses ``|E|`` for
  all three).
"""
from __future__ import annotations

import math

import numba
import numpy as np

from .._numba import jit
from .cells import check_graph, dense_energy, effective_noise

__all__ = ["topo_cluster", "cell_significance"]


# --------------------------------------------------------------------------
# numba kernels
# --------------------------------------------------------------------------
@jit
def _significance_row(energy, noise, absolute, out):
    """Significance of every cell of one event (see the module docstring)."""
    for c in range(energy.shape[0]):
        sigma = np.float64(noise[c])
        e = np.float64(energy[c])
        s = 0.0
        if sigma > 0.0 and math.isfinite(sigma) and math.isfinite(e):
            s = e / sigma
            if absolute:
                s = abs(s)
        out[c] = s


@jit
def _find(parent, k):
    """Root of ``k`` in the union-find forest ``parent`` (path halving)."""
    while parent[k] != k:
        parent[k] = parent[parent[k]]
        k = parent[k]
    return k


@jit
def _topo_event(energy, noise, nb_offsets, nb_index, seed_sigma, grow_sigma, cell_sigma,
                absolute, label):
    """4-2-0 clustering of one event; writes ``label`` and returns the count."""
    n = energy.shape[0]
    sig = np.empty(n)
    _significance_row(energy, noise, absolute, sig)
    n_seeds = 0
    for c in range(n):
        label[c] = -1
        if sig[c] > seed_sigma:
            n_seeds += 1
    if n_seeds == 0:
        return 0
    seeds = np.empty(n_seeds, dtype=np.int64)
    minus_s = np.empty(n_seeds)
    k = 0
    for c in range(n):
        if sig[c] > seed_sigma:
            seeds[k] = c
            minus_s[k] = -sig[c]
            k += 1
    seeds = seeds[np.argsort(minus_s, kind="mergesort")]

    # proto-cluster k starts as seed k; label[c] holds a proto-cluster id
    # until the end, the union-find forest `parent` records the merges and
    # every root is the most significant seed of its merged cluster
    parent = np.arange(n_seeds)
    used = np.zeros(n, dtype=np.bool_)
    current = np.empty(n, dtype=np.int64)
    upcoming = np.empty(n, dtype=np.int64)
    members = np.empty(n, dtype=np.int64)
    n_members = 0
    for k in range(n_seeds):
        c = seeds[k]
        label[c] = k
        used[c] = True
        current[k] = c
        members[n_members] = c
        n_members += 1
    n_current = n_seeds
    while n_current > 0:
        n_upcoming = 0
        for i in range(n_current):
            c = current[i]
            rc = _find(parent, label[c])
            for j in range(nb_offsets[c], nb_offsets[c + 1]):
                m = nb_index[j]
                s = sig[m]
                grow = s > grow_sigma
                if not grow and not s > cell_sigma:
                    continue
                if grow and not used[m]:
                    used[m] = True
                    upcoming[n_upcoming] = m
                    n_upcoming += 1
                lm = label[m]
                if lm < 0:
                    label[m] = rc
                    members[n_members] = m
                    n_members += 1
                elif grow:
                    rm = _find(parent, lm)
                    if rm != rc:
                        if rm < rc:
                            parent[rc] = rm
                            rc = rm
                        else:
                            parent[rm] = rc
        current, upcoming = upcoming, current
        n_current = n_upcoming

    # final numbering: by decreasing energy, ties by the most significant seed
    cluster_e = np.zeros(n_seeds)
    for i in range(n_members):
        c = members[i]
        r = _find(parent, label[c])
        label[c] = r
        cluster_e[r] += energy[c]
    n_clusters = 0
    for k in range(n_seeds):
        if parent[k] == k:
            n_clusters += 1
    roots = np.empty(n_clusters, dtype=np.int64)
    minus_e = np.empty(n_clusters)
    i = 0
    for k in range(n_seeds):
        if parent[k] == k:
            roots[i] = k
            minus_e[i] = -cluster_e[k]
            i += 1
    order = np.argsort(minus_e, kind="mergesort")
    rank = np.empty(n_seeds, dtype=np.int32)
    for i in range(n_clusters):
        rank[roots[order[i]]] = i
    for i in range(n_members):
        c = members[i]
        label[c] = rank[label[c]]
    return n_clusters


@jit(parallel=True)
def _topo_kernel(energy, noise, nb_offsets, nb_index, seed_sigma, grow_sigma, cell_sigma,
                 absolute, cell_cluster, n_clusters):
    for e in numba.prange(energy.shape[0]):
        n_clusters[e] = _topo_event(energy[e], noise, nb_offsets, nb_index, seed_sigma,
                                    grow_sigma, cell_sigma, absolute, cell_cluster[e])


@jit(parallel=True)
def _significance_kernel(energy, noise, absolute, out):
    for e in numba.prange(energy.shape[0]):
        _significance_row(energy[e], noise, absolute, out[e])


# --------------------------------------------------------------------------
# public interface
# --------------------------------------------------------------------------
def cell_significance(energy, noise, absolute=True, dead_mask=None):
    """Cell significance ``|E| / sigma`` as :func:`topo_cluster` sees it.

    Parameters
    ----------
    energy : array_like of float32, shape (n_events, n_cells)
        Cell energy, GeV.
    noise : array_like of float32, shape (n_cells,)
        Noise sigma per cell, GeV.
    absolute : bool, optional
        ``|E| / sigma`` (default) or the signed ``E / sigma``.
    dead_mask : array_like of bool, shape (n_cells,), optional
        Cells to treat as bad.

    Returns
    -------
    numpy.ndarray
        ``float64[n_events, n_cells]``; 0 for bad cells (noise not positive
        and finite, energy not finite, dead).
    """
    func = "cell_significance"
    energy = dense_energy(energy, func)
    noise = effective_noise(noise, energy.shape[1], dead_mask, func)
    out = np.empty(energy.shape, dtype=np.float64)
    _significance_kernel(energy, noise, bool(absolute), out)
    return out


def topo_cluster(energy, noise, nb_offsets, nb_index, seed_sigma=4.0,
                 grow_sigma=2.0, cell_sigma=0.0, absolute=True, dead_mask=None):
    """Topological clusters (ATLAS 4-2-0) of every event of a chunk.

    Parameters
    ----------
    energy : array_like of float32, shape (n_events, n_cells)
        Cell energy, GeV.
    noise : array_like of float32, shape (n_cells,)
        Noise sigma per cell, GeV (e.g. ``make_conditions(...)["cell_noise"]``).
        Cells with ``noise <= 0`` (or not finite) never take part.
    nb_offsets, nb_index : array_like of int64
        Symmetric CSR neighbour graph (``Geometry.neighbours(mode)``): the
        neighbours of cell ``c`` are ``nb_index[nb_offsets[c]:nb_offsets[c+1]]``.
    seed_sigma, grow_sigma, cell_sigma : float, optional
        Seed, growth and perimeter thresholds in units of sigma (4, 2, 0);
        a cell passes a threshold when its significance is strictly above
        it.  Must satisfy ``seed >= grow >= cell >= 0``.
    absolute : bool, optional
        Cut on ``|E| / sigma`` (default, as ATLAS 4-2-0) or on ``E / sigma``.
    dead_mask : array_like of bool, shape (n_cells,), optional
        Cells to ignore (treated as significance 0).

    Returns
    -------
    cell_cluster : numpy.ndarray
        ``int32[n_events, n_cells]``: index of the cell's cluster within its
        event, -1 for cells in no cluster.  Cluster 0 of an event has the
        largest energy (sum of its cell energies); indices follow decreasing
        cluster energy.
    n_clusters : numpy.ndarray
        ``int64[n_events]``: number of clusters of each event.

    See the module docstring for the algorithm and how it relates to ATLAS.
    """
    func = "topo_cluster"
    energy = dense_energy(energy, func)
    n_events, n_cells = energy.shape
    noise = effective_noise(noise, n_cells, dead_mask, func)
    nb_offsets, nb_index = check_graph(nb_offsets, nb_index, n_cells, func)
    thresholds = float(seed_sigma), float(grow_sigma), float(cell_sigma)
    if not (thresholds[0] >= thresholds[1] >= thresholds[2] >= 0.0):
        raise ValueError(f"{func}: thresholds must satisfy seed >= grow >= cell >= 0 "
                         f"(e.g. 4, 2, 0), got seed={seed_sigma!r}, "
                         f"grow={grow_sigma!r}, cell={cell_sigma!r}")
    cell_cluster = np.empty((n_events, n_cells), dtype=np.int32)
    n_clusters = np.zeros(n_events, dtype=np.int64)
    if n_events and n_cells:
        _topo_kernel(energy, noise, nb_offsets, nb_index, *thresholds,
                     bool(absolute), cell_cluster, n_clusters)
    else:
        cell_cluster.fill(-1)
    return cell_cluster, n_clusters
