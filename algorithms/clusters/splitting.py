"""Splitting of topological clusters at local maxima (ATLAS ``CaloTopoClusterSplitter``).

:func:`split_clusters` takes the 4-2-0 clusters of a chunk
(:func:`~.topo.topo_cluster`) and splits every cluster that holds two or
more local energy maxima, the way ATLAS does it (Eur. Phys. J. C 77 (2017)
490, section 4.3; ``CaloTopoClusterSplitter::execute``).  The result is a
:class:`~.links.CellLinks` (cells with weights) in which clusters with fewer
than two maxima pass through unchanged.

Local maxima (per parent cluster)
---------------------------------
Layers play one of three roles: *primary* (default ``EMB2``, ``EMB3``, the
ATLAS ``SamplingNames`` of the barrel), *secondary* (default ``EMB1``,
``TileBar0``, ``TileBar1``, ``TileBar2``, the barrel part of ATLAS's
``SecondarySamplingNames``: the strip layer and the hadronic samplings), or
none (the presampler).  Only neighbours inside the same parent cluster
count.  With ``v(c) = E`` for cells of a primary or secondary layer with
``E > 0`` (``|E|`` with ``absolute=True``) and ``v(c) = 0`` otherwise:

* a primary cell ``c`` is a maximum if ``v(c) >= local_max_energy``
  (0.5 GeV), it has at least ``min_neighbours`` (4) neighbours in the parent
  cluster, and no neighbour in a primary layer has ``v >= v(c)``;
  neighbours in the other layers are counted but neither make nor prevent
  a maximum (ATLAS);
* a secondary cell is a maximum under the same conditions with every
  neighbour in a primary or secondary layer compared, and only if its
  eta-phi rectangle does not overlap (with non-zero area) the rectangle of
  any primary maximum of the event.  (ATLAS walks the neighbours in the
  previous and next samplings, which is the same for the aligned
  projective grids of hepreco geometries, and also vetoes secondary maxima
  found earlier in its cell loop; here only primary maxima veto.)

Regrowth
--------
A parent with at least two maxima is regrown from its maxima only, inside
its own cells and without thresholds: the maxima, sorted by decreasing
energy, are generation 0; each generation's cells (sorted by decreasing
energy) claim their unclaimed neighbours of the same parent for their split
cluster.  A cell claimed in the same generation by a second split cluster
becomes *shared* between the two (``share_border_cells``, ATLAS
``ShareBorderCells = True``): it leaves the growth list and is never reached
by a third cluster.  When growth stops, the cells of the parent still
unclaimed are grown from the shared cells, generation by generation, and
shared between the same two clusters.  Cells of the parent that nothing
reaches (possible only if ``cell_cluster`` was made with another neighbour
graph) form one more cluster per parent, as in ATLAS.

Shared-cell weights (ATLAS formula)
-----------------------------------
With ``E_1``, ``E_2`` the energies of the two split clusters (sum of their
unshared cells' energies; ``|E|`` with ``absolute``; values <= 0 replaced by
1 MeV) and ``d_1``, ``d_2`` the distances (mm) of the cell centre from the
clusters' centroids (``|E|``-weighted mean of their unshared cells' centres
in x, y, z)::

    r  = exp(clip((d_1 - d_2) / shower_scale, -10, 10))
    w1 = E_1 / (E_1 + r E_2),     w2 = 1 - w1

with ``shower_scale = 50 mm`` (ATLAS ``EMShowerScale``, the typical
distance over which an EM shower's energy density falls by 1/e).  Cluster 1
is the one that reached the cell first.

Output
------
Per event, clusters are numbered by decreasing energy ``sum(w E)``
(ATLAS sorts by transverse energy); ties keep parent order, then split
order.  ``CellLinks.parent`` gives every cluster's 4-2-0 parent.  Energy is
conserved per parent: the split clusters' ``sum(w E)`` add up to the
parent's energy.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from .._numba import jit
from .cells import cell_xyz, check_graph, dense_energy, layer_indices, per_cell
from .links import CellLinks, check_labels, cluster_offsets

__all__ = ["split_clusters", "PRIMARY_LAYERS", "SECONDARY_LAYERS"]

#: Default layers for local maxima (ATLAS barrel ``SamplingNames``).
PRIMARY_LAYERS = ("EMB2", "EMB3")
#: Default secondary layers (ATLAS barrel ``SecondarySamplingNames``).
SECONDARY_LAYERS = ("EMB1", "TileBar0", "TileBar1", "TileBar2")

_OVERLAP_TOL = 1e-6
_MIN_ENERGY = 1e-3  # GeV: floor of split-cluster energies in the weights (1 MeV)
_MAX_EXPONENT = 10.0


# --------------------------------------------------------------------------
# numba kernels
# --------------------------------------------------------------------------
@jit
def _max_value(e, role, absolute):
    if role == 0:
        return 0.0
    if absolute:
        return abs(np.float64(e))
    if e > 0.0:
        return np.float64(e)
    return 0.0


@jit
def _overlap(a, b, eta, phi, deta, dphi):
    """Whether the eta-phi rectangles of cells a and b overlap (non-zero area)."""
    tol_eta = _OVERLAP_TOL * min(deta[a], deta[b])
    if abs(eta[a] - eta[b]) >= 0.5 * (deta[a] + deta[b]) - tol_eta:
        return False
    dp = abs(phi[a] - phi[b]) % (2.0 * math.pi)
    if dp > math.pi:
        dp = 2.0 * math.pi - dp
    tol_phi = _OVERLAP_TOL * min(dphi[a], dphi[b])
    return dp < 0.5 * (dphi[a] + dphi[b]) - tol_phi


@jit
def _sort_by_energy(cells, n, energy, scratch):
    """Stable sort of cells[:n] by decreasing energy."""
    if n < 2:
        return
    for i in range(n):
        scratch[i] = -np.float64(energy[cells[i]])
    order = np.argsort(scratch[:n], kind="mergesort")
    tmp = cells[:n][order]
    cells[:n] = tmp


@jit
def _local_maxima(energy, label, members, role, eta, phi, deta, dphi, nb_offsets,
                  nb_index, threshold, min_neighbours, absolute):
    """Primary and secondary local maxima of one event (see module docstring)."""
    n_mem = members.shape[0]
    maxima = np.empty(n_mem, dtype=np.int64)
    n_max = 0
    for want in (1, 2):
        n_primary = n_max
        for i in range(n_mem):
            c = members[i]
            if role[c] != want:
                continue
            v = _max_value(energy[c], want, absolute)
            if not v >= threshold:
                continue
            p = label[c]
            count = 0
            ok = True
            for j in range(nb_offsets[c], nb_offsets[c + 1]):
                m = nb_index[j]
                if label[m] != p:
                    continue
                count += 1
                if role[m] == 1 or (want == 2 and role[m] == 2):
                    if _max_value(energy[m], role[m], absolute) >= v:
                        ok = False
            if not ok or count < min_neighbours:
                continue
            if want == 2:
                for k in range(n_primary):
                    if _overlap(c, maxima[k], eta, phi, deta, dphi):
                        ok = False
                        break
                if not ok:
                    continue
            maxima[n_max] = c
            n_max += 1
    return maxima[:n_max]


@jit
def _split_event(energy, label, n_parents, role, x, y, z, eta, phi, deta, dphi,
                 nb_offsets, nb_index, threshold, min_neighbours, share, scale,
                 absolute, out_cluster, out_cell, out_weight, out_parent):
    """Split the clusters of one event; returns (n_links, n_clusters)."""
    n = energy.shape[0]
    n_mem = 0
    for c in range(n):
        if label[c] >= 0:
            n_mem += 1
    members = np.empty(n_mem, dtype=np.int64)
    k = 0
    for c in range(n):
        if label[c] >= 0:
            members[k] = c
            k += 1

    maxima = _local_maxima(energy, label, members, role, eta, phi, deta, dphi,
                           nb_offsets, nb_index, threshold, min_neighbours, absolute)
    n_max_parent = np.zeros(n_parents, dtype=np.int64)
    for c in maxima:
        n_max_parent[label[c]] += 1
    split = n_max_parent >= 2
    n_seeds = 0
    for c in maxima:
        if split[label[c]]:
            n_seeds += 1
    seeds = np.empty(n_seeds, dtype=np.int64)
    k = 0
    for c in maxima:
        if split[label[c]]:
            seeds[k] = c
            k += 1

    # per-cell scratch; only entries of clustered cells are ever read
    slab = np.empty(n, dtype=np.int32)       # split cluster (first, for shared)
    second = np.empty(n, dtype=np.int32)     # second split cluster of shared cells
    gen = np.empty(n, dtype=np.int32)        # generation a cell was claimed in
    used = np.empty(n, dtype=np.bool_)
    shared = np.empty(n, dtype=np.bool_)
    w_first = np.empty(n)                    # weight of the first cluster
    for i in range(n_mem):
        c = members[i]
        slab[c] = -1
        second[c] = -1
        gen[c] = -1
        used[c] = False
        shared[c] = False

    n_shared = 0
    if n_seeds > 0:
        scratch = np.empty(n_mem)
        current = np.empty(n_mem, dtype=np.int64)
        upcoming = np.empty(n_mem, dtype=np.int64)
        shared_list = np.empty(n_mem, dtype=np.int64)
        _sort_by_energy(seeds, n_seeds, energy, scratch)
        current[:n_seeds] = seeds
        for k in range(n_seeds):
            c = seeds[k]
            slab[c] = k
            used[c] = True
            gen[c] = 0
        n_current = n_seeds
        g = 0
        while n_current > 0:
            n_upcoming = 0
            first_new = n_shared
            for i in range(n_current):
                c = current[i]
                mine = slab[c]
                p = label[c]
                for j in range(nb_offsets[c], nb_offsets[c + 1]):
                    m = nb_index[j]
                    if label[m] != p or shared[m]:
                        continue
                    if not used[m]:
                        used[m] = True
                        gen[m] = g + 1
                        slab[m] = mine
                        upcoming[n_upcoming] = m
                        n_upcoming += 1
                    elif share and slab[m] != mine and gen[m] == g + 1:
                        # reached in this generation by two clusters: shared
                        shared[m] = True
                        second[m] = mine
                        shared_list[n_shared] = m
                        n_shared += 1
            k = 0
            for i in range(n_upcoming):
                m = upcoming[i]
                if not shared[m]:
                    upcoming[k] = m
                    k += 1
            n_upcoming = k
            _sort_by_energy(upcoming, n_upcoming, energy, scratch)
            _sort_by_energy(shared_list[first_new:], n_shared - first_new, energy, scratch)
            current, upcoming = upcoming, current
            n_current = n_upcoming
            g += 1

        # unclaimed cells behind shared cells are shared by the same two clusters
        if share and n_shared > 0:
            current[:n_shared] = shared_list[:n_shared]
            n_current = n_shared
            while n_current > 0:
                n_upcoming = 0
                for i in range(n_current):
                    c = current[i]
                    p = label[c]
                    for j in range(nb_offsets[c], nb_offsets[c + 1]):
                        m = nb_index[j]
                        if label[m] != p or shared[m] or used[m]:
                            continue
                        used[m] = True
                        shared[m] = True
                        slab[m] = slab[c]
                        second[m] = second[c]
                        upcoming[n_upcoming] = m
                        n_upcoming += 1
                        shared_list[n_shared] = m
                        n_shared += 1
                _sort_by_energy(upcoming, n_upcoming, energy, scratch)
                current, upcoming = upcoming, current
                n_current = n_upcoming

        # shared-cell weights from the unshared energies and centroids
        se = np.zeros(n_seeds)
        sa = np.zeros(n_seeds)
        sx = np.zeros(n_seeds)
        sy = np.zeros(n_seeds)
        sz = np.zeros(n_seeds)
        for i in range(n_mem):
            c = members[i]
            if used[c] and not shared[c]:
                k = slab[c]
                e = np.float64(energy[c])
                a = abs(e)
                se[k] += e
                sa[k] += a
                sx[k] += a * x[c]
                sy[k] += a * y[c]
                sz[k] += a * z[c]
        for k in range(n_seeds):
            if sa[k] > 0.0:
                sx[k] /= sa[k]
                sy[k] /= sa[k]
                sz[k] /= sa[k]
        for i in range(n_shared):
            c = shared_list[i]
            k1 = slab[c]
            k2 = second[c]
            e1 = se[k1]
            e2 = se[k2]
            if absolute:
                e1 = abs(e1)
                e2 = abs(e2)
            if e1 <= 0.0:
                e1 = _MIN_ENERGY
            if e2 <= 0.0:
                e2 = _MIN_ENERGY
            d1 = math.sqrt((x[c] - sx[k1]) ** 2 + (y[c] - sy[k1]) ** 2 + (z[c] - sz[k1]) ** 2)
            d2 = math.sqrt((x[c] - sx[k2]) ** 2 + (y[c] - sy[k2]) ** 2 + (z[c] - sz[k2]) ** 2)
            t = (d1 - d2) / scale
            t = min(max(t, -_MAX_EXPONENT), _MAX_EXPONENT)
            w_first[c] = e1 / (e1 + e2 * math.exp(t))

    # output clusters ("protos"): [0, P) parents passed through, [P, P + S)
    # split clusters, [P + S, 2P + S) unreached rest of split parents
    n_proto = 2 * n_parents + n_seeds
    proto_e = np.zeros(n_proto)
    proto_n = np.zeros(n_proto, dtype=np.int64)
    proto_parent = np.empty(n_proto, dtype=np.int32)
    for p in range(n_parents):
        proto_parent[p] = p
        proto_parent[n_parents + n_seeds + p] = p
    for k in range(n_seeds):
        proto_parent[n_parents + k] = label[seeds[k]]
    for i in range(n_mem):
        c = members[i]
        p = label[c]
        e = np.float64(energy[c])
        if not split[p]:
            q = p
        elif not used[c]:
            q = n_parents + n_seeds + p
        elif not shared[c]:
            q = n_parents + slab[c]
        else:
            q = n_parents + slab[c]
            q2 = n_parents + second[c]
            proto_e[q] += w_first[c] * e
            proto_n[q] += 1
            proto_e[q2] += (1.0 - w_first[c]) * e
            proto_n[q2] += 1
            continue
        proto_e[q] += e
        proto_n[q] += 1
    n_out = 0
    for q in range(n_proto):
        if proto_n[q] > 0:
            n_out += 1
    valid = np.empty(n_out, dtype=np.int64)
    minus_e = np.empty(n_out)
    k = 0
    for q in range(n_proto):
        if proto_n[q] > 0:
            valid[k] = q
            minus_e[k] = -proto_e[q]
            k += 1
    order = np.argsort(minus_e, kind="mergesort")
    rank = np.full(n_proto, -1, dtype=np.int64)
    start = np.zeros(n_out + 1, dtype=np.int64)
    for r in range(n_out):
        q = valid[order[r]]
        rank[q] = r
        out_parent[r] = proto_parent[q]
        start[r + 1] = start[r] + proto_n[q]
    n_links = start[n_out]
    for i in range(n_mem):
        c = members[i]
        p = label[c]
        w = 1.0
        if not split[p]:
            q = p
        elif not used[c]:
            q = n_parents + n_seeds + p
        else:
            q = n_parents + slab[c]
            if shared[c]:
                w = w_first[c]
                r2 = rank[n_parents + second[c]]
                j = start[r2]
                start[r2] += 1
                out_cluster[j] = r2
                out_cell[j] = c
                out_weight[j] = 1.0 - w
        r = rank[q]
        j = start[r]
        start[r] += 1
        out_cluster[j] = r
        out_cell[j] = c
        out_weight[j] = w
    return n_links, n_out


@jit(parallel=True)
def _split_kernel(energy, labels, n_parents, role, x, y, z, eta, phi, deta, dphi,
                  nb_offsets, nb_index, threshold, min_neighbours, share, scale, absolute,
                  link_bound, cluster_bound, out_cluster, out_cell, out_weight,
                  out_parent, n_links, n_clusters):
    for e in numba.prange(energy.shape[0]):
        l0 = link_bound[e]
        l1 = link_bound[e + 1]
        c0 = cluster_bound[e]
        c1 = cluster_bound[e + 1]
        nl, nc = _split_event(energy[e], labels[e], n_parents[e], role, x, y, z, eta, phi,
                              deta, dphi, nb_offsets, nb_index, threshold, min_neighbours,
                              share, scale, absolute, out_cluster[l0:l1], out_cell[l0:l1],
                              out_weight[l0:l1], out_parent[c0:c1])
        n_links[e] = nl
        n_clusters[e] = nc


@jit
def _compact(src, src_offsets, dst, dst_offsets):
    """Copy the first len(dst slice) entries of every event's src slice."""
    for e in range(dst_offsets.shape[0] - 1):
        d0 = dst_offsets[e]
        s0 = src_offsets[e]
        for i in range(dst_offsets[e + 1] - d0):
            dst[d0 + i] = src[s0 + i]


