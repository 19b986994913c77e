"""The dataset of hls4ml's jet-tagging network made from hepreco's jets: 16 features, 5 classes (g, q, W, Z, top).

``Hls4mlJetDatasetMaker`` reads large-R jets with their constituents, the
W/Z/top/QCD labels of :class:`~.jet_datasets.JetTruthLabeller` and the
outgoing partons of the hard process (``TruthPartons`` of
:class:`~hepreco.algorithms.generation.pythia_source.PythiaSource`), and puts
one record per labelled jet in the pT/eta range: ``label`` (index of
:data:`~.labelling.HLS4ML_CLASSES`), ``split``, ``run``, ``event``, ``pt``,
``eta`` and the features of :mod:`.hls4ml_features` under hls4ml's names.
:mod:`hepreco.algorithms.fpga.jet_data` turns the written files into the
``(x, y)`` arrays of the network's training.
"""
from __future__ import annotations

import awkward as ak
import numpy as np

from hepreco.framework import Algorithm, Input, Output, Property

from ..arrays import flatten_jagged
from ..ml.splits import split_of
from .hls4ml_features import FEATURES, hls4ml_jet_features
from .jet_datasets import check_range_and_splits
from .jet_shapes import gather_constituents
from .labelling import hls4ml_labels, nearest_parton

__all__ = ["Hls4mlJetDatasetMaker"]


class Hls4mlJetDatasetMaker(Algorithm):
    """One record per jet of class g, q, W, Z or top in the pT/eta range, with hls4ml's 16 jet features.

    Record fields: ``label`` (int32: 0 g, 1 q, 2 W, 3 Z, 4 top), ``split``
    (int8, 0 train, 1 validation, 2 test, from ``split_of(run, event)``),
    ``run``, ``event`` (int64), ``pt`` (GeV), ``eta`` and the float32
    features of :data:`~.hls4ml_features.FEATURES` (``j_mass_mmdt`` in GeV).
    A QCD jet is a gluon or a light-quark jet by the outgoing parton of the
    hard process closest to its axis within ``parton_dr``; QCD jets matched
    to a c or b quark, or to no parton, are left out.
    """

    jets = Input("AntiKt8TruthJets", doc="jets with constituent indices (pt, eta, phi)",
                 match={"R": "R", "inputs": "inputs"})
    inputs = Input("TruthParticles", doc="the collection the jets were made from (px, py, pz, E)")
    labels = Input("JetTruthLabels", doc="JetTruthLabeller output for these jets (W, Z, top, QCD)")
    partons = Input("TruthPartons", doc="outgoing partons of the hard process (pdg_id, px, py, pz)")
    dataset = Output("Hls4mlJetDataset", doc="per event, one record per selected jet (see the class docstring)")
    pt_range = Property([800.0, 1200.0], doc="jet pT range [min, max)", unit="GeV", items=float)
    eta_max = Property(2.0, doc="largest jet |eta|", gt=0)
    R = Property(0.8, doc="jet radius (soft-drop R0)", gt=0)
    zcut = Property(0.1, doc="soft-drop z_cut of the _mmdt features", gt=0, lt=0.5)
    parton_dr = Property(0.8, doc="largest Delta R between a QCD jet and its parton", gt=0)
    split_fractions = Property([0.8, 0.1, 0.1], doc="train, validation, test fractions of events", items=float)

    def check(self, registry) -> None:
        check_range_and_splits(self)

    def execute(self, store) -> None:
        jets = store[self.jets]
        jet_cols, jet_offsets = flatten_jagged(jets, ("pt", "eta", "phi"), dtype=np.float64)
        partons, parton_offsets = flatten_jagged(store[self.partons], ("pdg_id", "px", "py", "pz"))
        index, _ = nearest_parton(jet_cols["eta"], jet_cols["phi"], jet_offsets, partons["px"], partons["py"],
                                  partons["pz"], parton_offsets, max_dr=self.parton_dr)
        n_jets = np.diff(jet_offsets)
        event_of_jet = np.repeat(np.arange(len(n_jets)), n_jets)
        has = index >= 0
        pdg = np.zeros(len(index), dtype=np.int64)
        pdg[has] = partons["pdg_id"][parton_offsets[event_of_jet[has]] + index[has]]
        label = hls4ml_labels(ak.to_numpy(ak.flatten(store[self.labels].label)), pdg)
        lo, hi = self.pt_range
        keep = ((label >= 0) & (jet_cols["pt"] >= lo) & (jet_cols["pt"] < hi)
                & (np.abs(jet_cols["eta"]) < self.eta_max))
        momenta, const_offsets, _ = gather_constituents(jets[ak.unflatten(keep, n_jets)], store[self.inputs])
        features = hls4ml_jet_features(momenta["px"], momenta["py"], momenta["pz"], momenta["E"], const_offsets,
                                       self.R, zcut=self.zcut)
        ids = store.event_ids[event_of_jet[keep]]
        fields = {"label": label[keep], "split": split_of(ids["run"], ids["event"], tuple(self.split_fractions)),
                  "run": ids["run"].astype(np.int64), "event": ids["event"].astype(np.int64),
                  "pt": jet_cols["pt"][keep].astype(np.float32), "eta": jet_cols["eta"][keep].astype(np.float32),
                  **{name: features[name].astype(np.float32) for name in FEATURES}}
        counts = np.bincount(event_of_jet[keep], minlength=len(n_jets))
        store.put(self.dataset, ak.unflatten(ak.zip(fields, depth_limit=1), counts))
