"""Performance figures of classifiers and regressions, as plain numpy functions.

- :func:`roc_curve`, :func:`auc`: background efficiency against signal efficiency (weighted);
  the area equals the Mann-Whitney probability that a signal object scores above a
  background one (ties count one half).
- :func:`rejection`: background rejection 1/eps_B at a signal efficiency (working point).
- :func:`distance_correlation`: the distance correlation of two variables (0 when independent),
  the decorrelation measure of DisCo.
- :func:`response_resolution`: median response and its spread in bins of the true value.
"""
from __future__ import annotations

import numpy as np


def _weights(w, n: int) -> np.ndarray:
    return np.ones(n, np.float64) if w is None else np.asarray(w, np.float64)


def versus(probs: np.ndarray, signal: int, background: int) -> np.ndarray:
    """The score of class ``signal`` against class ``background`` of a multi-class model: p_s / (p_s + p_b),
    their likelihood ratio (the other classes, e.g. Z when tagging W, do not dilute it; for two classes it
    is p_s)."""
    return probs[:, signal] / np.maximum(probs[:, signal] + probs[:, background], 1e-30)


def roc_curve(is_signal, score, weight=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(eff_background, eff_signal, thresholds)`` for cuts ``score >= threshold``, from (0, 0) to (1, 1).

    One point per distinct score (tied objects pass or fail together), thresholds decreasing.
    """
    sig = np.asarray(is_signal, bool)
    s = np.asarray(score, np.float64)
    w = _weights(weight, len(s))
    order = np.argsort(-s, kind="stable")
    s, sig, w = s[order], sig[order], w[order]
    cum_s = np.cumsum(np.where(sig, w, 0.0))
    cum_b = np.cumsum(np.where(sig, 0.0, w))
    # the last object of each run of equal scores (compared, not subtracted: -inf scores tie, without warnings)
    last = np.r_[np.nonzero(s[1:] != s[:-1])[0], len(s) - 1] if len(s) else np.zeros(0, int)
    tot_s = cum_s[-1] if len(s) else 0.0
    tot_b = cum_b[-1] if len(s) else 0.0
    eff_s = np.r_[0.0, cum_s[last] / tot_s if tot_s > 0 else np.zeros(len(last))]
    eff_b = np.r_[0.0, cum_b[last] / tot_b if tot_b > 0 else np.zeros(len(last))]
    return eff_b, eff_s, np.r_[np.inf, s[last]]


def auc(is_signal, score, weight=None) -> float:
    """Area under the ROC curve (eff_signal against eff_background)."""
    eff_b, eff_s, _ = roc_curve(is_signal, score, weight)
    return float(np.sum(np.diff(eff_b) * (eff_s[1:] + eff_s[:-1]) / 2))


def rejection(is_signal, score, efficiency: float, weight=None) -> float:
    """Background rejection ``1 / eff_background`` at signal efficiency ``efficiency`` (interpolated on the
    ROC curve); ``inf`` when no background passes."""
    eff_b, eff_s, _ = roc_curve(is_signal, score, weight)
    # eff_s is non-decreasing: interpolate eff_b at the first crossing of the working point
    i = int(np.searchsorted(eff_s, efficiency, side="left"))
    if i >= len(eff_s):
        return float("nan")
    if i == 0 or eff_s[i] == efficiency:
        eb = eff_b[i]
    else:
        t = (efficiency - eff_s[i - 1]) / (eff_s[i] - eff_s[i - 1])
        eb = eff_b[i - 1] + t * (eff_b[i] - eff_b[i - 1])
    return float("inf") if eb <= 0 else float(1.0 / eb)


def distance_correlation(x, y, weight=None) -> float:
    """Weighted distance correlation dCor(x, y) in [0, 1] (Szekely et al.; 0 for independent variables).

    O(n^2) memory: use on a few thousand objects at most.  DisCo penalises its square.
    """
    x = np.asarray(x, np.float64).ravel()
    y = np.asarray(y, np.float64).ravel()
    w = _weights(weight, len(x))
    w = w / w.sum()

    def centred(v):
        d = np.abs(v[:, None] - v[None, :])
        row = d @ w
        return d - row[:, None] - row[None, :] + row @ w

    a, b = centred(x), centred(y)
    dcov = w @ (a * b) @ w
    vx, vy = w @ (a * a) @ w, w @ (b * b) @ w
    if vx <= 0 or vy <= 0:
        return 0.0
    return float(np.sqrt(max(dcov, 0.0) / np.sqrt(vx * vy)))


def response_resolution(true, predicted, edges) -> dict[str, list[float]]:
    """Per bin of ``true`` (bin ``edges``): median of predicted/true (response) and the half width of its
    central 68% divided by the median (relative resolution), with the bin centres and counts."""
    true = np.asarray(true, np.float64)
    ratio = np.asarray(predicted, np.float64) / np.where(true != 0, true, np.nan)
    out = {"centre": [], "response": [], "resolution": [], "count": []}
    for lo, hi in zip(edges[:-1], edges[1:]):
        r = ratio[(true >= lo) & (true < hi) & np.isfinite(ratio)]
        out["centre"].append(float(np.sqrt(lo * hi) if lo > 0 else (lo + hi) / 2))
        out["count"].append(int(r.size))
        if r.size < 2:
            out["response"].append(float("nan"))
            out["resolution"].append(float("nan"))
            continue
        med = float(np.median(r))
        q16, q84 = np.quantile(r, [0.16, 0.84])
        out["response"].append(med)
        out["resolution"].append(float((q84 - q16) / 2 / med) if med else float("nan"))
    return out
