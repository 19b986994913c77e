"""Cell windows: the cells of one layer in a fixed eta x phi window around a direction.

A window of ``h x w`` cells (rows eta, columns phi, both increasing) of
layer ``l`` around the point (eta, phi) starts at eta index
``floor(u - h / 2 + 1/2)`` and phi index ``floor(v - w / 2 + 1/2)``, with
``u = (eta - eta_min) / deta`` and ``v = (phi - phi_min) / dphi`` the
point's position in cell units: for an odd size the cell containing the
point is the central pixel; for an even size the window is the one whose
centre is nearest to the point.  Phi wraps around; rows outside the layer's
eta range are zero.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from .._numba import jit

__all__ = ["cell_windows", "window_origin"]


@jit
def window_origin(u, size):
    """First index of a ``size``-cell window around position ``u`` (in cell units)."""
    return np.int64(math.floor(u - 0.5 * size + 0.5))


@jit
def fill_window(row, layer, eta, phi, out, layer_offsets, n_eta, n_phi, eta_min, deta, phi_min, dphi):
    """Copy the ``out.shape`` window of ``layer`` around (eta, phi) from the dense cells ``row``.

    Returns the eta index of the window's first row (the window's cells have
    centres ``eta_min + (i0 + a + 1/2) deta``); pixels outside the layer's
    eta range, and every pixel for a non-finite direction, are zero.
    """
    h = out.shape[0]
    w = out.shape[1]
    out[:, :] = 0.0
    u = (eta - eta_min[layer]) / deta[layer]
    v = (phi - phi_min[layer]) / dphi[layer]
    if not (math.isfinite(u) and math.isfinite(v)):
        return np.int64(0)
    i0 = window_origin(u, h)
    j0 = window_origin(v, w)
    ne = n_eta[layer]
    nph = n_phi[layer]
    base = layer_offsets[layer]
    for a in range(h):
        i = i0 + a
        if i < 0 or i >= ne:
            continue
        rowbase = base + i * nph
        for b in range(w):
            out[a, b] = row[rowbase + (j0 + b) % nph]
    return i0


@jit(parallel=True)
def _windows_kernel(cells, event, eta, phi, layer, out, layer_offsets, n_eta, n_phi, eta_min, deta, phi_min,
                    dphi):
    for k in numba.prange(event.shape[0]):
        fill_window(cells[event[k]], layer, eta[k], phi[k], out[k], layer_offsets, n_eta, n_phi, eta_min, deta,
                    phi_min, dphi)


def cell_windows(cells, event, eta, phi, geometry, layer, shape):
    """Cell energies in a window around each candidate, in one layer.

    Parameters
    ----------
    cells : numpy.ndarray, float, shape (n_events, n_cells)
        Dense cell energies, GeV.
    event : array_like of int, shape (n_candidates,)
        Row of ``cells`` of each candidate.
    eta, phi : array_like of float, shape (n_candidates,)
        Window centres (e.g. the cluster barycentres), phi in radians.
    geometry : Geometry
        The cells' geometry (:func:`hepreco.algorithms.calo.geometry.load_geometry`).
    layer : int
        Layer index.
    shape : (int, int)
        Window size ``(h, w)``: h cells in eta, w in phi; ``w`` at most the
        layer's number of phi cells.

    Returns
    -------
    numpy.ndarray
        ``float32[n_candidates, h, w]``, GeV; rows eta, columns phi.
    """
    h, w = (int(s) for s in shape)
    if h < 1 or w < 1:
        raise ValueError(f"cell_windows: window shape must be positive, got {shape}")
    if w > geometry.layer_n_phi[layer]:
        raise ValueError(f"cell_windows: a window {w} cells wide in phi exceeds the "
                         f"{geometry.layer_n_phi[layer]} phi cells of layer {geometry.layer_names[layer]!r}")
    event = np.ascontiguousarray(event, dtype=np.int64)
    out = np.zeros((event.shape[0], h, w), dtype=np.float32)
    if event.shape[0]:
        _windows_kernel(np.ascontiguousarray(cells, dtype=np.float32), event,
                        np.ascontiguousarray(eta, dtype=np.float64), np.ascontiguousarray(phi, dtype=np.float64),
                        np.int64(layer), out, *geometry.layer_tables())
    return out
