"""Jet energy scale calibration by numerical inversion: derivation, application, closure.

Matched, isolated reco and truth jets give, in bins of |eta_truth| and
log pT_truth, the mean response R = <pT_reco / pT_truth> and the mean reco
pT <pT_reco>.  Numerical inversion: the points (<pT_reco>_i, 1 / R_i) define
the calibration factor as a function of reco pT,

    c(pT_reco) = 1 / R(pT_truth(pT_reco)),

interpolated in log pT_reco with a monotonic cubic (PCHIP) through the
points, and clamped to the first / last point outside them.  Calibrated jets
have px, py, pz, E, pt and m multiplied by c (eta, y, phi unchanged).

Pure functions (arrays in, arrays out, plus HDF5 I/O of the table) and the
plugins :class:`JetCalibrationDeriver` and :class:`JetCalibration`.
Event weights are not used: the response is a mean within narrow pT_truth
bins, where the generator bias hardly varies.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import awkward as ak
import hist
import numpy as np

from hepreco.framework import Algorithm, Input, Output, Property
from hepreco.framework.artefacts import ArtefactProperty, write_metadata
from hepreco.framework.component import ServiceProperty
from hepreco.framework.manifest import atomic_write_json

from ..arrays import flatten_jagged, unflatten_jagged

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
#: artefact kind and schema of the JES tables
KIND = "jes"
SCHEMA = "hepreco-jes/1"


def shipped_table(geometry_name: str) -> str:
    """Path of the JES table built into hepreco for a geometry (may not exist)."""
    return os.path.join(DATA_DIR, f"jes-{geometry_name}.h5")


@dataclass
class JESTable:
    """Numerical-inversion points per |eta| bin.

    ``log_pt[i, k]`` (log10 of <pT_reco> / GeV) and ``factor[i, k]`` (1 / R)
    for |eta| bin ``i`` (edges ``eta_edges``); ``valid[i, k]`` says which
    points are used; rows with no valid point take the nearest valid row.
    """

    eta_edges: np.ndarray
    log_pt: np.ndarray
    factor: np.ndarray
    valid: np.ndarray
    attrs: dict = field(default_factory=dict)

    def __post_init__(self):
        self.eta_edges = np.asarray(self.eta_edges, dtype=np.float64)
        self.log_pt = np.asarray(self.log_pt, dtype=np.float64)
        self.factor = np.asarray(self.factor, dtype=np.float64)
        self.valid = np.asarray(self.valid, dtype=bool)
        if not self.log_pt.shape == self.factor.shape == self.valid.shape or \
                self.log_pt.shape[0] != len(self.eta_edges) - 1:
            raise ValueError("JES table: log_pt, factor and valid need the shape (n_eta_bins, n_points)")


def response_means(sums: np.ndarray, min_jets: float = 10.0) -> dict:
    """Means per bin from booked sums ``(..., 4)``: n, sum pT_reco, sum R, sum R^2.

    Returns n, mean_pt_reco [GeV], mean_response, response_error (RMS / sqrt(n))
    and ``ok`` (n >= ``min_jets``).
    """
    n, s_pt, s_r, s_r2 = (np.asarray(sums[..., k], dtype=float) for k in range(4))
    ok = n >= max(min_jets, 2)
    safe = np.where(n > 0, n, 1.0)
    mean_r = np.where(n > 0, s_r / safe, np.nan)
    rms = np.sqrt(np.maximum(s_r2 / safe - (s_r / safe) ** 2, 0.0) * n / np.maximum(n - 1, 1))
    return {"n": n, "mean_pt_reco": np.where(n > 0, s_pt / safe, np.nan), "mean_response": mean_r,
            "response_error": np.where(n > 1, rms / np.sqrt(safe), np.nan), "ok": ok}


def inversion_table(eta_edges, mean_pt_reco: np.ndarray, mean_response: np.ndarray, ok: np.ndarray,
                    attrs: dict | None = None) -> JESTable:
    """The numerical-inversion table from bin means ``(n_eta, n_pt_truth)``.

    Points whose <pT_reco> does not increase with pT_truth are dropped (the
    inversion needs a monotonic pT_reco(pT_truth)).
    """
    mean_pt_reco, mean_response = np.asarray(mean_pt_reco, float), np.asarray(mean_response, float)
    valid = np.asarray(ok, bool) & (mean_pt_reco > 0) & (mean_response > 0)
    for i in range(valid.shape[0]):
        highest = -np.inf
        for k in range(valid.shape[1]):
            if valid[i, k]:
                if mean_pt_reco[i, k] <= highest:
                    valid[i, k] = False
                else:
                    highest = mean_pt_reco[i, k]
    log_pt = np.where(valid, np.log10(np.where(valid, mean_pt_reco, 1.0)), 0.0)
    factor = np.where(valid, 1.0 / np.where(valid, mean_response, 1.0), 1.0)
    return JESTable(eta_edges, log_pt, factor, valid, dict(attrs or {}))


def jes_factors(pt, eta, table: JESTable) -> np.ndarray:
    """Calibration factor c(pT_reco) of each jet (flat arrays, pT in GeV), 1 where the table is empty."""
    from scipy.interpolate import PchipInterpolator

    pt, eta = np.asarray(pt, dtype=np.float64), np.abs(np.asarray(eta, dtype=np.float64))
    out = np.ones(len(pt))
    rows = [i for i in range(table.valid.shape[0]) if table.valid[i].any()]
    if not rows or len(pt) == 0:
        return out
    ibin = np.clip(np.searchsorted(table.eta_edges, eta, side="right") - 1, 0, len(table.eta_edges) - 2)
    logpt = np.log10(np.maximum(pt, 1e-6))
    for i in range(table.valid.shape[0]):
        sel = ibin == i
        if not sel.any():
            continue
        row = min(rows, key=lambda r: abs(r - i))  # rows without points take the nearest filled one
        x, y = table.log_pt[row][table.valid[row]], table.factor[row][table.valid[row]]
        xs = np.clip(logpt[sel], x[0], x[-1])
        out[sel] = PchipInterpolator(x, y)(xs) if len(x) > 1 else y[0]
    return out


def table_metadata(table: JESTable, name: str = "", version: int = 1, **extra) -> dict:
    """Artefact metadata of a JES table (name ``jes-<geometry>`` unless given)."""
    geometry = str(table.attrs.get("geometry", ""))
    meta = {"name": name or (f"jes-{geometry}" if geometry else "jes"), "version": int(version), "kind": KIND,
            "schema": SCHEMA, **extra}
    if geometry:
        meta["geometry"] = geometry
    return meta


def write_table(path: str, table: JESTable, metadata: dict | None = None) -> str:
    """Write the table to HDF5 (atomically: temporary name, then rename).

    ``metadata``: the artefact metadata (default :func:`table_metadata`).
    """
    import h5py

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["format"] = "hepreco-jes"
        f.attrs["version"] = 1
        for key, value in table.attrs.items():
            f.attrs[key] = value
        f["abs_eta_edges"] = table.eta_edges
        f["log10_pt_reco"] = table.log_pt
        f["factor"] = table.factor
        f["valid"] = table.valid
    write_metadata(tmp, metadata or table_metadata(table), hdf5=True)
    os.replace(tmp, path)
    return path


def read_table(path: str) -> JESTable:
    """Read a table written by :func:`write_table`."""
    import h5py

    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != "hepreco-jes":
            raise ValueError(f"{path!r} is not a JES table file (attribute format={f.attrs.get('format')!r})")
        attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()
                 if k not in ("format", "version", "hepreco_artefact")}
        return JESTable(f["abs_eta_edges"][()], f["log10_pt_reco"][()], f["factor"][()], f["valid"][()], attrs)


def calibrate_jets(jets: ak.Array, table: JESTable) -> ak.Array:
    """Jagged jets with px, py, pz, E, pt, m times their factor, plus ``jes_factor``."""
    fields, offsets = flatten_jagged(jets)
    c = jes_factors(fields["pt"], fields["eta"], table)
    for name in ("px", "py", "pz", "E", "pt", "m"):
        if name in fields:
            fields[name] = fields[name].astype(np.float64) * c
    fields["jes_factor"] = c
    return unflatten_jagged(fields, offsets)


def _min_dr_to_others(jets) -> ak.Array:
    """Per jet: Delta R to the closest other jet of its event (inf when alone)."""
    pairs = ak.cartesian([jets, jets], axis=1, nested=True)
    index = ak.argcartesian([jets, jets], axis=1, nested=True)
    a, b = ak.unzip(pairs)
    ia, ib = ak.unzip(index)
    dphi = np.angle(np.exp(1j * (a.phi - b.phi)))
    dr = np.hypot(a.eta - b.eta, dphi)
    dr = ak.where(ia == ib, np.inf, dr)
    return ak.fill_none(ak.min(dr, axis=2), np.inf)


class JetCalibrationDeriver(Algorithm):
    """Books the jet response of matched, isolated jets and derives the JES table (numerical inversion).

    Accumulates sums per (|eta_truth|, log pT_truth) bin: n, sum pT_reco,
    sum R, sum R^2 (a ``sum`` accumulator), so the means are exact after
    merging; the geometry's name travels to the end of the job in a ``set``
    accumulator.  At the end of the job writes the artefact
    ``<artefact_name>.h5`` (``jes-<geometry>.h5``; ``hepreco artefacts
    install`` puts it where jobs find it), ``jes_response.json`` and
    ``jes_response.png`` (response against pT_truth per |eta| bin, for the
    input jets and after applying the derived factors jet by jet, booked in
    the same pass at the reco pT of each jet).  Run on calibrated jets
    (``jobs/jet_closure.yaml``), the response plot is the closure test.
    """

    jets = Input("AntiKt4TopoJets", doc="reco jets (pt, eta, phi)")
    truth = Input("AntiKt4TruthJets", doc="truth jets (pt, eta, phi)")
    match = Input("AntiKt4TopoTruthMatch", doc="JetTruthMatcher output for these reco jets")
    eta_edges = Property([0.0, 0.3, 0.6, 1.0, 1.5, 2.5], doc="|eta_truth| bin edges", items=float)
    pt_range = Property([10.0, 1000.0], doc="pT_truth range of the log bins", unit="GeV", items=float)
    pt_bins = Property(20, doc="log pT_truth bins", gt=1)
    isolation_dr = Property(1.0, doc="no other reco / truth jet (above the finders' ptmin) within this Delta R",
                            ge=0)
    min_jets = Property(10, doc="bins with fewer jets are not used", ge=2)
    artefact_name = Property("jes-{geometry}", doc="name of the derived artefact ({geometry}: the job's geometry)")
    artefact_version = Property(1, doc="version of the derived artefact", ge=1)
    write_table = Property(True, doc="write the derived table (false when only the response is wanted: closure)")
    geometry_svc = ServiceProperty("GeometrySvc", doc="name of the geometry service")

    def _axes(self):
        return (hist.axis.Variable(self.eta_edges, label="|eta truth|", underflow=False, overflow=False),
                hist.axis.Variable(np.geomspace(*self.pt_range, self.pt_bins + 1), label="pT truth [GeV]",
                                   underflow=False, overflow=False))

    def initialize(self) -> None:
        self._geometry_name = self.services.get(self.geometry_svc).geom.name
        self.geometry = self.accumulate("geometry", "set")
        eta, pt = self._eta_axis, self._pt_axis = self._axes()
        self.sums = self.accumulate("response_sums", "sum", shape=(eta.size, pt.size, 4))
        self.h_response = self.book("response", eta, pt, hist.axis.Regular(100, 0.0, 2.0, label="pT reco / pT truth"),
                                    title="jet response")

    def selected(self, store):
        """Flat pT_reco, pT_truth, |eta_truth| of the matched isolated jets of a chunk."""
        reco, truth, match = store[self.jets], store[self.truth], store[self.match]
        idx = match["index"]
        matched = idx >= 0
        iso = (_min_dr_to_others(reco) > self.isolation_dr)
        truth_iso = _min_dr_to_others(truth) > self.isolation_dr
        safe = ak.mask(idx, matched)  # unmatched jets: None (an event may have no truth jet at all)
        keep = ak.fill_none(matched & iso & truth_iso[safe], False)
        pt_t = ak.fill_none(truth.pt[safe], 1.0)
        eta_t = ak.fill_none(truth.eta[safe], 0.0)
        pt_reco = ak.to_numpy(ak.flatten(reco.pt[keep])).astype(np.float64)
        pt_truth = ak.to_numpy(ak.flatten(pt_t[keep])).astype(np.float64)
        eta_truth = np.abs(ak.to_numpy(ak.flatten(eta_t[keep])).astype(np.float64))
        return pt_reco, pt_truth, eta_truth

    def execute(self, store) -> None:
        self.geometry.add(self._geometry_name)
        pt_reco, pt_truth, eta = self.selected(store)
        lo, hi = self.pt_range
        inside = (pt_truth >= lo) & (pt_truth < hi) & (eta < self.eta_edges[-1])
        pt_reco, pt_truth, eta = pt_reco[inside], pt_truth[inside], eta[inside]
        r = pt_reco / pt_truth
        i, j = self._eta_axis.index(eta), self._pt_axis.index(pt_truth)
        ok = (i >= 0) & (i < self._eta_axis.size) & (j >= 0) & (j < self._pt_axis.size)
        for k, w in enumerate((np.ones(len(r)), pt_reco, r, r * r)):
            self.sums.add(w[ok], at=(i[ok], j[ok], np.full(ok.sum(), k)))
        self.h_response.fill(eta, pt_truth, np.clip(r, 0.0, 1.999))

    # -- end of job ------------------------------------------------------------------------------
    def derive(self, accumulators: dict) -> tuple[JESTable, dict]:
        """The table and the bin means from the merged accumulators."""
        means = response_means(accumulators["response_sums"].value, self.min_jets)
        geometry = accumulators.get("geometry")
        attrs = {"geometry": ",".join(geometry) if geometry is not None else "",
                 "isolation_dr": float(self.isolation_dr)}
        eta_edges = self._axes()[0].edges
        table = inversion_table(eta_edges, means["mean_pt_reco"], means["mean_response"], means["ok"], attrs)
        return table, means

    def end_of_job(self, histograms: dict, output_dir: str, accumulators: dict | None = None) -> list[str]:
        accumulators = accumulators or {}
        if "response_sums" not in accumulators or accumulators["response_sums"].value[..., 0].sum() == 0:
            return []
        table, means = self.derive(accumulators)
        pt_edges = self._axes()[1].edges
        centres = np.sqrt(pt_edges[1:] * pt_edges[:-1])
        # response after calibration, estimated from the bin means (the real closure: jobs/jet_closure.yaml)
        n_eta = len(table.eta_edges) - 1
        after = np.full(means["mean_response"].shape, np.nan)
        for i in range(n_eta):
            ok = means["ok"][i]
            if ok.any():
                c = jes_factors(means["mean_pt_reco"][i][ok], np.full(ok.sum(), table.eta_edges[i]), table)
                after[i][ok] = means["mean_response"][i][ok] * c
        summary = {"abs_eta_edges": table.eta_edges.tolist(), "pt_truth_edges": pt_edges.tolist(),
                   "pt_truth_centres": centres.tolist(), "jets": means["n"].astype(int).tolist(),
                   "mean_response": np.where(means["ok"], means["mean_response"], np.nan).tolist(),
                   "response_error": np.where(means["ok"], means["response_error"], np.nan).tolist(),
                   "mean_pt_reco": np.where(means["ok"], means["mean_pt_reco"], np.nan).tolist(),
                   "response_after_from_means": after.tolist(), "geometry": table.attrs["geometry"]}
        written = []
        if self.write_table:
            name = self.artefact_name.format(geometry=table.attrs["geometry"])
            artefacts = self.services.artefacts
            meta = table_metadata(table, name, self.artefact_version, derived=artefacts.derived_by(),
                                  jets=self.jets, jets_used=int(means["n"].sum()))
            written.append(write_table(os.path.join(output_dir, f"{name}.h5"), table, meta))
            artefacts.record_derived(written[0])
        json_path = os.path.join(output_dir, "jes_response.json")
        atomic_write_json(json_path, summary, indent=1, default=float)
        written += [json_path, self._plot(summary, os.path.join(output_dir, "jes_response.png"))]
        return written

    def _plot(self, summary: dict, path: str) -> str:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.5))
        x = np.asarray(summary["pt_truth_centres"])
        edges = summary["abs_eta_edges"]
        for i in range(len(edges) - 1):
            r = np.asarray(summary["mean_response"][i], dtype=float)
            if np.isnan(r).all():
                continue
            line = ax.errorbar(x, r, yerr=np.asarray(summary["response_error"][i], float), fmt="o",
                               label=f"{edges[i]:.1f} < |eta| < {edges[i + 1]:.1f}: input jets")
            ax.plot(x, np.asarray(summary["response_after_from_means"][i], float), "--",
                    color=line[0].get_color(), label="after calibration (from bin means)")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("pT truth [GeV]")
        ax.set_ylabel("<pT reco / pT truth>")
        ax.set_title(f"jet response, {self.jets} ({summary['geometry']})")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path


class JetCalibration(Algorithm):
    """Applies the numerical-inversion JES: px, py, pz, E, pt, m times c(pT_reco, |eta|).

    The output has the input's fields plus ``jes_factor``.  The table is the
    artefact ``file`` (default ``jes-<geometry>`` for the job's geometry; see
    ``hepreco artefacts``), derived with ``hepreco run jobs/calibrate_jets.yaml``.
    """

    jets = Input("AntiKt4TopoJets", doc="jets to calibrate (px, py, pz, E, pt, eta, m)")
    calibrated = Output("{name}Jets", doc="calibrated jets (plus jes_factor)", carries=("jets",))
    file = ArtefactProperty(KIND, "jes-{geometry}", doc="JES table: artefact name[@version] or path",
                            schema=SCHEMA,
                            derive="hepreco run jobs/calibrate_jets.yaml --set GeometrySvc.geometry={geometry}")
    geometry_svc = ServiceProperty("GeometrySvc", doc="name of the geometry service")

    def artefact_context(self) -> dict[str, str]:
        return {"geometry": self.services.declare(self.geometry_svc).geometry_name}

    def table_path(self) -> str:
        return self.artefact("file").path

    def initialize(self) -> None:
        self.table = self.services.artefacts.load(self.artefact("file"), read_table)

    def execute(self, store) -> None:
        store.put(self.calibrated, calibrate_jets(store[self.jets], self.table))
