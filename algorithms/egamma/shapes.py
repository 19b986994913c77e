"""ATLAS electron/photon shower shapes of clusters, mapped onto a hepreco cell geometry.

The shapes use four layers, given by index: the *strip* layer (finest eta
granularity, ATLAS EMB1), the *middle* layer (where EM showers deposit most,
ATLAS EMB2), the *back* layer (ATLAS EMB3) and the first *hadronic* layer
(ATLAS Tile 0 / HEC 0).  Windows are centred as in :mod:`.windows`: on the
cell of that layer containing the cluster barycentre (eta, phi).  Cell
energies are the dense, calibrated cells (noise included, no noise cut);
widths use only cells (strips) with positive energy, so noise cannot make a
variance negative.  A ratio whose denominator is not positive is 0.

=========  ===================================================================  ======
shape      definition here                                                      unit
=========  ===================================================================  ======
R_had      E in ``had_window`` (h x w) cells of the hadronic layer / cluster E  --
           (the E_T ratio: both are at the cluster's eta)
R_eta      E(3 x 7) / E(7 x 7) cells of the middle layer (eta x phi)            --
R_phi      E(3 x 3) / E(3 x 7) cells of the middle layer                        --
w_eta2     sqrt(<eta^2> - <eta>^2), energy weighted, over 3 x 5 middle cells    eta
f1         cluster E in the strip layer / cluster E in strip + middle + back    --
f3         cluster E in the back layer / the same                               --
w_stot     sqrt(sum E_i (i - i_max)^2 / sum E_i) over the ``wstot_strips``      strips
           strips around the hottest strip i_max
E_ratio    (E_1 - E_2) / (E_1 + E_2), E_1 >= E_2 the two highest local maxima   --
           of the strip profile (1 with one maximum, 0 with none)
=========  ===================================================================  ======

The strip profile is the energy per strip (eta index) summed over
``strip_phi`` phi cells, in a window of ``strip_window`` strips around the
barycentre, with the strips below ``strip_threshold`` set to 0 (the strips
carry a few per cent of a shower's energy in this geometry, so unsuppressed
noise would make spurious maxima and dominate the width); a local maximum is
a strip above 0, above its left neighbour and not below its right one (the
window's two end strips are never maxima).
"""
from __future__ import annotations

import math

import numba
import numpy as np

from .._numba import jit
from .windows import fill_window

__all__ = ["SHAPE_NAMES", "shower_shapes", "strip_shapes", "middle_shapes"]

#: Names of the shower shapes, in the order of :func:`shower_shapes`.
SHAPE_NAMES = ("R_had", "R_eta", "R_phi", "w_eta2", "f1", "f3", "w_stot", "E_ratio")

_MIDDLE = 7  # the middle-layer window: 7 x 7 cells, ATLAS's largest


@jit
def _ratio(num, den):
    return num / den if den > 0.0 else 0.0


@jit
def middle_shapes(window, eta_first, deta):
    """(R_eta, R_phi, w_eta2) of a 7 x 7 (eta x phi) middle-layer window.

    ``eta_first`` is the eta of the window's first row centre, ``deta`` the
    cell size in eta.
    """
    e77 = 0.0
    e37 = 0.0
    e33 = 0.0
    for a in range(_MIDDLE):
        for b in range(_MIDDLE):
            e = window[a, b]
            e77 += e
            if 2 <= a <= 4:
                e37 += e
                if 2 <= b <= 4:
                    e33 += e
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    for a in range(2, 5):
        x = (a - 3) * deta  # relative to the central row: the variance does not change, the rounding does
        for b in range(1, 6):
            e = window[a, b]
            if e > 0.0:
                s0 += e
                s1 += e * x
                s2 += e * x * x
    w = 0.0
    if s0 > 0.0:
        w = math.sqrt(max(s2 / s0 - (s1 / s0) ** 2, 0.0))
    return _ratio(e37, e77), _ratio(e33, e37), w


@jit
def strip_shapes(profile, wstot_half):
    """(w_stot, E_ratio) of a strip profile (energy per strip, GeV).

    ``w_stot`` over the strips within ``wstot_half`` of the hottest strip,
    in strip units; ``E_ratio`` from the two highest local maxima.
    """
    n = profile.shape[0]
    if n == 0:
        return 0.0, 0.0
    i_max = 0
    for i in range(1, n):
        if profile[i] > profile[i_max]:
            i_max = i
    s0 = 0.0
    s2 = 0.0
    for i in range(max(i_max - wstot_half, 0), min(i_max + wstot_half + 1, n)):
        e = profile[i]
        if e > 0.0:
            s0 += e
            s2 += e * (i - i_max) ** 2
    w = math.sqrt(s2 / s0) if s0 > 0.0 else 0.0
    e1 = 0.0
    e2 = 0.0
    for i in range(1, n - 1):
        e = profile[i]
        if e > 0.0 and e > profile[i - 1] and e >= profile[i + 1]:
            if e > e1:
                e2 = e1
                e1 = e
            elif e > e2:
                e2 = e
    return w, _ratio(e1 - e2, e1 + e2)


