"""Plugins ``EgammaDatasetMaker``, ``RegressionDatasetMaker``, ``ClusterDatasetMaker``: training records of clusters.

Per event, the candidate is the highest-energy cluster within ``match_dr``
of the gun particle where it reaches the middle EM layer (charged particles
bent by the solenoid as in the simulation).  Its record follows the shared
ML dataset format: ``label``, ``weight``, ``split``, ``run``, ``event``, the
shower shapes, the cluster's raw (EM-scale) ``e``, ``eta``, ``phi``, one
``cells_<layer>`` window per layer and the truth ``true_e``, ``true_pdg``,
``true_eta``.  ``ClusterDatasetMaker`` writes the same records for every
energetic cluster of an event instead (the jets of QCD events as the
background of e/gamma identification).
"""
from __future__ import annotations

import math

import awkward as ak
import numpy as np

from hepreco.framework import Algorithm, ConfigurationError, Input, Output, Property, ServiceProperty

from ..arrays import flatten_jagged
from ..ml.splits import split_of
from .kernels import SHAPE_NAMES, cell_windows, leading_matched, phi_at_radius
from .shower_shapes import resolve_layers

#: Class names a dataset's ``classes`` may use, and the |PDG id| of the gun particle of each.
CLASS_PDG = {"electron": 11, "muon": 13, "photon": 22, "pi0": 111, "pion": 211, "kaon": 321, "klong": 130,
             "proton": 2212, "neutron": 2112}
#: Class names of candidates that are not single gun particles (``ClusterDatasetMaker``'s ``label_as``).
OTHER_CLASSES = ("jet",)


def _classes(value: list) -> None:
    unknown = [c for c in value if c not in CLASS_PDG and c not in OTHER_CLASSES]
    if unknown:
        raise ValueError(f"unknown classes {unknown}; known: {sorted(CLASS_PDG) + list(OTHER_CLASSES)}")
    if len(set(value)) != len(value):
        raise ValueError(f"classes repeat a name: {value}")


def _extent(value: list) -> None:
    if len(value) != 2 or not min(value) > 0:
        raise ValueError(f"expected [eta extent, phi extent (rad)], both > 0, got {value}")


def _fractions(value: list) -> None:
    if len(value) != 3 or min(value) < 0 or not sum(value) > 0:
        raise ValueError(f"expected [train, validation, test] fractions >= 0, got {value}")


def _shapes(value: dict) -> None:
    for layer, shape in value.items():
        if not (isinstance(shape, (list, tuple)) and len(shape) == 2
                and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape)):
            raise ValueError(f"cells_shape[{layer!r}] must be [cells in eta, cells in phi], got {shape!r}")


def window_shape(extent: tuple[float, float], deta: float, dphi: float) -> tuple[int, int]:
    """Odd (h, w) numbers of cells of size (deta, dphi) covering at least ``extent`` (eta, phi)."""
    def odd(x):
        n = max(int(math.ceil(x - 1e-9)), 1)
        return n if n % 2 else n + 1
    return odd(extent[0] / deta), odd(extent[1] / dphi)


