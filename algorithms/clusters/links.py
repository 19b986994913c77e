"""Weighted cell-to-cluster links: the common output of clustering and splitting.

A cluster owns cells with weights (ATLAS ``CaloClusterCellLink``): 1 for an
ordinary cell, ``w`` and ``1 - w`` for a cell shared by two split clusters.
:class:`CellLinks` stores the links of a whole chunk as flat arrays with
per-event offsets, one ``(cluster, cell, weight)`` triple per link.
:func:`topo_links` turns the dense output of
:func:`~.topo.topo_cluster` into this form, so that 4-2-0 clusters and split
clusters (:func:`~.splitting.split_clusters`) look the same downstream.
"""
from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from .._numba import jit

__all__ = ["CellLinks", "topo_links", "cluster_offsets"]


class CellLinks(NamedTuple):
    """Weighted cell links of the clusters of a chunk, flat with offsets.

    The links of event ``i`` are the slice ``offsets[i]:offsets[i + 1]`` of
    ``cluster``, ``cell`` and ``weight``; within an event they are sorted by
    cluster, then by cell.  Clusters are numbered within their event
    ``0 .. n_clusters[i] - 1`` in order of decreasing energy
    (``sum(weight * E)``, GeV).  Every cluster has at least one link.

    Attributes
    ----------
    cluster : int32[n_links]
        Cluster index within the event.
    cell : int64[n_links]
        Cell index (column of the dense energy array).
    weight : float64[n_links]
        Fraction of the cell's energy given to the cluster, in (0, 1]; the
        weights of one cell sum to 1.
    offsets : int64[n_events + 1]
        Per-event offsets into the link arrays.
    n_clusters : int64[n_events]
        Number of clusters of each event.
    parent : int32[sum(n_clusters)]
        For every cluster (flat, see :meth:`cluster_offsets`), the index
        within its event of the 4-2-0 cluster it was made from (itself for
        clusters that were not split).
    """

    cluster: np.ndarray
    cell: np.ndarray
    weight: np.ndarray
    offsets: np.ndarray
    n_clusters: np.ndarray
    parent: np.ndarray

    @property
    def n_events(self):
        """Number of events."""
        return self.n_clusters.shape[0]

    def cluster_offsets(self):
        """``int64[n_events + 1]``: per-event offsets of the flat cluster arrays."""
        return cluster_offsets(self.n_clusters)

    def event(self, i):
        """``(cluster, cell, weight)`` of event ``i`` (views)."""
        s = slice(int(self.offsets[i]), int(self.offsets[i + 1]))
        return self.cluster[s], self.cell[s], self.weight[s]


def cluster_offsets(n_clusters):
    """Offsets ``[0, n0, n0 + n1, ...]`` of flat per-cluster arrays (int64)."""
    n_clusters = np.asarray(n_clusters, dtype=np.int64)
    out = np.zeros(n_clusters.shape[0] + 1, dtype=np.int64)
    np.cumsum(n_clusters, out=out[1:])
    return out


# --------------------------------------------------------------------------
# numba kernels
# --------------------------------------------------------------------------
@jit(parallel=True)
def _count_clustered(cell_cluster, counts, max_label):
    """Clustered cells and the largest cluster index of every event."""
    for e in numba.prange(cell_cluster.shape[0]):
        row = cell_cluster[e]
        k = 0
        top = -1
        for c in range(row.shape[0]):
            lab = row[c]
            if lab >= 0:
                k += 1
                if lab > top:
                    top = lab
        counts[e] = k
        max_label[e] = top


@jit(parallel=True)
def _topo_links_kernel(cell_cluster, n_clusters, offsets, cluster, cell, weight):
    for e in numba.prange(cell_cluster.shape[0]):
        row = cell_cluster[e]
        nc = n_clusters[e]
        start = np.zeros(nc + 1, dtype=np.int64)
        for c in range(row.shape[0]):
            if row[c] >= 0:
                start[row[c] + 1] += 1
        for k in range(nc):
            start[k + 1] += start[k]
        base = offsets[e]
        for c in range(row.shape[0]):
            lab = row[c]
            if lab >= 0:
                j = base + start[lab]
                start[lab] += 1
                cluster[j] = lab
                cell[j] = c
                weight[j] = 1.0


def check_labels(cell_cluster, n_clusters, func):
    """Validate dense cluster labels; return them with per-event counts."""
    cell_cluster = np.asarray(cell_cluster)
    if cell_cluster.ndim != 2:
        raise ValueError(f"{func}: cell_cluster must be a dense (n_events, n_cells) "
                         f"array, got shape {cell_cluster.shape}")
    cell_cluster = np.ascontiguousarray(cell_cluster, dtype=np.int32)
    n_events = cell_cluster.shape[0]
    n_clusters = np.ascontiguousarray(n_clusters, dtype=np.int64)
    if n_clusters.shape != (n_events,):
        raise ValueError(f"{func}: n_clusters must have shape ({n_events},), got "
                         f"{n_clusters.shape}")
    counts = np.empty(n_events, dtype=np.int64)
    max_label = np.empty(n_events, dtype=np.int64)
    _count_clustered(cell_cluster, counts, max_label)
    bad = np.flatnonzero(max_label >= n_clusters)
    if bad.size:
        e = int(bad[0])
        raise ValueError(f"{func}: event {e} has a cell in cluster {max_label[e]} but "
                         f"n_clusters is {n_clusters[e]}")
    return cell_cluster, n_clusters, counts


def topo_links(cell_cluster, n_clusters):
    """The :class:`CellLinks` of dense 4-2-0 labels (every weight 1).

    Parameters
    ----------
    cell_cluster : array_like of int32, shape (n_events, n_cells)
        Cluster index of every cell within its event, -1 if none
        (:func:`~.topo.topo_cluster`).
    n_clusters : array_like of int64, shape (n_events,)
        Number of clusters per event.

    Returns
    -------
    CellLinks
        One link per clustered cell, weight 1; ``parent`` is each cluster's
        own index.  Cluster numbering is kept as given (so it is by
        decreasing energy for :func:`~.topo.topo_cluster` output).
    """
    cell_cluster, n_clusters, counts = check_labels(cell_cluster, n_clusters,
                                                    "topo_links")
    offsets = cluster_offsets(counts)
    n_links = int(offsets[-1])
    cluster = np.empty(n_links, dtype=np.int32)
    cell = np.empty(n_links, dtype=np.int64)
    weight = np.empty(n_links, dtype=np.float64)
    if n_links:
        _topo_links_kernel(cell_cluster, n_clusters, offsets, cluster, cell, weight)
    starts = cluster_offsets(n_clusters)
    parent = (np.arange(starts[-1], dtype=np.int64)
              - np.repeat(starts[:-1], n_clusters)).astype(np.int32)
    return CellLinks(cluster, cell, weight, offsets, n_clusters, parent)
