"""Trigger efficiency turn-on curves against offline quantities, with the point of 99% of the plateau.

:class:`TriggerEfficiency` fills, per bin of an offline quantity (the
``rank``-th highest ``field`` of a jagged collection, e.g. the leading
calibrated jet pT, or a per-event field such as the offline missing E_T),
the events seen and those an L1 item or HLT chain accepted (after
prescale).  At the end of the job it fits

    eff(x) = plateau / 2 x (1 + erf((x - x50) / (sqrt(2) sigma)))

to the binned efficiency (binomial weights) and writes
``turn_on_<name>.json`` and ``.png``.  The 99% point is where the fitted
curve reaches 99% of its plateau: ``x99 = x50 + sqrt(2) erfinv(0.98) sigma
= x50 + 2.326 sigma`` (:func:`point_99`).
"""
from __future__ import annotations

import math
import os
import warnings

import awkward as ak
import numpy as np

from hepreco.framework import Algorithm, Input, Property, PropertyError
from hepreco.framework.manifest import atomic_write_json

#: sqrt(2) erfinv(2 x 0.99 - 1): x99 = x50 + Z99 sigma
Z99 = 2.3263478740408408


def point_99(x50: float, sigma: float) -> float:
    """Where ``plateau/2 (1 + erf((x - x50)/(sqrt 2 sigma)))`` reaches 99% of the plateau."""
    return x50 + Z99 * sigma


def turn_on(x, plateau, x50, sigma):
    """The error-function turn-on curve (numpy, vectorised)."""
    from scipy.special import erf

    return 0.5 * plateau * (1.0 + erf((np.asarray(x, dtype=np.float64) - x50) / (math.sqrt(2.0) * sigma)))


def fit_turn_on(centres, passed, total) -> dict:
    """Fit :func:`turn_on` to binned counts; ``{"plateau", "x50", "sigma", "x99", "converged"}``.

    Bins with no events are left out; each bin is weighted by its binomial
    error (with one pseudo-event of each kind, so that empty or full bins
    keep a finite weight).  ``converged`` is False (and the values NaN)
    when fewer than 3 bins have events or the fit fails.
    """
    from scipy.optimize import OptimizeWarning, curve_fit

    centres = np.asarray(centres, dtype=np.float64)
    passed = np.asarray(passed, dtype=np.float64)
    total = np.asarray(total, dtype=np.float64)
    used = total > 0
    nan = {"plateau": math.nan, "x50": math.nan, "sigma": math.nan, "x99": math.nan, "converged": False}
    if used.sum() < 3:
        return nan
    x, k, n = centres[used], passed[used], total[used]
    eff = k / n
    err = np.sqrt((k + 1) * (n - k + 1) / (n + 2) ** 3)
    half = x[np.argmin(np.abs(eff - 0.5 * max(eff.max(), 1e-9)))]
    span = max(x[-1] - x[0], 1e-6)
    try:
        with warnings.catch_warnings():  # the covariance is not used: a fit of few points need not estimate it
            warnings.simplefilter("ignore", OptimizeWarning)
            (plateau, x50, sigma), _ = curve_fit(turn_on, x, eff, p0=[max(eff.max(), 0.01), half, span / 10.0],
                                                 sigma=err, bounds=([0.0, x[0] - 10 * span, 1e-6 * span],
                                                                    [1.0, x[-1] + 10 * span, 10 * span]),
                                                 maxfev=10000)
    except (RuntimeError, ValueError):
        return nan
    return {"plateau": float(plateau), "x50": float(x50), "sigma": float(sigma), "x99": point_99(x50, sigma),
            "converged": True}


