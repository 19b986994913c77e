"""The five classes of hls4ml's jet tagger (g, q, W, Z, top) on constructed cases and on Pythia generator truth."""
from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from hepreco.algorithms.generation.pythia_source import generate_collections
from hepreco.algorithms.jets.hls4ml_dataset import Hls4mlJetDatasetMaker
from hepreco.algorithms.jets.hls4ml_features import FEATURES
from hepreco.algorithms.jets.jet_datasets import JetTruthLabeller
from hepreco.algorithms.jets.jet_finder import AntiKtJetFinder
from hepreco.algorithms.jets.labelling import QCD, TOP, UNCONTAINED, W, Z, hls4ml_labels, nearest_parton
from hepreco.framework.testing import run

QCD_SETTINGS = ["HardQCD:all = on", "PhaseSpace:pTHatMin = 700.", "PhaseSpace:pTHatMax = 1300."]
TTBAR = ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "PhaseSpace:pTHatMin = 700.", "24:onMode = off",
         "24:onIfAny = 1 2 3 4 5"]


def momentum(eta, phi, pt=100.0):
    return pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)


def test_nearest_parton_takes_the_closest_within_the_radius_per_event():
    partons = np.array([momentum(0.0, 0.0), momentum(0.0, 0.5), momentum(1.0, np.pi - 0.05)])
    jets_eta = np.array([0.1, 0.0, 3.0, 1.0])
    jets_phi = np.array([0.35, -0.1, 0.0, -np.pi + 0.05])
    # event 0: jets 0-2 and partons 0-1; event 1: jet 3 and parton 2 (across phi = pi)
    index, dr = nearest_parton(jets_eta, jets_phi, np.array([0, 3, 4]), *partons.T, np.array([0, 2, 3]),
                               max_dr=0.8)
    assert index.tolist() == [1, 0, -1, 0]
    assert dr[1] == pytest.approx(0.1) and dr[3] == pytest.approx(0.1) and np.isinf(dr[2])
    with pytest.raises(ValueError, match="jet_offsets describe 2 events, parton_offsets 1"):
        nearest_parton(jets_eta, jets_phi, np.array([0, 3, 4]), *partons.T, np.array([0, 3]), max_dr=0.8)


def test_five_classes_split_qcd_by_the_parton_and_keep_w_z_top():
    label = np.array([QCD, QCD, QCD, QCD, QCD, QCD, W, Z, TOP, UNCONTAINED])
    parton = np.array([21, 1, -2, 3, 4, 5, 0, 0, 0, 21])
    assert hls4ml_labels(label, parton).tolist() == [0, 1, 1, 1, -1, -1, 2, 3, 4, -1]
    assert hls4ml_labels(np.array([QCD]), np.array([0])).tolist() == [-1]   # no parton matched


def dataset(settings, n_events, sample, seed=5):
    ids, data = generate_collections(n_events, settings, seed=seed)
    algs = [AntiKtJetFinder(name="AntiKt8Truth", R=0.8, ptmin=500.0, exclude_pdg=[12, 14, 16]),
            JetTruthLabeller(name="Labels", jets="AntiKt8TruthJets", sample=sample, max_dr=0.6),
            Hls4mlJetDatasetMaker(name="Maker", jets="AntiKt8TruthJets", labels="Labels")]
    return data, run(algs, inputs=data)


def test_qcd_jets_on_generator_truth_are_labelled_by_their_own_outgoing_parton():
    data, result = dataset(QCD_SETTINGS, 30, "qcd")
    records = result["Hls4mlJetDataset"]
    flat = ak.flatten(records)
    assert len(flat) >= 20
    assert set(np.unique(ak.to_numpy(flat.label))) <= {0, 1} and 0 < np.mean(ak.to_numpy(flat.label)) < 1
    partons = data["TruthPartons"]
    assert ak.all(ak.num(partons) == 2)
    # every record's label is the flavour of the parton closest to the jet (found here with plain Python)
    jets = result["AntiKt8TruthJets"]
    checked = 0
    for ev in range(len(records)):
        for rec in ak.to_list(records[ev]):
            jet = min(ak.to_list(jets[ev]), key=lambda j: abs(j["pt"] - rec["pt"]))
            best = min(ak.to_list(partons[ev]), key=lambda p: (np.arcsinh(p["pz"] / np.hypot(p["px"], p["py"]))
                                                                - jet["eta"]) ** 2
                       + ((np.arctan2(p["py"], p["px"]) - jet["phi"] + np.pi) % (2 * np.pi) - np.pi) ** 2)
            assert rec["label"] == (0 if best["pdg_id"] == 21 else 1)
            assert 800 <= rec["pt"] < 1200 and abs(rec["eta"]) < 2
            checked += 1
    assert checked == len(flat)
    assert all(np.isfinite(ak.to_numpy(flat[name])).all() for name in FEATURES)


def test_ttbar_jets_on_generator_truth_are_top_and_heavier_than_qcd_jets():
    _, top = dataset(TTBAR, 30, "signal")
    _, qcd = dataset(QCD_SETTINGS, 30, "qcd")
    t, q = ak.flatten(top["Hls4mlJetDataset"]), ak.flatten(qcd["Hls4mlJetDataset"])
    assert len(t) >= 10 and ak.all(t.label == 4)
    assert np.median(ak.to_numpy(t.j_mass_mmdt)) > 140 > np.median(ak.to_numpy(q.j_mass_mmdt))
    assert np.median(ak.to_numpy(t.j_n2_b1_mmdt)) != np.median(ak.to_numpy(q.j_n2_b1_mmdt))
