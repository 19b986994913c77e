"""Local hadronic cluster calibration (a simplified ATLAS LCW), derivation and application.

Each topo-cluster gets a weight

    w = P_EM * 1 + (1 - P_EM) * w_had,      E_cal = w * E_EM   (px, py, pz scaled alike)

where

* ``P_EM(log10 E, log10 center_lambda)`` is the probability that a cluster of
  this energy [GeV] and shower depth [mm] comes from an electromagnetic shower.
  It is the fraction of neutral-pion (and photon, electron) clusters among all
  clusters in that bin, with each particle class normalised to its number of
  gun particles (as if the sample held as many EM as hadronic particles);
* ``w_had(log10 E, em_fraction)`` is the hadronic weight learnt from charged
  pions: the energy-weighted mean of ``E_true share / E_cluster`` in the bin,
  that is ``sum(share) / sum(E_cluster)`` (exact from merged sums).

Simplification of the ATLAS calibration hits: a charged pion of energy
``E_true`` gives every cluster with E > 0 inside Delta R < ``cone`` of its
direction the share ``E_true * E_cl / sum(E_cl in cone)``.  The weights
therefore absorb invisible energy, out-of-cluster and out-of-cone losses
together (ATLAS corrects these in separate steps) and the calibration is
exact for the summed cone energy of a single charged pion on average.
Clusters with E <= 0 (noise) keep weight 1.

The functions here are pure (arrays in, arrays out, plus HDF5 I/O of the
tables); the plugins :class:`ClusterCalibrationDeriver` and
:class:`LocalHadronicCalibration` wrap them.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

import awkward as ak
import hist
import numpy as np

from hepreco.framework import Algorithm, Input, Output, Property, PropertyError

from ..calo.services import geometry_name

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
EM_PDG = (11, 22, 111)
HAD_PDG = (211,)
FORMAT_VERSION = 1


def shipped_table(geometry_name: str) -> str:
    """Path of the LCW table shipped for a geometry (may not exist)."""
    return os.path.join(DATA_DIR, f"lcw-{geometry_name}.h5")


# -- tables -----------------------------------------------------------------------------------
@dataclass
class LCWTables:
    """The two LCW tables with their bin edges.

    ``p_em[i, j]``: P(EM) in bins of log10(E / GeV) (``class_energy_edges``)
    and log10(center_lambda / mm) (``lambda_edges``).
    ``w_had[i, j]``: hadronic weight in bins of log10(E / GeV)
    (``had_energy_edges``) and em_fraction (``em_fraction_edges``).
    Values outside the edges use the first / last bin.
    """

    class_energy_edges: np.ndarray
    lambda_edges: np.ndarray
    p_em: np.ndarray
    had_energy_edges: np.ndarray
    em_fraction_edges: np.ndarray
    w_had: np.ndarray
    attrs: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("class_energy_edges", "lambda_edges", "p_em", "had_energy_edges", "em_fraction_edges", "w_had"):
            setattr(self, name, np.asarray(getattr(self, name), dtype=np.float64))
        if self.p_em.shape != (len(self.class_energy_edges) - 1, len(self.lambda_edges) - 1):
            raise ValueError(f"p_em has shape {self.p_em.shape}, edges give "
                             f"{(len(self.class_energy_edges) - 1, len(self.lambda_edges) - 1)}")
        if self.w_had.shape != (len(self.had_energy_edges) - 1, len(self.em_fraction_edges) - 1):
            raise ValueError(f"w_had has shape {self.w_had.shape}, edges give "
                             f"{(len(self.had_energy_edges) - 1, len(self.em_fraction_edges) - 1)}")


def _bin(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each value, values outside the edges put in the first / last bin."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def _log10_positive(x: np.ndarray) -> np.ndarray:
    return np.log10(np.maximum(np.asarray(x, dtype=np.float64), 1e-12))


def fill_empty(values: np.ndarray, filled: np.ndarray, default: float) -> np.ndarray:
    """Fill the bins where ``filled`` is False with the mean of their filled neighbours, repeatedly
    (a flood from the populated region); ``default`` where nothing is filled at all."""
    out = np.where(filled, values, 0.0).astype(np.float64)
    ok = filled.copy()
    if not ok.any():
        return np.full(values.shape, float(default))
    while not ok.all():
        total = np.zeros_like(out)
        count = np.zeros_like(out)
        for axis in range(out.ndim):
            for shift in (-1, 1):
                v = np.roll(np.where(ok, out, 0.0), shift, axis=axis)
                c = np.roll(ok.astype(float), shift, axis=axis)
                edge = [slice(None)] * out.ndim
                edge[axis] = 0 if shift == 1 else -1
                v[tuple(edge)] = 0.0
                c[tuple(edge)] = 0.0
                total += v
                count += c
        new = ~ok & (count > 0)
        out[new] = total[new] / count[new]
        ok = ok | new
    return out


def classification_table(n_em: np.ndarray, n_had: np.ndarray, particles_em: float, particles_had: float,
                         min_clusters: float = 5.0, em_prior: float = 0.5) -> np.ndarray:
    """P(EM) per bin from cluster counts of EM (pi0) and hadronic (pi+-) particles.

    Counts are divided by the number of gun particles of each class and
    weighted by the prior fraction of EM particles ``em_prior`` (ATLAS: 1/3,
    one neutral pion for two charged ones), so the result does not depend on
    the sample composition.  Bins with fewer than ``min_clusters`` clusters
    in total are filled from their neighbours.
    """
    n_em, n_had = np.asarray(n_em, dtype=float), np.asarray(n_had, dtype=float)
    f_em = em_prior * n_em / max(particles_em, 1.0)
    f_had = (1.0 - em_prior) * n_had / max(particles_had, 1.0)
    total = f_em + f_had
    p = np.divide(f_em, total, out=np.full(total.shape, 0.5), where=total > 0)
    return np.clip(fill_empty(p, (n_em + n_had) >= min_clusters, 0.5), 0.0, 1.0)


def hadronic_weight_table(sum_energy: np.ndarray, sum_share: np.ndarray, n: np.ndarray,
                          min_clusters: float = 5.0) -> np.ndarray:
    """w_had = sum(E_true share) / sum(E_cluster) per bin (energy-weighted mean of the ratio).

    Bins with fewer than ``min_clusters`` clusters are filled from their neighbours.
    """
    sum_energy, sum_share = np.asarray(sum_energy, dtype=float), np.asarray(sum_share, dtype=float)
    w = np.divide(sum_share, sum_energy, out=np.ones(sum_energy.shape), where=sum_energy > 0)
    return fill_empty(w, (np.asarray(n) >= min_clusters) & (sum_energy > 0), 1.0)


def cone_shares(cl_eta, cl_phi, cl_energy, offsets, eta, phi, energy, cone: float):
    """Per cluster (flat, with per-event ``offsets``): inside the cone of its event's particle
    (bool) and its truth share ``E_true * E_cl / sum(E_cl > 0 in cone)`` [GeV] (0 outside)."""
    counts = np.diff(offsets)
    event = np.repeat(np.arange(len(counts)), counts)
    dphi = np.angle(np.exp(1j * (np.asarray(cl_phi) - np.asarray(phi)[event])))
    dr = np.hypot(np.asarray(cl_eta) - np.asarray(eta)[event], dphi)
    e = np.asarray(cl_energy, dtype=np.float64)
    inside = (dr < cone) & (e > 0)
    cone_sum = np.bincount(event[inside], weights=e[inside], minlength=len(counts))
    share = np.where(inside, np.asarray(energy)[event] * e / np.maximum(cone_sum[event], 1e-300), 0.0)
    return inside, share


def lcw_weights(energy, center_lambda, em_fraction, tables: LCWTables) -> tuple[np.ndarray, np.ndarray]:
    """P(EM) and weight ``w = P_EM + (1 - P_EM) * w_had`` of each cluster (flat arrays).

    Clusters with E <= 0 get P_EM = 1 and w = 1 (left at the EM scale).
    """
    energy = np.asarray(energy, dtype=np.float64)
    loge = _log10_positive(energy)
    p = tables.p_em[_bin(loge, tables.class_energy_edges), _bin(_log10_positive(center_lambda), tables.lambda_edges)]
    w_had = tables.w_had[_bin(loge, tables.had_energy_edges), _bin(np.asarray(em_fraction, float),
                                                                     tables.em_fraction_edges)]
    positive = energy > 0
    p = np.where(positive, p, 1.0)
    w = np.where(positive, p + (1.0 - p) * w_had, 1.0)
    return p, w


def write_tables(path: str, tables: LCWTables) -> str:
    """Write the tables and their edges to HDF5 (atomically: temporary name, then rename)."""
    import h5py

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["format"] = "hepreco-lcw"
        f.attrs["version"] = FORMAT_VERSION
        for key, value in tables.attrs.items():
            f.attrs[key] = value
        g = f.create_group("classification")
        g["log10_energy_edges"] = tables.class_energy_edges
        g["log10_lambda_edges"] = tables.lambda_edges
        g["p_em"] = tables.p_em
        g = f.create_group("hadronic")
        g["log10_energy_edges"] = tables.had_energy_edges
        g["em_fraction_edges"] = tables.em_fraction_edges
        g["w_had"] = tables.w_had
    os.replace(tmp, path)
    return path


def read_tables(path: str) -> LCWTables:
    """Read tables written by :func:`write_tables`."""
    import h5py

    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != "hepreco-lcw":
            raise ValueError(f"{path!r} is not an LCW table file (attribute format={f.attrs.get('format')!r})")
        attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()
                 if k not in ("format", "version")}
        c, h = f["classification"], f["hadronic"]
        return LCWTables(c["log10_energy_edges"][()], c["log10_lambda_edges"][()], c["p_em"][()],
                         h["log10_energy_edges"][()], h["em_fraction_edges"][()], h["w_had"][()], attrs)


def calibrate_clusters(clusters: ak.Array, tables: LCWTables) -> ak.Array:
    """Jagged clusters with E, px, py, pz multiplied by their LCW weight, plus ``p_em`` and ``weight``."""
    counts = ak.to_numpy(ak.num(clusters, axis=1))
    flat = ak.flatten(clusters)
    fields = {name: flat[name] for name in ak.fields(flat)}
    p, w = lcw_weights(ak.to_numpy(flat.E), ak.to_numpy(flat.center_lambda), ak.to_numpy(flat.em_fraction), tables)
    for name in ("E", "px", "py", "pz"):
        fields[name] = ak.to_numpy(flat[name]).astype(np.float64) * w
    fields["p_em"] = p
    fields["weight"] = w
    return ak.unflatten(ak.zip(fields, depth_limit=1), counts)


# -- plugins -------------------------------------------------------------------------------------
def _gun_direction(particles):
    lead = ak.firsts(particles)
    px, py, pz, e = (ak.to_numpy(ak.fill_none(lead[f], 0.0)).astype(np.float64) for f in ("px", "py", "pz", "E"))
    pdg = ak.to_numpy(ak.fill_none(lead.pdg_id, 0))
    pt = np.hypot(px, py)
    return np.arcsinh(pz / np.maximum(pt, 1e-12)), np.arctan2(py, px), e, np.abs(pdg)


class ClusterCalibrationDeriver(Algorithm):
    """Derives the LCW tables from single neutral pions (EM) and charged pions (hadronic).

    Books sums per bin (cluster counts per class, and n, sum E_cluster,
    sum E_true share for charged pions), so the tables are exact after
    merging chunks and workers.  At the end of the job writes ``lcw.h5`` in
    the output folder (and to ``install_to`` when set) and ``lcw_tables.png``.
    """

    particles = Input("TruthParticles", doc="one gun particle per event (111/22/11: EM, +-211: hadronic)")
    clusters = Input("CaloTopoClusters", doc="topo-clusters at the EM scale")
    cone = Property(0.4, doc="Delta R around the gun particle within which clusters are used", gt=0)
    log_energy_range = Property([-1.0, 3.0], doc="log10(E_cluster / GeV) range of the tables", items=float)
    energy_bins = Property(20, doc="bins in log10 E_cluster", gt=0)
    log_lambda_range = Property([1.0, 3.6], doc="log10(center_lambda / mm) range of the classification",
                                items=float)
    lambda_bins = Property(13, doc="bins in log10 center_lambda", gt=0)
    em_fraction_bins = Property(10, doc="bins in em_fraction over [0, 1]", gt=0)
    em_prior = Property(1.0 / 3.0, doc="prior fraction of EM particles in the classification (ATLAS: 1/3)",
                        gt=0, lt=1)
    min_clusters = Property(5, doc="bins with fewer clusters are filled from their neighbours", ge=1)
    install_to = Property("", doc="also write the table here (e.g. the shipped algorithms/clusters/data file)")
    install_min_particles = Property(1000, doc="install only when each class has this many gun particles "
                                     "(a smoke test with few events never replaces the shipped table)", ge=0)
    geometry_svc = Property("GeometrySvc", doc="name of the geometry service")

    def _axes(self):
        e = hist.axis.Regular(self.energy_bins, *self.log_energy_range, label="log10(E cluster / GeV)",
                              underflow=False, overflow=False)
        lam = hist.axis.Regular(self.lambda_bins, *self.log_lambda_range, label="log10(center_lambda / mm)",
                                underflow=False, overflow=False)
        frac = hist.axis.Regular(self.em_fraction_bins, 0.0, 1.0, label="em_fraction", underflow=False,
                                 overflow=False)
        return e, lam, frac

    def initialize(self) -> None:
        geometry_name = self.services.get(self.geometry_svc).geom.name
        e, lam, frac = self._axes()
        # the geometry travels to end_of_job (which has no services) as the label of a merged histogram
        self.h_geometry = self.book("geometry", hist.axis.StrCategory([geometry_name], label="geometry"),
                                    title="geometry of the derivation")
        self.h_particles = self.book("particles", hist.axis.Integer(0, 2, label="class (0 EM, 1 hadronic)"),
                                     title="gun particles per class")
        self.h_class = self.book("classification", hist.axis.Integer(0, 2, label="class (0 EM, 1 hadronic)"),
                                 e, lam, title="clusters in the cone per class")
        self.h_had = self.book("hadronic", e, frac, hist.axis.Regular(3, 0, 3, label="sum (n, E_cluster, share)"),
                               title="charged-pion cluster sums")

    @staticmethod
    def _clip(values, edges_axis):
        lo, hi = edges_axis.edges[0], edges_axis.edges[-1]
        return np.clip(values, lo, np.nextafter(hi, lo))

    def execute(self, store) -> None:
        eta, phi, energy, apdg = _gun_direction(store[self.particles])
        clusters = store[self.clusters]
        counts = ak.to_numpy(ak.num(clusters, axis=1))
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        flat = ak.flatten(clusters)
        cl_e = ak.to_numpy(flat.E).astype(np.float64)
        inside, share = cone_shares(ak.to_numpy(flat.eta), ak.to_numpy(flat.phi), cl_e, offsets, eta, phi, energy,
                                    self.cone)
        klass = np.where(np.isin(apdg, EM_PDG), 0, np.where(np.isin(apdg, HAD_PDG), 1, -1))
        known = klass >= 0
        self.h_particles.fill(klass[known])
        self.h_geometry.fill(self.h_geometry.axes[0][0], weight=len(klass))
        cl_class = np.repeat(klass, counts)
        use = inside & (cl_class >= 0)
        e_ax, lam_ax, frac_ax = self.h_class.axes[1], self.h_class.axes[2], self.h_had.axes[1]
        loge = self._clip(_log10_positive(cl_e[use]), e_ax)
        loglam = self._clip(_log10_positive(ak.to_numpy(flat.center_lambda)[use]), lam_ax)
        self.h_class.fill(cl_class[use], loge, loglam)
        had = use & (cl_class == 1)
        loge = self._clip(_log10_positive(cl_e[had]), e_ax)
        frac = self._clip(ak.to_numpy(flat.em_fraction)[had].astype(np.float64), frac_ax)
        for k, w in enumerate((np.ones(had.sum()), cl_e[had], share[had])):
            self.h_had.fill(loge, frac, np.full(had.sum(), k + 0.5), weight=w)

    # -- end of job ------------------------------------------------------------------------------
    def derive(self, histograms: dict) -> LCWTables:
        """The LCW tables from the merged histograms."""
        particles = histograms["particles"].values()
        h_class, h_had = histograms["classification"], histograms["hadronic"]
        counts = h_class.values()
        p_em = classification_table(counts[0], counts[1], particles[0], particles[1], self.min_clusters,
                                    self.em_prior)
        sums = h_had.values()
        w_had = hadronic_weight_table(sums[..., 1], sums[..., 2], sums[..., 0], self.min_clusters)
        geometry = histograms.get("geometry")
        names = [name for name in geometry.axes[0]] if geometry is not None else []
        attrs = {"geometry": ",".join(names), "cone": float(self.cone), "em_prior": float(self.em_prior),
                 "em_particles": float(particles[0]), "hadronic_particles": float(particles[1])}
        return LCWTables(h_class.axes[1].edges, h_class.axes[2].edges, p_em, h_had.axes[0].edges,
                         h_had.axes[1].edges, w_had, attrs)

    def end_of_job(self, histograms: dict, output_dir: str) -> list[str]:
        if "particles" not in histograms or histograms["particles"].values().sum() == 0:
            return []
        tables = self.derive(histograms)
        path = write_tables(os.path.join(output_dir, "lcw.h5"), tables)
        written = [path]
        if self.install_to and min(tables.attrs["em_particles"], tables.attrs["hadronic_particles"]) \
                >= self.install_min_particles:
            os.makedirs(os.path.dirname(os.path.abspath(self.install_to)), exist_ok=True)
            shutil.copyfile(path, self.install_to + ".tmp")
            os.replace(self.install_to + ".tmp", self.install_to)
            written.append(os.path.abspath(self.install_to))
        written.append(plot_tables(tables, os.path.join(output_dir, "lcw_tables.png")))
        return written


def plot_tables(tables: LCWTables, path: str) -> str:
    """Draw P(EM) and w_had as 2D maps into ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    m1 = ax1.pcolormesh(tables.class_energy_edges, tables.lambda_edges, tables.p_em.T, vmin=0, vmax=1)
    fig.colorbar(m1, ax=ax1, label="P(EM)")
    ax1.set_xlabel("log10(E cluster / GeV)")
    ax1.set_ylabel("log10(center_lambda / mm)")
    ax1.set_title("classification")
    m2 = ax2.pcolormesh(tables.had_energy_edges, tables.em_fraction_edges, tables.w_had.T)
    fig.colorbar(m2, ax=ax2, label="w_had = <E_true share / E_cluster>")
    ax2.set_xlabel("log10(E cluster / GeV)")
    ax2.set_ylabel("em_fraction")
    ax2.set_title("hadronic weights")
    fig.suptitle(f"local hadronic calibration ({tables.attrs.get('geometry', '')})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


class LocalHadronicCalibration(Algorithm):
    """Applies the LCW weights to topo-clusters: E, px, py, pz times w = P_EM + (1 - P_EM) w_had.

    The output has the input's fields plus ``p_em`` and ``weight``.  Without
    ``file``, the table shipped for the job's geometry is used
    (``algorithms/clusters/data/lcw-<geometry>.h5``; re-derive it with
    ``hepreco run jobs/calibrate_clusters.yaml``).
    """

    clusters = Input("CaloTopoClusters", doc="topo-clusters at the EM scale")
    calibrated = Output("CaloCalTopoClusters", doc="LCW-calibrated clusters (plus p_em, weight)")
    file = Property("", doc="LCW table file (empty: the table shipped for the job's geometry)")
    geometry_svc = Property("GeometrySvc", doc="name of the geometry service")

    def table_path(self, geometry: str | None = None) -> str:
        """The LCW table file: ``file``, or the one shipped for the geometry (named ``geometry``)."""
        if self.file:
            path = self.file
        else:
            path = shipped_table(geometry or self.services.get(self.geometry_svc).geom.name)
        if not os.path.exists(path):
            raise PropertyError(
                self.name, "file", f"LCW table {path!r} does not exist; derive it with "
                f"'hepreco run jobs/calibrate_clusters.yaml --set ClusterCalibrationDeriver.install_to={path}' "
                "(and the job's GeometrySvc.geometry), or set the 'file' property")
        return path

    def check(self, registry) -> None:
        self.table_path(None if self.file else geometry_name(self.services, self.geometry_svc, registry))

    def initialize(self) -> None:
        self.tables = read_tables(self.table_path())

    def execute(self, store) -> None:
        store.put(self.calibrated, calibrate_clusters(store[self.clusters], self.tables))
