"""Constituent sets: ordering, padding, and invariance under permutation, rotation in phi and translation in eta."""
from __future__ import annotations

import numpy as np
import pytest

from hepreco.algorithms.jets.constituent_sets import SET_FIELDS, constituent_sets


def random_jets(rng, n_jets=6, phi0=3.0):
    counts = rng.integers(1, 80, n_jets)
    off = np.concatenate([[0], np.cumsum(counts)])
    n = off[-1]
    pt = rng.exponential(20.0, n)
    eta = rng.normal(0.0, 0.3, n) + np.repeat(rng.uniform(-1.5, 1.5, n_jets), counts)
    phi = rng.normal(0.0, 0.3, n) + np.repeat(rng.uniform(-np.pi, np.pi, n_jets), counts) + phi0
    phi = np.angle(np.exp(1j * phi))
    e = pt * np.cosh(eta)
    jet = np.repeat(np.arange(n_jets), counts)
    jet_pt = np.bincount(jet, pt)
    jet_eta = np.array([np.average(eta[jet == j], weights=pt[jet == j]) for j in range(n_jets)])
    jet_phi = np.array([np.angle(np.sum(pt[jet == j] * np.exp(1j * phi[jet == j]))) for j in range(n_jets)])
    jet_e = np.bincount(jet, e)
    moment = rng.uniform(0, 1000, n)
    return dict(pt=pt, eta=eta, phi=phi, E=e, off=off, jet=(jet_pt, jet_eta, jet_phi, jet_e), moment=moment)


def sets_of(j, n_max=50, **changes):
    d = {**j, **changes}
    return constituent_sets(d["pt"], d["eta"], d["phi"], d["E"], d["off"], *d["jet"], n_max=n_max,
                            extra={"center_lambda": d["moment"]})


@pytest.fixture
def jets():
    return random_jets(np.random.default_rng(4))


def test_sets_are_pt_ordered_zero_padded_with_the_real_count(jets):
    sets, n_const = sets_of(jets)
    counts = np.diff(jets["off"])
    assert n_const.dtype == np.int32 and n_const.tolist() == np.minimum(counts, 50).tolist()
    assert set(sets) == {*SET_FIELDS, "center_lambda"}
    for name, values in sets.items():
        assert values.dtype == np.float32 and values.shape == (len(counts), 50)
    for j, n in enumerate(n_const):
        frac = sets["pt_frac"][j]
        assert (np.diff(frac[:n]) <= 0).all() and (frac[:n] > 0).all()
        for values in sets.values():
            assert (values[j, n:] == 0).all()
        # the leading constituents, with their own moments
        sl = slice(jets["off"][j], jets["off"][j + 1])
        lead = np.argsort(-jets["pt"][sl], kind="stable")[:n]
        np.testing.assert_allclose(sets["pt_frac"][j, :n], jets["pt"][sl][lead] / jets["jet"][0][j], rtol=1e-6)
        np.testing.assert_allclose(sets["center_lambda"][j, :n], jets["moment"][sl][lead], rtol=1e-6)
        np.testing.assert_allclose(sets["deta"][j, :n], jets["eta"][sl][lead] - jets["jet"][1][j], atol=1e-6)


def test_dphi_is_folded_across_phi_pi(jets):
    sets, n_const = sets_of(jets)
    assert np.abs(sets["dphi"]).max() < 2.0  # the jets straddle +-pi (phi0 = 3), yet dphi stays small


def test_permutation_of_constituents_gives_the_same_set(jets):
    rng = np.random.default_rng(9)
    perm = np.concatenate([rng.permutation(np.arange(a, b)) for a, b in zip(jets["off"][:-1], jets["off"][1:])])
    shuffled = {k: jets[k][perm] for k in ("pt", "eta", "phi", "E", "moment")}
    a, na = sets_of(jets)
    b, nb = sets_of(jets, **shuffled)
    assert na.tolist() == nb.tolist()
    for name in a:
        assert np.array_equal(a[name], b[name]), name


def test_equal_pt_constituents_are_ordered_by_position_not_by_input_order():
    pt = np.array([10.0, 10.0, 5.0])
    eta = np.array([0.2, -0.1, 0.0])
    phi = np.zeros(3)
    for order in ([0, 1, 2], [1, 0, 2], [2, 1, 0]):
        sets, _ = constituent_sets(pt[order], eta[order], phi[order], pt[order], [0, 3], [25.0], [0.0], [0.0],
                                   [25.0], n_max=4)
        assert sets["deta"][0].tolist() == pytest.approx([-0.1, 0.2, 0.0, 0.0])


def test_rotation_in_phi_and_translation_in_eta_leave_the_set_unchanged(jets):
    a, _ = sets_of(jets)
    jet_pt, jet_eta, jet_phi, jet_e = jets["jet"]
    rotated, _ = sets_of(jets, phi=np.angle(np.exp(1j * (jets["phi"] + 2.2))),
                         jet=(jet_pt, jet_eta, np.angle(np.exp(1j * (jet_phi + 2.2))), jet_e))
    for name in a:
        np.testing.assert_allclose(rotated[name], a[name], atol=2e-6, err_msg=name)
    shifted, _ = sets_of(jets, eta=jets["eta"] + 0.7, jet=(jet_pt, jet_eta + 0.7, jet_phi, jet_e))
    for name in ("pt_frac", "deta", "dphi", "center_lambda"):
        np.testing.assert_allclose(shifted[name], a[name], atol=2e-6, err_msg=name)


def test_truncation_keeps_the_hardest_and_errors_name_the_argument(jets):
    full, _ = sets_of(jets, n_max=200)
    short, n_const = sets_of(jets, n_max=5)
    assert (n_const <= 5).all()
    for name in full:
        assert np.array_equal(short[name], full[name][:, :5])
    with pytest.raises(ValueError, match="n_max must be >= 1, got 0"):
        sets_of(jets, n_max=0)
    with pytest.raises(ValueError, match="extra set field 'deta' clashes"):
        constituent_sets(jets["pt"], jets["eta"], jets["phi"], jets["E"], jets["off"], *jets["jet"],
                         extra={"deta": jets["pt"]})
