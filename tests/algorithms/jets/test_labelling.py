"""Truth labels of large-R jets: containment on constructed cases, and W', ttbar, dijet Pythia events."""
from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from hepreco.algorithms.generation.pythia_source import generate_collections
from hepreco.algorithms.jets.jet_datasets import JetTruthLabeller
from hepreco.algorithms.jets.jet_finder import AntiKtJetFinder
from hepreco.algorithms.jets.labelling import QCD, TOP, UNCONTAINED, W, Z, label_jets
from hepreco.framework.testing import run

WPRIME = ["NewGaugeBoson:ffbar2Wprime = on", "34:m0 = 1500.", "Wprime:coup2WZ = 1.", "34:onMode = off",
          "34:onIfAll = 23 24", "24:onMode = off", "24:onIfAny = 1 2 3 4 5", "23:onMode = off",
          "23:onIfAny = 1 2 3 4 5"]
TTBAR = ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "PhaseSpace:pTHatMin = 500.", "24:onMode = off",
         "24:onIfAny = 1 2 3 4 5"]


def row(pdg, eta, phi, parent, pt=100.0):
    return pdg, pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), parent


def labels_of(jets, truth, **kw):
    """Labels of jets [(eta, phi)] in one event with truth rows [(pdg, px, py, pz, parent)]."""
    jets = np.array(jets, dtype=np.float64).reshape(-1, 2)
    t = np.array(truth, dtype=np.float64).reshape(-1, 5)
    return label_jets(jets[:, 0], jets[:, 1], np.array([0, len(jets)]), t[:, 0].astype(int), t[:, 1], t[:, 2],
                      t[:, 3], t[:, 4].astype(int), np.array([0, len(t)]), **kw)


def test_w_with_both_quarks_inside_is_labelled_w():
    truth = [row(24, 0.0, 1.0, -1), row(1, 0.3, 1.2, 0), row(-2, -0.2, 0.8, 0)]
    label, index, dr = labels_of([(0.1, 1.0)], truth)
    assert label.tolist() == [W] and index.tolist() == [0] and dr[0] == pytest.approx(0.1)


def test_a_quark_outside_the_containment_radius_leaves_the_jet_unlabelled():
    truth = [row(23, 0.0, 0.0, -1), row(1, 0.0, 0.2, 0), row(-1, 0.0, -0.76, 0)]
    assert labels_of([(0.0, 0.0)], truth)[0].tolist() == [UNCONTAINED]
    # a larger radius contains it
    assert labels_of([(0.0, 0.0)], truth, max_dr=0.8)[0].tolist() == [Z]
    # the boson itself outside: no label even if the quarks are inside
    far = [row(23, 0.0, 0.0, -1), row(1, 0.0, 0.9, 0), row(-1, 0.0, 0.7, 0)]
    assert labels_of([(0.0, 0.8)], far)[0].tolist() == [UNCONTAINED]


def test_containment_wraps_around_phi_pi():
    truth = [row(24, 0.0, np.pi - 0.1, -1), row(3, 0.0, -np.pi + 0.2, 0), row(-4, 0.2, np.pi - 0.3, 0)]
    assert labels_of([(0.0, -np.pi + 0.05)], truth)[0].tolist() == [W]


def test_top_needs_its_b_and_both_w_quarks_and_its_w_is_no_candidate_of_its_own():
    top = [row(6, 0.0, 0.0, -1), row(24, 0.2, 0.1, 0), row(2, 0.3, 0.2, 1), row(-1, 0.1, 0.3, 1),
           row(5, -0.3, -0.2, 0)]
    assert labels_of([(0.0, 0.0)], top)[0].tolist() == [TOP]
    b_outside = top[:4] + [row(5, -0.9, -0.2, 0)]
    # the W and its quarks are inside, but a W from a top is not a W jet
    assert labels_of([(0.1, 0.1)], b_outside)[0].tolist() == [UNCONTAINED]