# --------------------------------------------------------------------------
# public interface
# --------------------------------------------------------------------------
def split_clusters(energy, cell_cluster, n_clusters, geometry, nb_offsets=None,
                   nb_index=None, *, local_max_energy=0.5, min_neighbours=4,
                   primary_layers=PRIMARY_LAYERS, secondary_layers=SECONDARY_LAYERS,
                   share_border_cells=True, shower_scale=50.0, absolute=False):
    """Split the topological clusters of a chunk at their local maxima.

    Parameters
    ----------
    energy : array_like of float32, shape (n_events, n_cells)
        Cell energy, GeV (the array the clusters were made from).
    cell_cluster : array_like of int32, shape (n_events, n_cells)
        Parent cluster of every cell within its event, -1 if none
        (:func:`~.topo.topo_cluster`).
    n_clusters : array_like of int64, shape (n_events,)
        Number of parent clusters per event.
    geometry : Geometry
        Cell geometry; reads ``layer``, ``layer_names``, ``eta``, ``phi``,
        ``deta``, ``dphi``, ``r``, ``z`` (any object with these arrays).
    nb_offsets, nb_index : array_like of int64, optional
        CSR neighbour graph; default the geometry's own
        (``geometry.neighbour_offsets``, ``geometry.neighbour_index``).
        Use the graph the clusters were made with.
    local_max_energy : float, optional
        Minimum energy of a local maximum, GeV (ATLAS ``EnergyCut``, 500 MeV).
    min_neighbours : int, optional
        Minimum number of neighbours of a maximum inside its parent cluster
        (ATLAS ``NumberOfCellsCut``, 4).
    primary_layers, secondary_layers : sequence of str or int, optional
        Layers (names or indices) for primary and secondary maxima.
    share_border_cells : bool, optional
        Share the cells that two split clusters reach in the same generation
        (default, as ATLAS); otherwise such a cell goes to the first.
    shower_scale : float, optional
        Distance scale of the shared-cell weights, mm (ATLAS ``EMShowerScale``).
    absolute : bool, optional
        Use ``|E|`` for maxima and weights (ATLAS ``WeightingOfNegClusters``).

    Returns
    -------
    CellLinks
        The split clusters and the unsplit ones, with weights, per event by
        decreasing energy; ``parent`` maps them to the input clusters.

    See the module docstring for the algorithm and the weight formula.
    """
    func = "split_clusters"
    energy = dense_energy(energy, func)
    n_events, n_cells = energy.shape
    cell_cluster, n_clusters, counts = check_labels(cell_cluster, n_clusters, func)
    if cell_cluster.shape != energy.shape:
        raise ValueError(f"{func}: cell_cluster has shape {cell_cluster.shape} but energy "
                         f"has {energy.shape}")
    if geometry.n_cells != n_cells:
        raise ValueError(f"{func}: the geometry has {geometry.n_cells} cells but energy "
                         f"has {n_cells} columns")
    if nb_offsets is None and nb_index is None:
        nb_offsets, nb_index = geometry.neighbour_offsets, geometry.neighbour_index
    elif nb_offsets is None or nb_index is None:
        raise ValueError(f"{func}: give both nb_offsets and nb_index, or neither")
    nb_offsets, nb_index = check_graph(nb_offsets, nb_index, n_cells, func)
    if not local_max_energy > 0:
        raise ValueError(f"{func}: local_max_energy must be > 0 GeV, got "
                         f"{local_max_energy!r}")
    if not shower_scale > 0:
        raise ValueError(f"{func}: shower_scale must be > 0 mm, got {shower_scale!r}")
    if int(min_neighbours) != min_neighbours or min_neighbours < 0:
        raise ValueError(f"{func}: min_neighbours must be a non-negative integer, got "
                         f"{min_neighbours!r}")
    primary = layer_indices(geometry, primary_layers, func)
    secondary = layer_indices(geometry, secondary_layers, func)
    both = np.intersect1d(primary, secondary)
    if both.size:
        raise ValueError(f"{func}: layers {[geometry.layer_names[i] for i in both]} are "
                         "both primary and secondary")
    layer_role = np.zeros(geometry.n_layers, dtype=np.int8)
    layer_role[primary] = 1
    layer_role[secondary] = 2
    layer = per_cell("layer", geometry.layer, n_cells, np.int64)
    role = np.ascontiguousarray(layer_role[layer])
    x, y, z = cell_xyz(geometry)
    eta = per_cell("eta", geometry.eta, n_cells, np.float64)
    phi = per_cell("phi", geometry.phi, n_cells, np.float64)
    deta = per_cell("deta", geometry.deta, n_cells, np.float64)
    dphi = per_cell("dphi", geometry.dphi, n_cells, np.float64)

    link_bound = cluster_offsets(2 * counts)
    cluster_bound = cluster_offsets(counts)
    tmp_cluster = np.empty(link_bound[-1], dtype=np.int32)
    tmp_cell = np.empty(link_bound[-1], dtype=np.int64)
    tmp_weight = np.empty(link_bound[-1], dtype=np.float64)
    tmp_parent = np.empty(cluster_bound[-1], dtype=np.int32)
    n_links = np.zeros(n_events, dtype=np.int64)
    n_out = np.zeros(n_events, dtype=np.int64)
    if n_events and counts.sum():
        _split_kernel(energy, cell_cluster, n_clusters, role, x, y, z, eta, phi, deta, dphi,
                      nb_offsets, nb_index, float(local_max_energy), int(min_neighbours),
                      bool(share_border_cells), float(shower_scale), bool(absolute),
                      link_bound, cluster_bound, tmp_cluster, tmp_cell, tmp_weight,
                      tmp_parent, n_links, n_out)
    offsets = cluster_offsets(n_links)
    out_offsets = cluster_offsets(n_out)
    cluster = np.empty(offsets[-1], dtype=np.int32)
    cell = np.empty(offsets[-1], dtype=np.int64)
    weight = np.empty(offsets[-1], dtype=np.float64)
    parent = np.empty(out_offsets[-1], dtype=np.int32)
    if n_events:
        _compact(tmp_cluster, link_bound, cluster, offsets)
        _compact(tmp_cell, link_bound, cell, offsets)
        _compact(tmp_weight, link_bound, weight, offsets)
        _compact(tmp_parent, cluster_bound, parent, out_offsets)
    return CellLinks(cluster, cell, weight, offsets, n_out, parent)
