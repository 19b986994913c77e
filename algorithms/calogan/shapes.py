"""Shower-shape variables of the CaloGAN paper (Paganini, de Oliveira, Nachman, PRD 97 (2018) 014021).

Pure numpy, on the three layer images of a batch of showers (any energy unit;
rows phi, columns eta, as in the CaloGAN files).  With ``E_i`` the energy of
layer ``i`` (0, 1, 2):

==================  ===============================================================
variable            definition
==================  ===============================================================
``E_i``             layer energy, sum of the cells of layer i
``E_tot``           E_0 + E_1 + E_2
``f_i``             E_i / E_tot
``E_ratio_i``       (E_max1 - E_max2) / (E_max1 + E_max2), the two hottest cells of layer i
``d``               deepest layer with energy above ``threshold``
``l_d``             depth-weighted energy, sum_i i E_i
``s_d``             shower depth l_d / E_tot
``sigma_sd``        shower-depth width sqrt(sum_i i^2 E_i / E_tot - s_d^2)
``width_i``         lateral width of layer i: rms of the eta (column) position of its energy [cells]
==================  ===============================================================

Empty layers give ``E_ratio_i = 0`` and ``width_i = 0``; an empty shower gives
``f_i = s_d = sigma_sd = 0``.
"""
from __future__ import annotations

import numpy as np

#: the variables :func:`shower_shapes` returns, in display order
VARIABLES = ("E_0", "E_1", "E_2", "E_tot", "f_0", "f_1", "f_2", "E_ratio_0", "E_ratio_1", "E_ratio_2",
             "d", "l_d", "s_d", "sigma_sd", "width_0", "width_1", "width_2")


def _safe_divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(a, b).shape)
    np.divide(a, b, out=out, where=b > 0)
    return out


def e_ratio(image: np.ndarray) -> np.ndarray:
    """(E_max1 - E_max2) / (E_max1 + E_max2) per shower of a batch of images (N, rows, cols)."""
    flat = np.asarray(image, dtype=np.float64).reshape(len(image), -1)
    if flat.shape[1] < 2:
        return np.ones(len(flat))
    top = -np.partition(-flat, 1, axis=1)[:, :2]
    return _safe_divide(top[:, 0] - top[:, 1], top[:, 0] + top[:, 1])


def lateral_width(image: np.ndarray) -> np.ndarray:
    """rms of the column (eta) index of the energy per shower [cells]."""
    image = np.asarray(image, dtype=np.float64)
    profile = image.sum(axis=1)  # (N, cols)
    x = np.arange(profile.shape[1], dtype=np.float64)
    total = profile.sum(axis=1)
    mean = _safe_divide(profile @ x, total)
    second = _safe_divide(profile @ (x * x), total)
    return np.sqrt(np.maximum(second - mean * mean, 0.0))


def shower_shapes(layers: list[np.ndarray], threshold: float = 0.0) -> dict[str, np.ndarray]:
    """Every variable of :data:`VARIABLES` (float64 arrays of length N) for the images ``layers``.

    ``layers`` holds the three images (N, 3, 96), (N, 12, 12), (N, 12, 6) (or
    any three (N, rows, cols) images); ``threshold`` is the layer energy above
    which a layer counts for ``d``.
    """
    out: dict[str, np.ndarray] = {}
    energies = np.stack([np.asarray(img, dtype=np.float64).reshape(len(img), -1).sum(1) for img in layers], 1)
    total = energies.sum(1)
    for i, img in enumerate(layers):
        out[f"E_{i}"] = energies[:, i]
    out["E_tot"] = total
    for i in range(len(layers)):
        out[f"f_{i}"] = _safe_divide(energies[:, i], total)
    for i, img in enumerate(layers):
        out[f"E_ratio_{i}"] = e_ratio(img)
    depth = np.arange(len(layers), dtype=np.float64)
    above = energies > threshold
    out["d"] = np.where(above.any(1), len(layers) - 1 - np.argmax(above[:, ::-1], axis=1), 0).astype(np.float64)
    out["l_d"] = energies @ depth
    out["s_d"] = _safe_divide(out["l_d"], total)
    out["sigma_sd"] = np.sqrt(np.maximum(_safe_divide(energies @ (depth * depth), total) - out["s_d"] ** 2, 0.0))
    for i, img in enumerate(layers):
        out[f"width_{i}"] = lateral_width(img)
    return {k: out[k] for k in VARIABLES}


def wasserstein_normalised(generated: np.ndarray, reference: np.ndarray) -> float:
    """Wasserstein-1 distance of two samples divided by the reference's standard deviation.

    0 for identical distributions; about the shift in units of the
    reference spread for a shifted one.  The spread is floored at 1% of the
    reference's mean magnitude (or 1 when that is 0), so that a variable the
    reference holds (nearly) constant is compared in relative terms.
    """
    from scipy.stats import wasserstein_distance

    generated = np.asarray(generated, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    spread = max(reference.std(), 0.01 * abs(reference.mean())) or 1.0
    return float(wasserstein_distance(generated, reference) / spread)


def response_resolution(total: np.ndarray, energy: np.ndarray, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Mean of E_tot / E (response) and its rms over the mean (resolution) in bins of true energy ``edges``."""
    ratio = _safe_divide(np.asarray(total, dtype=np.float64), np.asarray(energy, dtype=np.float64))
    which = np.digitize(energy, edges) - 1
    mean = np.full(len(edges) - 1, np.nan)
    resolution = np.full(len(edges) - 1, np.nan)
    for b in range(len(edges) - 1):
        sel = ratio[which == b]
        if len(sel) > 1:
            mean[b] = sel.mean()
            resolution[b] = sel.std() / sel.mean() if sel.mean() > 0 else np.nan
    return {"centre": 0.5 * (edges[1:] + edges[:-1]), "response": mean, "resolution": resolution}