@jit(parallel=True)
def _shapes_kernel(cells, event, eta, phi, strip, middle, had, strip_window, strip_phi, wstot_half, threshold,
                   had_h, had_w, out, layer_offsets, n_eta, n_phi, eta_min, deta, phi_min, dphi):
    for k in numba.prange(event.shape[0]):
        row = cells[event[k]]
        mid = np.empty((_MIDDLE, _MIDDLE))
        i0 = fill_window(row, middle, eta[k], phi[k], mid, layer_offsets, n_eta, n_phi, eta_min, deta, phi_min,
                         dphi)
        r_eta, r_phi, w_eta2 = middle_shapes(mid, eta_min[middle] + (i0 + 0.5) * deta[middle], deta[middle])
        strips = np.empty((strip_window, strip_phi))
        fill_window(row, strip, eta[k], phi[k], strips, layer_offsets, n_eta, n_phi, eta_min, deta, phi_min, dphi)
        profile = np.zeros(strip_window)
        for a in range(strip_window):
            for b in range(strip_phi):
                profile[a] += strips[a, b]
            if profile[a] < threshold:
                profile[a] = 0.0
        w_stot, e_ratio = strip_shapes(profile, wstot_half)
        hw = np.empty((had_h, had_w))
        fill_window(row, had, eta[k], phi[k], hw, layer_offsets, n_eta, n_phi, eta_min, deta, phi_min, dphi)
        out[k, 0] = hw.sum()
        out[k, 1] = r_eta
        out[k, 2] = r_phi
        out[k, 3] = w_eta2
        out[k, 4] = w_stot
        out[k, 5] = e_ratio


def shower_shapes(cells, event, eta, phi, energy, layer_energy, geometry, strip, middle, back, had,
                  strip_window=41, strip_phi=2, wstot_strips=21, strip_threshold=0.1, had_window=(3, 3)):
    """The shower shapes of candidate clusters (see the module docstring for the definitions).

    Parameters
    ----------
    cells : numpy.ndarray, float, shape (n_events, n_cells)
        Dense calibrated cell energies, GeV.
    event : array_like of int, shape (n,)
        Row of ``cells`` of each candidate.
    eta, phi : array_like of float, shape (n,)
        Cluster barycentres, phi in radians.
    energy : array_like of float, shape (n,)
        Cluster energies, GeV.
    layer_energy : array_like of float, shape (n, n_layers)
        Cluster energy per layer, GeV.
    geometry : Geometry
    strip, middle, back, had : int
        Layer indices of the strip, middle, back EM and first hadronic layers.
    strip_window : int
        Strips (eta) of the profile in which w_stot and E_ratio are found.
    strip_phi : int
        Phi cells of the strip layer summed into the profile.
    wstot_strips : int
        Odd number of strips, centred on the hottest, over which w_stot runs.
    strip_threshold : float
        Strips of the profile with less energy count as empty, GeV.
    had_window : (int, int)
        Cells (eta x phi) of the hadronic layer summed for R_had.

    Returns
    -------
    dict
        ``{name: float32[n]}`` for the names of :data:`SHAPE_NAMES`.
    """
    if strip_window < 3 or strip_phi < 1 or wstot_strips < 1 or wstot_strips % 2 == 0:
        raise ValueError(f"shower_shapes: need strip_window >= 3, strip_phi >= 1 and an odd wstot_strips, got "
                         f"{strip_window}, {strip_phi}, {wstot_strips}")
    for layer, w in ((middle, _MIDDLE), (strip, strip_phi), (had, had_window[1])):
        if w > geometry.layer_n_phi[layer]:
            raise ValueError(f"shower_shapes: a window {w} cells wide in phi exceeds the "
                             f"{geometry.layer_n_phi[layer]} phi cells of layer {geometry.layer_names[layer]!r}")
    event = np.ascontiguousarray(event, dtype=np.int64)
    n = event.shape[0]
    raw = np.zeros((n, 6))
    if n:
        _shapes_kernel(np.ascontiguousarray(cells, dtype=np.float32), event,
                       np.ascontiguousarray(eta, dtype=np.float64), np.ascontiguousarray(phi, dtype=np.float64),
                       np.int64(strip), np.int64(middle), np.int64(had), np.int64(strip_window),
                       np.int64(strip_phi), np.int64(wstot_strips // 2), float(strip_threshold), np.int64(had_window[0]),
                       np.int64(had_window[1]), raw, *geometry.layer_tables())
    energy = np.asarray(energy, dtype=np.float64)
    layer_energy = np.asarray(layer_energy, dtype=np.float64).reshape(n, geometry.n_layers)
    accordion = layer_energy[:, strip] + layer_energy[:, middle] + layer_energy[:, back]
    with np.errstate(divide="ignore", invalid="ignore"):
        def ratio(num, den):
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)

        shapes = {"R_had": ratio(raw[:, 0], energy), "R_eta": raw[:, 1], "R_phi": raw[:, 2], "w_eta2": raw[:, 3],
                  "f1": ratio(layer_energy[:, strip], accordion), "f3": ratio(layer_energy[:, back], accordion),
                  "w_stot": raw[:, 4], "E_ratio": raw[:, 5]}
    return {name: np.asarray(shapes[name], dtype=np.float32) for name in SHAPE_NAMES}