def test_leptonic_decays_are_not_candidates():
    truth = [row(24, 0.0, 0.0, -1), row(11, 0.1, 0.1, 0), row(-12, -0.1, 0.0, 0)]
    assert labels_of([(0.0, 0.0)], truth)[0].tolist() == [UNCONTAINED]


def test_the_closest_contained_candidate_wins_and_each_jet_is_labelled_on_its_own():
    truth = [row(24, 0.0, 0.0, -1), row(1, 0.1, 0.0, 0), row(-2, -0.1, 0.0, 0),
             row(23, 0.0, 0.5, -1), row(1, 0.0, 0.6, 3), row(-1, 0.0, 0.4, 3)]
    label, index, _ = labels_of([(0.0, 0.4), (0.0, 0.05), (2.0, 2.0)], truth)
    assert label.tolist() == [Z, W, UNCONTAINED] and index.tolist() == [3, 0, -1]


def test_qcd_sample_labels_every_jet_qcd_and_bad_offsets_are_refused():
    truth = [row(24, 0.0, 0.0, -1), row(1, 0.1, 0.0, 0), row(-2, -0.1, 0.0, 0)]
    assert labels_of([(0.0, 0.0), (1.0, 1.0)], truth, qcd_sample=True)[0].tolist() == [QCD, QCD]
    with pytest.raises(ValueError, match="jet_offsets describe 2 events, truth_offsets 1"):
        label_jets(np.zeros(1), np.zeros(1), np.array([0, 1, 1]), np.zeros(0), np.zeros(0), np.zeros(0),
                   np.zeros(0), np.zeros(0), np.array([0, 0]))


def truth_jet_labels(settings, n_events, sample="signal", seed=3):
    ids, data = generate_collections(n_events, settings, seed=seed)
    finder = AntiKtJetFinder(name="AntiKt10Truth", R=1.0, ptmin=300.0, exclude_pdg=[12, 14, 16, 13])
    labeller = JetTruthLabeller(name="Labels", jets="AntiKt10TruthJets", sample=sample)
    result = run([finder, labeller], inputs=data)
    return data["TruthHardProcess"], result["AntiKt10TruthJets"], result["Labels"]


def test_hard_process_of_wprime_events_holds_a_w_and_a_z_with_two_quarks_each():
    truth, _, _ = truth_jet_labels(WPRIME, 6)
    for event in ak.to_list(truth):
        top_level = [r["pdg_id"] for r in event if r["parent"] == -1]
        assert sorted(abs(p) for p in top_level) == [23, 24]
        for k, r in enumerate(event):
            if r["parent"] == -1:
                quarks = [q for q in event if q["parent"] == k]
                assert len(quarks) == 2 and all(1 <= abs(q["pdg_id"]) <= 5 for q in quarks)


def test_wprime_truth_jets_are_mostly_labelled_w_or_z_matching_the_generator():
    truth, jets, labels = truth_jet_labels(WPRIME, 20)
    flat = ak.flatten(labels)
    assert len(flat) >= 20
    label = ak.to_numpy(flat.label)
    assert np.isin(label, [W, Z, UNCONTAINED]).all()
    assert np.mean(label >= 0) > 0.6
    # the matched truth particle is the W or Z the label names
    for ev in range(len(jets)):
        for lab, idx in zip(ak.to_list(labels[ev].label), ak.to_list(labels[ev].truth_index)):
            if lab >= 0:
                assert abs(truth[ev][idx].pdg_id) == {W: 24, Z: 23}[lab]


def test_ttbar_truth_jets_include_top_labels_and_dijets_only_qcd():
    _, _, labels = truth_jet_labels(TTBAR, 12)
    label = ak.to_numpy(ak.flatten(labels).label)
    assert np.isin(label, [TOP, UNCONTAINED]).all() and np.mean(label == TOP) > 0.25
    truth, _, qcd = truth_jet_labels(["HardQCD:all = on", "PhaseSpace:pTHatMin = 400."], 5, sample="qcd")
    assert ak.sum(ak.num(truth)) == 0  # no W, Z or top in dijet events
    assert len(ak.flatten(qcd)) >= 5 and ak.all(ak.flatten(qcd).label == QCD)