class EgammaDatasetMaker(Algorithm):
    """One training record per event: the gun particle's cluster, its shower shapes and cell windows.

    ``label`` indexes ``classes`` by the gun particle's type; an event whose
    particle is in no class, or whose particle left no cluster within
    ``match_dr``, gives no record (counted).  ``cells_<layer>`` windows are
    ``h x w`` (eta x phi) cells of each layer at its own granularity, centred
    on the cluster barycentre (:mod:`hepreco.algorithms.egamma.windows`),
    zero outside the layer; the shape is ``cells_shape[layer]`` if given,
    else the odd cell counts covering ``window``.
    """

    cells = Input("CaloCells", doc="calibrated cells, dense (event, cell) [GeV]")
    clusters = Input("CaloTopoClusters", doc="clusters: E, eta, phi")
    shapes = Input("EgammaShowerShapes", doc="shower shapes per cluster (EgammaShowerShapes)")
    truth = Input("GunParticles", doc="the particle shot per event (ParticleGunSource)")
    dataset = Output("EgammaDataset", doc="jagged training records per event (0 or 1 per event)")
    classes = Property(["pi0", "photon"], doc="class names; label = index of the gun particle's class",
                       items=str, validator=_classes)
    match_dr = Property(0.3, doc="largest Delta R between the particle (at the middle layer) and its cluster", gt=0)
    min_energy = Property(0.0, doc="smallest raw cluster energy of a candidate", unit="GeV", ge=0)
    window = Property([0.2, 0.2], doc="extent (eta, phi) the cell windows cover at least", items=float,
                      validator=_extent)
    cells_shape = Property({}, doc="explicit window [h, w] (cells in eta, phi) per layer name", validator=_shapes)
    layers = Property([], doc="layers written as cells_<layer> (empty: all)", items=str)
    middle_layer = Property("EMB2", doc="layer at whose radius the particle is matched to clusters")
    b_field = Property(2.0, doc="solenoid field bending charged particles (as FastCaloSim)", unit="T", ge=0)
    solenoid_radius = Property(1150.0, doc="radius of the field region (as FastCaloSim)", unit="mm", gt=0)
    split_fractions = Property([0.8, 0.1, 0.1], doc="train, validation, test fractions of events", items=float,
                               validator=_fractions)
    geometry_svc = ServiceProperty("GeometrySvc", doc="name of the geometry service")

    def preflight(self) -> None:
        self.resolve(self.services.declare(self.geometry_svc).geom)  # layer names checked by validate

    def initialize(self) -> None:
        self.geometry = self.services.get(self.geometry_svc).geom
        self.middle, self.windows = self.resolve(self.geometry)
        self.pdg_label = {CLASS_PDG[c]: i for i, c in enumerate(self.classes) if c in CLASS_PDG}
        self.n_records = self.accumulate("records", "counter")
        self.n_unmatched = self.accumulate("unmatched", "counter")
        self.n_other = self.accumulate("not_in_classes", "counter")

    def resolve(self, g) -> tuple[int, dict]:
        """The middle layer's index and ``{layer name: (index, (h, w))}`` of the windows in geometry ``g``."""
        middle = resolve_layers(self, g, {"middle_layer": self.middle_layer})["middle_layer"]
        names = list(self.layers) or list(g.layer_names)
        resolve_layers(self, g, {f"layers[{i}]": n for i, n in enumerate(names)})
        unknown = sorted(set(self.cells_shape) - set(g.layer_names))
        if unknown:
            raise ConfigurationError(f"{self.name}: cells_shape names {unknown}, not layers of geometry "
                                     f"{g.name!r}; its layers are {list(g.layer_names)}")
        windows = {}
        for name in names:
            l = g.layer_names.index(name)
            shape = tuple(self.cells_shape.get(name) or window_shape(self.window, g.layer_deta[l], g.layer_dphi[l]))
            if shape[1] > g.layer_n_phi[l]:
                raise ConfigurationError(f"{self.name}: the window of layer {name!r} is {shape[1]} cells wide in "
                                         f"phi but the layer has {g.layer_n_phi[l]}; give a smaller cells_shape")
            windows[name] = (l, shape)
        return middle, windows

    def candidates(self, store) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per event the flat index of its candidate cluster (-1: none), the truth columns and label."""
        t, _ = flatten_jagged(store[self.truth][:, :1], ("pdg_id", "charge", "px", "py", "pz", "E"))
        if len(t["E"]) != store.n_events:
            raise ValueError(f"{self.name}: {self.truth!r} must hold one particle per event")
        pt = np.hypot(t["px"], t["py"])
        with np.errstate(divide="ignore", invalid="ignore"):
            eta = np.arcsinh(np.asarray(t["pz"], np.float64) / pt)
        phi = phi_at_radius(np.arctan2(t["py"], t["px"]), pt, t["charge"], self.geometry.layer_r[self.middle],
                            self.b_field, self.solenoid_radius)
        c, offsets = flatten_jagged(store[self.clusters], ("E", "eta", "phi"))
        energy = np.where(np.asarray(c["E"]) >= self.min_energy, c["E"], -np.inf)
        index = leading_matched(c["eta"], c["phi"], energy, offsets, eta, phi, self.match_dr)
        pdg = np.abs(np.asarray(t["pdg_id"], dtype=np.int64))
        if self.classes:
            label = np.array([self.pdg_label.get(int(p), -1) for p in pdg], dtype=np.int32)
        else:
            label = np.zeros(len(pdg), dtype=np.int32)
        truth = {"true_e": np.asarray(t["E"]), "true_pdg": np.asarray(t["pdg_id"]), "true_eta": eta}
        return index, truth, label

    def execute(self, store) -> None:
        index, truth, label = self.candidates(store)
        self.n_unmatched.add(int(np.sum(index < 0)))
        self.n_other.add(int(np.sum((index >= 0) & (label < 0))))
        keep = (index >= 0) & (label >= 0)
        rows = np.flatnonzero(keep)
        self.n_records.add(len(rows))
        truth = {name: values[rows] for name, values in truth.items()}
        store.put(self.dataset, self.records(store, rows, index[rows], label[rows], truth,
                                             keep.astype(np.int64)))

    def records(self, store, rows, k, label, truth, counts):
        """Jagged records of the candidates: event row ``rows``, flat cluster index ``k``, ``counts`` per event."""
        c, _ = flatten_jagged(store[self.clusters], ("E", "eta", "phi"))
        s, _ = flatten_jagged(store[self.shapes], SHAPE_NAMES)
        ids = store.event_ids[rows]
        fields = {"label": np.asarray(label, dtype=np.int32), "weight": np.ones(len(rows), dtype=np.float32),
                  "split": split_of(ids["run"], ids["event"], tuple(self.split_fractions)),
                  "run": np.asarray(ids["run"], dtype=np.int64), "event": np.asarray(ids["event"], dtype=np.int64)}
        for name in SHAPE_NAMES:
            fields[name] = np.asarray(s[name], dtype=np.float32)[k]
        for name in ("E", "eta", "phi"):
            fields[name.lower()] = np.asarray(c[name], dtype=np.float32)[k]
        cells = store[self.cells]
        eta_c = np.asarray(c["eta"], dtype=np.float64)[k]
        phi_c = np.asarray(c["phi"], dtype=np.float64)[k]
        for name, (layer, shape) in self.windows.items():
            windows = cell_windows(cells, rows, eta_c, phi_c, self.geometry, layer, shape)
            fields[f"cells_{name}"] = ak.from_numpy(windows, regulararray=True)
        fields["true_e"] = np.asarray(truth["true_e"], dtype=np.float32)
        fields["true_pdg"] = np.asarray(truth["true_pdg"], dtype=np.int32)
        fields["true_eta"] = np.asarray(truth["true_eta"], dtype=np.float32)
        return ak.unflatten(ak.zip(fields, depth_limit=1), counts)


class RegressionDatasetMaker(EgammaDatasetMaker):
    """The same records for energy regression: every particle type, ``label`` 0.

    A configuration of :class:`EgammaDatasetMaker` with no classes and the
    collection ``RegressionDataset``.
    """

    dataset = Output("RegressionDataset", doc="jagged training records per event (0 or 1 per event)")
    classes = Property([], doc="class names (empty: label 0 for every particle)", items=str, validator=_classes)


class ClusterDatasetMaker(EgammaDatasetMaker):
    """Records of every energetic cluster of an event (e.g. QCD jets faking electrons and photons).

    Every cluster with E_T above ``min_et`` and |eta| below ``max_eta`` is a
    candidate, labelled ``label_as`` (an entry of ``classes``, by default
    ``jet``: give the same ``classes`` as the gun jobs it is trained with, so
    the labels agree).  Its truth is the most energetic stable truth particle
    within ``truth_dr`` of the cluster at the middle layer (``true_pdg`` 0,
    ``true_e`` 0 where there is none): a photon from a pi0 in a jet carries
    ``true_pdg`` 22 but is still labelled ``jet``.  (``match_dr`` and
    ``min_energy`` of the gun makers play no role here.)
    """

    truth = Input("TruthParticles", doc="stable truth particles: pdg_id, charge, px, py, pz, E [GeV]")
    dataset = Output("EgammaDataset", doc="jagged training records per event, one per candidate cluster")
    classes = Property(["jet", "electron", "photon"], doc="class names (the labels of the whole training set)",
                       items=str, validator=_classes)
    label_as = Property("jet", doc="the class of every candidate of this job")
    min_et = Property(10.0, doc="smallest cluster E_T of a candidate", unit="GeV", ge=0)
    max_eta = Property(1.4, doc="largest cluster |eta| of a candidate", gt=0)
    truth_dr = Property(0.1, doc="largest Delta R between a cluster and its truth particle", gt=0)

    def check(self, registry) -> None:
        if self.label_as not in self.classes:
            raise ConfigurationError(f"{self.name}: label_as {self.label_as!r} is not one of classes {self.classes}")

    def execute(self, store) -> None:
        c, offsets = flatten_jagged(store[self.clusters], ("E", "eta", "phi"))
        e, eta, phi = (np.asarray(c[n], dtype=np.float64) for n in ("E", "eta", "phi"))
        keep = (e / np.cosh(eta) > self.min_et) & (np.abs(eta) < self.max_eta)
        k = np.flatnonzero(keep)
        owner = np.repeat(np.arange(store.n_events), np.diff(offsets))
        counts = np.bincount(owner[keep], minlength=store.n_events).astype(np.int64)
        rows = owner[keep]
        truth = self.cluster_truth(store, rows, eta[k], phi[k])
        self.n_records.add(len(k))
        label = np.full(len(k), self.classes.index(self.label_as), dtype=np.int32)
        store.put(self.dataset, self.records(store, rows, k, label, truth, counts))

    def cluster_truth(self, store, rows, eta, phi) -> dict:
        """The most energetic truth particle within ``truth_dr`` of each candidate (zeros where none)."""
        t, offsets = flatten_jagged(store[self.truth], ("pdg_id", "charge", "px", "py", "pz", "E"))
        pt = np.hypot(t["px"], t["py"])
        with np.errstate(divide="ignore", invalid="ignore"):
            t_eta = np.arcsinh(np.asarray(t["pz"], np.float64) / pt)
        t_phi = phi_at_radius(np.arctan2(t["py"], t["px"]), pt, t["charge"], self.geometry.layer_r[self.middle],
                              self.b_field, self.solenoid_radius)
        t_e = np.asarray(t["E"], dtype=np.float64)
        out = {"true_e": np.zeros(len(rows)), "true_pdg": np.zeros(len(rows), dtype=np.int64),
               "true_eta": np.zeros(len(rows))}
        for j, r in enumerate(rows):  # candidates are few (E_T above min_et); their events' particles vectorised
            a, b = offsets[r], offsets[r + 1]
            d_phi = (t_phi[a:b] - phi[j] + np.pi) % (2 * np.pi) - np.pi
            with np.errstate(invalid="ignore"):
                near = (t_eta[a:b] - eta[j]) ** 2 + d_phi ** 2 < self.truth_dr ** 2
            if near.any():
                i = a + int(np.argmax(np.where(near, t_e[a:b], -np.inf)))
                out["true_e"][j], out["true_pdg"][j], out["true_eta"][j] = t_e[i], t["pdg_id"][i], t_eta[i]
        return out
