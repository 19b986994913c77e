"""Plugins that make large-R jet datasets for machine learning: truth labels and the per-jet records.

``JetTruthLabeller`` labels jets W / Z / top / QCD (:mod:`.labelling`);
``JetDatasetMaker`` selects labelled jets in a pT and eta range and puts one
record per jet (``JetDataset``) with the label, the event split, the
high-level features (:mod:`.substructure`, :mod:`.tagging_features`), the
preprocessed image (:mod:`.images`) and the constituent set
(:mod:`.constituent_sets`), for an ``Hdf5Output`` stream to write.

``weight`` is 1 in the dataset: a pT spectrum needs the whole sample, which
one chunk does not see.  :func:`pt_flat_weights` computes, at training time,
the weights that make each class's pT spectrum flat.
"""
from __future__ import annotations

import awkward as ak
import numpy as np

from hepreco.framework import Algorithm, Input, Output, Property

from ..arrays import flatten_jagged, flatten_values
from ..ml.data import flat_weights
from ..ml.splits import split_of
from .constituent_sets import constituent_sets
from .images import jet_images
from .jet_finder import FOUR_MOMENTUM
from .labelling import CLASSES, label_jets
from .substructure import jet_substructure
from .tagging_features import FEATURE_NAMES, tagging_features

__all__ = ["JetTruthLabeller", "JetDatasetMaker", "pt_flat_weights", "SCALAR_FEATURES"]

#: Scalar features of every ``JetDataset`` record, in order (all float32).
SCALAR_FEATURES = ("pt", "eta", "m", "sd_m", "e2", "e3", "c2", "d2", "tau1", "tau2", "tau3", "tau21", "tau32",
                   *FEATURE_NAMES)


def pt_flat_weights(pt, label, bins) -> np.ndarray:
    """Per-object weights that make the pT spectrum of every class flat over ``bins``.

    Each object gets ``N_c / (n_b * N_cb)``: ``N_cb`` objects of its class ``c``
    in its pT bin, ``N_c`` of the class in all bins, ``n_b`` the bins where the
    class has objects; so every class's weighted pT histogram is flat and its
    weights average 1.  Objects outside the bins, and those with a negative
    label, get weight 0.  The training's ``data.flatten`` option
    (:func:`hepreco.algorithms.ml.data.flat_weights`) computes the same.

    Parameters
    ----------
    pt : numpy.ndarray
        Transverse momenta (GeV), one per object.
    label : numpy.ndarray
        Integer class per object.
    bins : int or sequence of float
        pT bin edges (GeV), increasing; or a number of equal bins between the
        smallest and largest pT.

    Returns
    -------
    numpy.ndarray
        float32 weights, one per object.
    """
    return flat_weights(pt, label, bins, edges_name="pT edges (GeV)")


def _is_classes(value) -> None:
    if list(value) != list(CLASSES):
        raise ValueError(f"the labels index {list(CLASSES)} (fixed by the labelling), got {list(value)}")


class JetTruthLabeller(Algorithm):
    """Labels jets W, Z, top (hadronic decay contained within max_dr of the axis) or QCD (in QCD samples)."""

    jets = Input("AntiKt10LCTopoJets", doc="jets (eta, phi)")
    truth = Input("TruthHardProcess", doc="W, Z, top and their decay products (PythiaSource)")
    labels = Output("{name}", doc="per jet: label (0 qcd, 1 w, 2 z, 3 top, -1 not contained), truth_index "
                    "(row in TruthHardProcess, -1: none), truth_dr")
    max_dr = Property(0.75, doc="containment radius: the W/Z/top and all its decay quarks within this Delta R "
                      "(eta, phi) of the jet axis", gt=0)
    sample = Property("signal", doc="signal: label by containment; qcd: every jet is QCD",
                      choices=("signal", "qcd"))

    def execute(self, store) -> None:
        jets, jet_offsets = flatten_jagged(store[self.jets], ("eta", "phi"), dtype=np.float64)
        truth, truth_offsets = flatten_jagged(store[self.truth], ("pdg_id", "px", "py", "pz", "parent"))
        label, index, dr = label_jets(jets["eta"], jets["phi"], jet_offsets, truth["pdg_id"], truth["px"],
                                      truth["py"], truth["pz"], truth["parent"], truth_offsets, max_dr=self.max_dr,
                                      qcd_sample=self.sample == "qcd")
        record = ak.zip({"label": label, "truth_index": index, "truth_dr": dr.astype(np.float32)})
        store.put(self.labels, ak.unflatten(record, np.diff(jet_offsets)))