class TriggerEfficiency(Algorithm):
    """The efficiency of an L1 item or HLT chain against an offline quantity, in bins (a turn-on curve).

    The quantity is the ``rank``-th highest ``field`` of ``objects`` (jagged:
    e.g. ``pt`` of ``AntiKt4CalibratedJets``, 0 when the event has fewer
    objects) or the ``field`` of a per-event record (e.g. ``met`` of
    ``MissingET``).  Writes ``turn_on_<name>.json`` (bins, counts,
    efficiencies, the fit and the 99% point) and ``turn_on_<name>.png``.
    """

    trigger_decision = Input("TriggerDecision", doc="the trigger decision")
    objects = Input("AntiKt4CalibratedJets", doc="offline objects (jagged) or per-event records")
    field = Property("pt", doc="field of the objects: the offline quantity [GeV]")
    rank = Property(1, doc="the rank-th highest value per event (jagged objects; 1: leading)", ge=1)
    trigger = Property("", doc="L1 item (L1_...) or HLT chain (HLT_...) after prescale; required")
    bins = Property([0.0, 1000.0, 50], doc="[low, high, number of bins] of the quantity [GeV]")

    def check(self, registry) -> None:
        if not self.trigger.startswith(("L1_", "HLT_")):
            raise PropertyError(self.name, "trigger", f"expected an L1 item (L1_...) or HLT chain (HLT_...), got "
                                                      f"{self.trigger!r}")
        b = self.bins
        if not (isinstance(b, list) and len(b) == 3 and b[0] < b[1] and int(b[2]) == b[2] and b[2] > 0):
            raise PropertyError(self.name, "bins", f"expected [low, high, number of bins], got {b!r}")

    def initialize(self) -> None:
        self.counts = self.accumulate("counts", "sum", shape=(2, int(self.bins[2])))  # total, passed

    def quantity(self, store) -> np.ndarray:
        data = store[self.objects]
        values = data[self.field]
        if ak.to_layout(values).purelist_depth > 1:  # jagged: the rank-th highest per event, 0 when fewer
            values = ak.pad_none(ak.sort(values, axis=1, ascending=False), self.rank, axis=1)[:, self.rank - 1]
        return ak.to_numpy(ak.fill_none(values, 0.0)).astype(np.float64)

    def execute(self, store):
        decision = store[self.trigger_decision]
        level = decision.HLT if self.trigger.startswith("HLT_") else decision.L1
        fields = ak.fields(level.after_prescale)
        if self.trigger not in fields:
            from hepreco.framework import UnknownNameError

            raise UnknownNameError("item or chain", self.trigger, fields, context=f"{self.name}.trigger")
        passed = ak.to_numpy(level.after_prescale[self.trigger]).astype(bool)
        x = self.quantity(store)
        lo, hi, n = self.bins
        edges = np.linspace(lo, hi, int(n) + 1)
        total, _ = np.histogram(x, edges)
        accepted, _ = np.histogram(x[passed], edges)
        self.counts.add(np.array([[total, accepted]], dtype=np.float64))

    def end_of_job(self, histograms, output_dir, accumulators=None):
        lo, hi, n = self.bins
        edges = np.linspace(lo, hi, int(n) + 1)
        counts = accumulators["counts"].value if accumulators and "counts" in accumulators else np.zeros((2, int(n)))
        total, passed = counts
        centres = 0.5 * (edges[1:] + edges[:-1])
        fit = fit_turn_on(centres, passed, total)
        eff = np.divide(passed, total, out=np.zeros_like(passed), where=total > 0)
        err = np.sqrt(np.divide(eff * (1 - eff), total, out=np.zeros_like(eff), where=total > 0))
        table = {"trigger": self.trigger, "objects": self.objects, "field": self.field, "rank": self.rank,
                 "edges": edges.tolist(), "total": total.astype(int).tolist(), "passed": passed.astype(int).tolist(),
                 "efficiency": eff.tolist(), "efficiency_error": err.tolist(), "fit": fit,
                 "note": "x99: where the fitted curve reaches 99% of its plateau (GeV)"}
        base = os.path.join(output_dir, f"turn_on_{self.name}")
        atomic_write_json(base + ".json", table, indent=1)
        self._plot(table, centres, base + ".png")
        return [base + ".json", base + ".png"]

    def _plot(self, table, centres, path):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        used = np.asarray(table["total"]) > 0
        ax.errorbar(centres[used], np.asarray(table["efficiency"])[used],
                    yerr=np.asarray(table["efficiency_error"])[used], fmt="o", ms=3, label=self.trigger)
        fit = table["fit"]
        if fit["converged"]:
            xs = np.linspace(table["edges"][0], table["edges"][-1], 300)
            ax.plot(xs, turn_on(xs, fit["plateau"], fit["x50"], fit["sigma"]),
                    label=f"fit: plateau {fit['plateau']:.3f}, 99% at {fit['x99']:.0f} GeV")
            ax.axvline(fit["x99"], ls=":", color="gray")
        what = f"{self.objects}.{self.field}" + (f" (rank {self.rank})" if self.rank > 1 else "")
        ax.set_xlabel(f"offline {what} [GeV]")
        ax.set_ylabel("efficiency")
        ax.set_ylim(0, 1.1)
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
