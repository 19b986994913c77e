"""Response and resolution of single particles: cone sums and the a/b/c fit (pure numpy)."""
from __future__ import annotations

import numpy as np


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
    for i in range(len(eta)):
        dphi = np.angle(np.exp(1j * (cell_phi - phi[i])))
        inside = (cell_eta - eta[i]) ** 2 + dphi ** 2 < radius * radius
        out[i] = cells[i, inside].sum(dtype=np.float64)
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
