"""Response and resolution of single particles: cone sums and the a/b/c fit (pure functions)."""
from __future__ import annotations

import numpy as np

from .._numba import jit


@jit
def _cone_sums(cells, cell_eta, cell_phi, eta, phi, r2, out):
    two_pi = 2.0 * np.pi
    for i in range(cells.shape[0]):
        total = 0.0
        for c in range(cells.shape[1]):
            deta = cell_eta[c] - eta[i]
            if deta * deta >= r2:
                continue
            dphi = abs(cell_phi[c] - phi[i]) % two_pi
            if dphi > np.pi:
                dphi = two_pi - dphi
            if deta * deta + dphi * dphi < r2:
                total += cells[i, c]
        out[i] = total


def cone_sums(cells: np.ndarray, cell_eta: np.ndarray, cell_phi: np.ndarray, eta: np.ndarray, phi: np.ndarray,
              radius: float) -> np.ndarray:
    """Sum of ``cells[i]`` within Delta R < ``radius`` of (eta[i], phi[i]), per event.

    Parameters
    ----------
    cells : float array (n_events, n_cells), GeV
    cell_eta, cell_phi : float arrays (n_cells,), phi in radians
    eta, phi : float arrays (n_events,), the axis of each event
    radius : float
    """
    out = np.zeros(len(eta))
    _cone_sums(np.ascontiguousarray(cells), np.ascontiguousarray(cell_eta, dtype=np.float64),
               np.ascontiguousarray(cell_phi, dtype=np.float64), np.asarray(eta, dtype=np.float64),
               np.asarray(phi, dtype=np.float64), float(radius) ** 2, out)
    return out


def fit_resolution(energy: np.ndarray, sigma_over_e: np.ndarray, error: np.ndarray | None = None,
                   fix_noise: float | None = None) -> dict[str, float]:
    """Fit sigma/E = a/sqrt(E) (+) b/E (+) c (in quadrature), E in GeV.

    A weighted linear least-squares fit of (sigma/E)^2 = a^2/E + b^2/E^2 + c^2,
    with negative squares clipped to zero.  ``fix_noise`` fixes b (GeV).
    Returns ``{"a": ..., "b": ..., "c": ...}``.
    """
    energy = np.asarray(energy, dtype=float)
    y = np.asarray(sigma_over_e, dtype=float) ** 2
    w = np.ones_like(y) if error is None else 1.0 / np.maximum(2 * np.asarray(sigma_over_e) * error, 1e-12)
    columns = [1.0 / energy, np.ones_like(energy)]
    if fix_noise is None:
        columns.insert(1, 1.0 / energy ** 2)
    else:
        y = y - fix_noise ** 2 / energy ** 2
    design = np.stack(columns, axis=1) * w[:, None]
    coef, *_ = np.linalg.lstsq(design, y * w, rcond=None)
    coef = np.maximum(coef, 0.0)
    if fix_noise is None:
        a2, b2, c2 = coef
    else:
        (a2, c2), b2 = coef, fix_noise ** 2
    return {"a": float(np.sqrt(a2)), "b": float(np.sqrt(b2)), "c": float(np.sqrt(c2))}


def resolution_model(energy: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    energy = np.asarray(energy, dtype=float)
    return np.sqrt(a * a / energy + b * b / energy ** 2 + c * c)
