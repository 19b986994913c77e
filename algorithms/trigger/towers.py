"""Level-1 trigger towers: cells summed into an eta x phi grid, quantised like trigger electronics.

A *trigger tower* is a cell of a regular grid in pseudorapidity and azimuth
(0.1 x 0.1 by default: 50 x 64 towers on the ``atlas-like`` geometry), with
one electromagnetic and one hadronic layer: every cell of an ``em`` layer
adds its transverse energy to the EM tower, every cell of a ``had`` layer to
the hadronic tower.

Cell to tower
-------------
A cell belongs to the tower that contains its centre; its transverse energy
is ``E / cosh(eta_cell)``.  On the shipped geometries every cell lies inside
one tower (cells are at most 0.1 x 0.1 and their edges fall on tower edges);
a coarser cell (the ``small`` geometry's 16-fold presampler in phi) goes
whole into the tower of its centre.  Cells outside the tower grid in eta are
not summed.

The map is built once per (geometry, tower grid) by :func:`tower_map` and
cached.  It is stored by *rows*: a row is the run of cells of one layer at
one eta index (consecutive cell ids, all phi indices), which share the
weight ``1/cosh(eta)`` and the tower eta index; consecutive rows with the same
tower eta index form a *group*.  The kernel sums the rows of a group into a
buffer over the layer's phi cells (contiguous, vectorised multiply-adds), then
adds the buffer into the towers.  Where a layer's phi cells fall ``f`` at a
time, in order, into the towers (``f`` = 1 or 4 on the shipped geometries:
the map's ``group_ratio``), the ``f`` cells of a tower are added together
first and the tower row is then updated in one contiguous pass; other layers
go through the layer's phi map cell by cell (adding several cells into one
tower one after the other waits on each store, which made the scatter a third
of the kernel's time).  It reads each cell once and nothing else per cell, so
it runs close to memory bandwidth.

Quantisation
------------
A tower's E_T becomes an integer count of ``lsb`` GeV by truncation,
``counts = floor(E_T / lsb)`` (negative sums, from noise, give 0); counts
below ``noise_cut`` (in counts) are set to 0, and counts above ``max_count``
saturate at ``max_count`` (``255``, 8 bits, by default: 127.5 GeV at
0.5 GeV).  Transverse energies are summed in float64 in a fixed order, so a
tower's count does not depend on the chunk or the thread.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from .._numba import jit

#: Index of the EM and hadronic layer of the tower array ``(event, layer, eta, phi)``.
EM, HAD = 0, 1


@dataclass(frozen=True)
class TowerMap:
    """Cell-to-tower map of one geometry and tower grid (read-only arrays).

    Attributes
    ----------
    n_eta, n_phi : int
        Towers in eta and phi.
    eta_min, deta, phi_min, dphi : float
        Lower edge and size of the grid (phi in radians).
    group_rows : int64[n_groups + 1]
        Rows of group ``g`` are ``group_rows[g]:group_rows[g + 1]``.
    group_kind, group_eta : int64[n_groups]
        0 (EM) or 1 (hadronic), and the tower eta index of the group.
    group_phimap, group_nphi : int64[n_groups]
        Offset of the layer's phi map in :attr:`phimap`, and its number of phi cells.
    row_first : int64[n_rows]
        First cell id of each row.
    row_weight : float64[n_rows]
        ``1 / cosh(eta)`` of the row's cells.
    phimap : int64[...]
        Tower phi index of each phi cell, layer after layer.
    group_ratio : int64[n_groups]
        ``f`` > 0 where the group's phi cell ``p`` lies in tower ``p // f`` (all of them, in order);
        0 where the phi map must be followed cell by cell.
    """

    n_eta: int
    n_phi: int
    eta_min: float
    deta: float
    phi_min: float
    dphi: float
    group_rows: np.ndarray
    group_kind: np.ndarray
    group_eta: np.ndarray
    group_phimap: np.ndarray
    group_nphi: np.ndarray
    row_first: np.ndarray
    row_weight: np.ndarray
    phimap: np.ndarray
    group_ratio: np.ndarray

    def tables(self):
        """The arrays :func:`tower_counts` takes after the cells."""
        return (self.group_rows, self.group_kind, self.group_eta, self.group_phimap, self.group_nphi,
                self.row_first, self.row_weight, self.phimap, self.group_ratio)

    def eta_centre(self, ieta):
        """Eta of the centre of tower row ``ieta`` (any array of indices)."""
        return self.eta_min + (np.asarray(ieta) + 0.5) * self.deta

    def phi_centre(self, iphi):
        """Phi of the centre of tower column ``iphi``, in [-pi, pi)."""
        return _wrap(self.phi_min + (np.asarray(iphi) + 0.5) * self.dphi)

    def cell_tower(self, n_cells: int):
        """``(kind, ieta, iphi, weight)`` of each of ``n_cells`` cells (-1 and 0 outside the grid), for references."""
        kind = np.full(n_cells, -1, dtype=np.int64)
        ieta = np.full(n_cells, -1, dtype=np.int64)
        iphi = np.full(n_cells, -1, dtype=np.int64)
        weight = np.zeros(n_cells)
        for g in range(len(self.group_kind)):
            n = int(self.group_nphi[g])
            pm = self.phimap[self.group_phimap[g]:self.group_phimap[g] + n]
            for r in range(self.group_rows[g], self.group_rows[g + 1]):
                cells = slice(int(self.row_first[r]), int(self.row_first[r]) + n)
                kind[cells], ieta[cells], iphi[cells] = self.group_kind[g], self.group_eta[g], pm
                weight[cells] = self.row_weight[r]
        return kind, ieta, iphi, weight


def _wrap(phi):
    return (np.asarray(phi) + math.pi) % (2.0 * math.pi) - math.pi


_CACHE: dict = {}


def tower_map(geometry, deta: float = 0.1, n_phi: int = 64) -> TowerMap:
    """The cell-to-tower map of ``geometry`` for towers of ``deta`` x ``2 pi / n_phi``.

    The grid spans the geometry's eta range (its edges rounded outwards to
    whole towers) and starts in phi at the geometry's ``phi_min``.  Cached per
    (geometry sha256, deta, n_phi).

    Raises
    ------
    ValueError
        If ``deta`` or ``n_phi`` is not positive.
    """
    if deta <= 0 or n_phi <= 0:
        raise ValueError(f"tower grid needs deta > 0 and n_phi > 0, got deta={deta}, n_phi={n_phi}")
    key = (geometry.source_sha256, geometry.n_cells, float(deta), int(n_phi))
    if key in _CACHE:
        return _CACHE[key]
    lo = float(geometry.layer_eta_min.min())
    hi = float(geometry.layer_eta_max.max())
    start = math.floor(lo / deta + 1e-9)
    stop = math.ceil(hi / deta - 1e-9)
    eta_min, n_eta = start * deta, stop - start
    phi_min = float(geometry.layer_phi_min[0])
    dphi = 2.0 * math.pi / n_phi

    group_rows, group_kind, group_eta, group_phimap, group_nphi, group_ratio = [0], [], [], [], [], []
    row_first, row_weight, phimap = [], [], []
    for layer in range(geometry.n_layers):
        n_phi_cells = int(geometry.layer_n_phi[layer])
        phi_c = geometry.layer_phi_min[layer] + (np.arange(n_phi_cells) + 0.5) * geometry.layer_dphi[layer]
        pm = np.floor((phi_c - phi_min) / dphi + 1e-9).astype(np.int64) % n_phi
        ratio = n_phi_cells // n_phi if n_phi_cells % n_phi == 0 else 0
        if ratio and not np.array_equal(pm, np.arange(n_phi_cells) // ratio):
            ratio = 0
        pm_offset = len(phimap)
        phimap.extend(pm.tolist())
        previous = None
        for ie in range(int(geometry.layer_n_eta[layer])):
            eta_c = geometry.layer_eta_min[layer] + (ie + 0.5) * geometry.layer_deta[layer]
            te = math.floor((eta_c - eta_min) / deta)
            if te < 0 or te >= n_eta:
                continue
            if te != previous:
                if previous is not None:
                    group_rows.append(len(row_first))
                group_kind.append(int(geometry.layer_kind[layer]))
                group_eta.append(te)
                group_phimap.append(pm_offset)
                group_nphi.append(n_phi_cells)
                group_ratio.append(ratio)
                previous = te
            row_first.append(int(geometry.layer_offsets[layer]) + ie * n_phi_cells)
            row_weight.append(1.0 / math.cosh(eta_c))
        if previous is not None:
            group_rows.append(len(row_first))

    def ro(values, dtype):
        a = np.asarray(values, dtype=dtype)
        a.setflags(write=False)
        return a

    result = TowerMap(n_eta, n_phi, eta_min, float(deta), phi_min, dphi,
                      ro(group_rows, np.int64), ro(group_kind, np.int64), ro(group_eta, np.int64),
                      ro(group_phimap, np.int64), ro(group_nphi, np.int64), ro(row_first, np.int64),
                      ro(row_weight, np.float64), ro(phimap, np.int64), ro(group_ratio, np.int64))
    _CACHE[key] = result
    return result


@jit
def _quantise_towers(et, lsb, noise_cut, max_count, out):
    """Counts of every tower of one event (module docstring), without branches: the loop vectorises."""
    flat_et = et.reshape(-1)
    flat_out = out.reshape(-1)
    low = float(max(noise_cut, 1))
    top = float(max_count)
    inverse = 1.0 / lsb
    if inverse * lsb == 1.0 and math.frexp(lsb)[0] == 0.5:  # a power of two: multiplying is exact and twice as fast
        for t in range(flat_et.shape[0]):
            c = math.floor(flat_et[t] * inverse)
            flat_out[t] = np.int32(min(c if c >= low else 0.0, top))
    else:
        for t in range(flat_et.shape[0]):
            c = math.floor(flat_et[t] / lsb)
            flat_out[t] = np.int32(min(c if c >= low else 0.0, top))


@jit(parallel=True)
def tower_counts(cells, group_rows, group_kind, group_eta, group_phimap, group_nphi, row_first, row_weight,
                 phimap, group_ratio, n_eta, n_phi, lsb, noise_cut, max_count):
    """Quantised trigger-tower E_T of every event.

    Parameters
    ----------
    cells : float32 or float64 [n_events, n_cells]
        Cell energies, GeV.
    group_rows ... group_ratio
        :meth:`TowerMap.tables`.
    n_eta, n_phi : int
        Tower grid.
    lsb : float
        GeV per count.
    noise_cut, max_count : int
        Counts below ``noise_cut`` are 0; counts saturate at ``max_count``.

    Returns
    -------
    int32 [n_events, 2, n_eta, n_phi]
        Counts of EM (index 0) and hadronic (index 1) towers.
    """
    n_events = cells.shape[0]
    out = np.empty((n_events, 2, n_eta, n_phi), dtype=np.int32)
    max_cells = 0
    for g in range(group_nphi.shape[0]):
        max_cells = max(max_cells, group_nphi[g])
    for ev in numba.prange(n_events):
        et = np.zeros((2, n_eta, n_phi))
        buffer = np.empty(max_cells)
        row = cells[ev]
        for g in range(group_kind.shape[0]):
            n = group_nphi[g]
            b = buffer[:n]
            r = group_rows[g]
            end = group_rows[g + 1]
            w = row_weight[r]
            source = row[row_first[r]:row_first[r] + n]  # indexed from 0 by p: no negative-index check,
            for p in range(n):                            # so the loops vectorise
                b[p] = w * source[p]
            r += 1
            while r + 1 < end:  # two rows per pass: half the buffer loads and stores
                w1 = row_weight[r]
                w2 = row_weight[r + 1]
                s1 = row[row_first[r]:row_first[r] + n]
                s2 = row[row_first[r + 1]:row_first[r + 1] + n]
                for p in range(n):
                    b[p] += w1 * s1[p] + w2 * s2[p]
                r += 2
            if r < end:
                w = row_weight[r]
                source = row[row_first[r]:row_first[r] + n]
                for p in range(n):
                    b[p] += w * source[p]
            target = et[group_kind[g], group_eta[g]]
            f = group_ratio[g]
            if f == 1:
                for t in range(n_phi):
                    target[t] += b[t]
            elif f == 4:
                for t in range(n_phi):
                    target[t] += (b[4 * t] + b[4 * t + 1]) + (b[4 * t + 2] + b[4 * t + 3])
            elif f > 1:
                for t in range(n_phi):
                    s = b[t * f]
                    for q in range(1, f):
                        s += b[t * f + q]
                    target[t] += s
            else:
                pm = group_phimap[g]
                for p in range(n):
                    target[phimap[pm + p]] += b[p]
        _quantise_towers(et, lsb, noise_cut, max_count, out[ev])
    return out