def check_range_and_splits(alg) -> None:
    """Refuse a dataset maker's ``pt_range`` that is not [min, max) with 0 <= min < max, or ``split_fractions``
    that are not three fractions >= 0 with a positive sum (at job build time)."""
    from hepreco.framework import ConfigurationError

    lo_hi = alg.pt_range
    if len(lo_hi) != 2 or not 0 <= lo_hi[0] < lo_hi[1]:
        raise ConfigurationError(f"{alg.name}: pt_range must be [min, max] with 0 <= min < max GeV, got {lo_hi}")
    if len(alg.split_fractions) != 3 or min(alg.split_fractions) < 0 or sum(alg.split_fractions) <= 0:
        raise ConfigurationError(f"{alg.name}: split_fractions must be three fractions >= 0 (train, "
                                 f"validation, test), got {alg.split_fractions}")


class JetDatasetMaker(Algorithm):
    """One record per labelled jet in the pT/eta range: label, split, features, 25 x 25 image, constituent set.

    Record fields: ``label`` (int32, index of ``classes``), ``weight`` (float32,
    1: see :func:`pt_flat_weights`), ``split`` (int8, 0 train, 1 validation,
    2 test, from ``split_of(run, event)``), ``run``, ``event`` (int64), the
    float32 scalars of ``SCALAR_FEATURES`` (GeV for pt, m, sd_m, sqrt_d12,
    sqrt_d23, qw), ``image`` (float32 n_pixels x n_pixels), ``const_pt_frac``,
    ``const_deta``, ``const_dphi``, ``const_e_frac`` and ``const_<moment>``
    for each of ``constituent_moments`` (float32 x n_constituents, zero padded),
    ``n_const`` (int32) and ``true_pt`` (float32, GeV; -1 without a truth jet).
    """

    jets = Input("AntiKt10LCTopoJets", doc="jets with constituent indices (px, py, pz, E, pt, eta, phi)",
                 match={"R": "R", "inputs": "inputs"})
    inputs = Input("CaloCalTopoClusters", doc="the collection the jets were made from (px, py, pz, E, moments)")
    labels = Input("JetTruthLabels", doc="JetTruthLabeller output for these jets")
    truth_jets = Input("AntiKt10TruthJets", doc="truth jets (pt)")
    truth_match = Input("AntiKt10Match", doc="JetTruthMatcher output for these jets (index into truth_jets)")
    dataset = Output("JetDataset", doc="per event, one record per selected jet (see the class docstring)")
    classes = Property(list(CLASSES), doc="class names, indexed by label", items=str, validator=_is_classes)
    pt_range = Property([350.0, 1000.0], doc="jet pT range [min, max)", unit="GeV", items=float)
    eta_max = Property(2.0, doc="largest jet |eta|", gt=0)
    R = Property(1.0, doc="jet radius (tau_N normalisation, soft-drop R0)", gt=0)
    n_constituents = Property(50, doc="constituents per set (zero padded)", ge=1)
    constituent_moments = Property(["center_lambda", "em_fraction"], doc="input fields carried into the set as "
                                   "const_<name> (clusters: center_lambda [mm], em_fraction; [] for particles)",
                                   items=str)
    n_pixels = Property(25, doc="image pixels per side (odd)", ge=1)
    pixel_size = Property(0.1, doc="image pixel side in eta and phi", gt=0)
    subjet_R = Property(0.3, doc="radius of the kt subjets fixing the image centre and rotation", gt=0)
    split_fractions = Property([0.8, 0.1, 0.1], doc="train, validation, test fractions of events", items=float)

    def check(self, registry) -> None:
        from hepreco.framework import ConfigurationError

        check_range_and_splits(self)
        if self.n_pixels % 2 == 0:
            raise ConfigurationError(f"{self.name}: n_pixels must be odd (a pixel centred on the jet), "
                                     f"got {self.n_pixels}")

    def execute(self, store) -> None:
        jets = store[self.jets]
        inputs = store[self.inputs]
        missing = [m for m in self.constituent_moments if m not in ak.fields(inputs)]
        if missing:
            raise KeyError(f"{self.name}: {self.inputs} has no field {', '.join(missing)} for "
                           f"constituent_moments; it has {', '.join(ak.fields(inputs))}")
        labels = store[self.labels].label
        lo, hi = self.pt_range
        keep = (jets.pt >= lo) & (jets.pt < hi) & (abs(jets.eta) < self.eta_max) & (labels >= 0)
        jets, labels = jets[keep], labels[keep]
        n_jets = ak.to_numpy(ak.num(jets, axis=1))
        event_of_jet = np.repeat(np.arange(len(n_jets)), n_jets)
        # true pT through the truth match of the kept jets
        match = ak.to_numpy(ak.flatten(store[self.truth_match].index[keep])).astype(np.int64)
        truth_pt, truth_offsets = flatten_values(store[self.truth_jets].pt, dtype=np.float64)
        true_pt = np.full(match.shape, -1.0)
        has = match >= 0
        true_pt[has] = truth_pt[truth_offsets[event_of_jet[has]] + match[has]]
        # constituents of the kept jets, flat
        flat_inputs, in_offsets = flatten_jagged(inputs, (*FOUR_MOMENTUM, *self.constituent_moments),
                                                 dtype=np.float64)
        local, const_offsets = flatten_values(ak.flatten(jets.constituents, axis=1), dtype=np.int64)
        flat_index = in_offsets[np.repeat(event_of_jet, np.diff(const_offsets))] + local
        px, py, pz, e = (flat_inputs[f][flat_index] for f in FOUR_MOMENTUM)
        pt = np.hypot(px, py)
        p = np.sqrt(pt ** 2 + pz ** 2)
        eta = np.arctanh(np.divide(pz, p, out=np.zeros_like(p), where=p > 0))
        phi = np.arctan2(py, px)
        jet_cols, _ = flatten_jagged(jets, ("pt", "eta", "phi", "E"), dtype=np.float64)

        sub = jet_substructure(px, py, pz, e, const_offsets, self.R)
        tag = tagging_features(px, py, pz, e, const_offsets)
        images = jet_images(pt, eta, phi, const_offsets, n_pixels=self.n_pixels, pixel_size=self.pixel_size,
                            subjet_R=self.subjet_R)
        sets, n_const = constituent_sets(pt, eta, phi, e, const_offsets, jet_cols["pt"], jet_cols["eta"],
                                         jet_cols["phi"], jet_cols["E"], n_max=self.n_constituents,
                                         extra={m: flat_inputs[m][flat_index] for m in self.constituent_moments})
        ids = store.event_ids[event_of_jet]
        scalars = {"pt": jet_cols["pt"], "eta": jet_cols["eta"], "m": sub.mass, "sd_m": sub.sd_mass,
                   "e2": sub.e2, "e3": sub.e3, "c2": sub.c2, "d2": sub.d2, "tau1": sub.tau1, "tau2": sub.tau2,
                   "tau3": sub.tau3, "tau21": sub.tau21, "tau32": sub.tau32, **tag._asdict()}
        fields = {"label": ak.to_numpy(ak.flatten(labels)).astype(np.int32),
                  "weight": np.ones(len(event_of_jet), dtype=np.float32),
                  "split": split_of(ids["run"], ids["event"], tuple(self.split_fractions)),
                  "run": ids["run"].astype(np.int64), "event": ids["event"].astype(np.int64),
                  **{name: np.asarray(scalars[name], dtype=np.float32) for name in SCALAR_FEATURES},
                  "image": ak.from_numpy(images, regulararray=True),
                  **{f"const_{name}": ak.from_numpy(values, regulararray=True) for name, values in sets.items()},
                  "n_const": n_const, "true_pt": true_pt.astype(np.float32)}
        store.put(self.dataset, ak.unflatten(ak.zip(fields, depth_limit=1), n_jets))

