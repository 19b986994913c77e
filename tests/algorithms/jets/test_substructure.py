"""Substructure kernels against FastJet / FastJet-contrib and plain numpy references.

Jets: anti-kt R = 1.0 (FastJet) on visible final-state particles of Pythia 8
dijet events (13.6 TeV, HardQCD:all, pTHatMin 300 GeV).  FastJet's awkward
interface computes contrib observables only for *exclusive* jets of a
cluster sequence, so each jet's constituents are clustered again as one
"event" with kt and R = 1000 (FastJet's ``max_allowable_R``), whose single
exclusive jet is the jet itself with the same constituents.
"""
from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest

from hepreco.algorithms.jets import substructure as ss
from hepreco.algorithms.generation.pythia_source import generate, visible_momenta

fastjet = pytest.importorskip("fastjet")
ak = pytest.importorskip("awkward")

R_JET = 1.0
BIG_R = 1000.0  # fastjet::JetDefinition::max_allowable_R


# ----------------------------------------------------------------------------
# events and jets
# ----------------------------------------------------------------------------
def generate_pythia(n_events, seed, pthat_min=300.0):
    """Visible final-state four-momenta (GeV), one (n, 4) array per event."""
    _, particles = generate(n_events, ["HardQCD:all = on", f"PhaseSpace:pTHatMin = {pthat_min}"], seed=seed)
    return visible_momenta(particles)


def to_awkward(px, py, pz, E, counts):
    """Jagged Momentum4D-named records (px, py, pz, E), one list per count."""
    fields = {k: ak.unflatten(np.asarray(v, dtype=np.float64), counts) for k, v in
              zip(("px", "py", "pz", "E"), (px, py, pz, E))}
    return ak.zip(fields, with_name="Momentum4D")


class Jets:
    """Anti-kt R=1 jets of some events: flat constituents, offsets, FastJet jets."""

    def __init__(self, events, ptmin=200.0, min_constituents=4):
        counts = np.array([len(e) for e in events])
        flat = np.concatenate(events)
        data = to_awkward(*flat.T, counts)
        cs = fastjet.ClusterSequence(data, fastjet.JetDefinition(fastjet.antikt_algorithm, R_JET))
        jets = ak.flatten(cs.inclusive_jets(min_pt=ptmin))
        cons = ak.flatten(cs.constituents(min_pt=ptmin), axis=1)
        keep = np.asarray(ak.num(cons)) >= min_constituents
        cons = cons[keep]
        self.jets = jets[keep]
        self.counts = np.asarray(ak.num(cons), dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        c = ak.flatten(cons)
        self.px, self.py, self.pz, self.E = (np.asarray(c[k], dtype=np.float64) for k in ("px", "py", "pz", "E"))
        # every jet as one event, for the contrib observables of the awkward interface
        self.per_jet = fastjet.ClusterSequence(to_awkward(self.px, self.py, self.pz, self.E, self.counts),
                                               fastjet.JetDefinition(fastjet.kt_algorithm, BIG_R))

    def exclusive_axes(self, n_axes):
        """FastJet's exclusive kt jets (E-scheme) of every jet's constituents."""
        with warnings.catch_warnings():
            # fastjet-python warns about exclusive jets for every algorithm, kt included
            warnings.filterwarnings("ignore", "dcut and exclusive jets", UserWarning)
            return self.per_jet.exclusive_jets(n_jets=n_axes)

    @property
    def four_momenta(self):
        return self.px, self.py, self.pz, self.E, self.offsets


@pytest.fixture(scope="module")
def jets():
    j = Jets(generate_pythia(30, seed=7))
    assert len(j.counts) >= 40
    return j


@pytest.fixture(scope="module")
def result(jets):
    return ss.jet_substructure(*jets.four_momenta, R_JET)


# ----------------------------------------------------------------------------
# numpy references
# ----------------------------------------------------------------------------
def rap_phi(px, py, pz, E):
    """Rapidity and phi in [0, 2 pi) with FastJet's conventions (massive or massless)."""
    px, py, pz, E = (np.asarray(a, dtype=np.float64) for a in (px, py, pz, E))
    kt2 = px * px + py * py
    phi = np.where(kt2 == 0.0, 0.0, np.arctan2(py, px))
    phi = np.where(phi < 0.0, phi + 2.0 * np.pi, phi)
    m2 = np.maximum((E + pz) * (E - pz) - kt2, 0.0)
    epz = E + np.abs(pz)
    rap = 0.5 * np.log((kt2 + m2) / (epz * epz))
    return np.where(pz > 0.0, -rap, rap), phi


def delta_r(y1, f1, y2, f2):
    dphi = np.abs(f1 - f2)
    dphi = np.where(dphi > np.pi, 2.0 * np.pi - dphi, dphi)
    return np.sqrt((y1 - y2) ** 2 + dphi ** 2)


def tau_reference(pt, y, f, axes_y, axes_f, r0, beta=1.0):
    """Normalised N-subjettiness: sum_k pt_k min_a dR_ka**beta / (sum_k pt_k r0**beta)."""
    dr = delta_r(y[:, None], f[:, None], axes_y[None, :], axes_f[None, :])
    return np.sum(pt * dr.min(axis=1) ** beta) / (np.sum(pt) * r0 ** beta)


def ecf_reference(pt, y, f, beta=1.0):
    """ECF(1), ECF(2), ECF(3) by explicit sums over pairs and triples."""
    n = len(pt)
    dr = delta_r(y[:, None], f[:, None], y[None, :], f[None, :]) ** beta
    ecf2 = sum(pt[i] * pt[j] * dr[i, j] for i, j in itertools.combinations(range(n), 2))
    ecf3 = sum(pt[i] * pt[j] * pt[k] * dr[i, j] * dr[i, k] * dr[j, k]
               for i, j, k in itertools.combinations(range(n), 3))
    return pt.sum(), ecf2, ecf3


def max_rel(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


# ----------------------------------------------------------------------------
# comparisons with FastJet
# ----------------------------------------------------------------------------
def check_energy_correlators(jets, res, beta=1):
    ec = jets.per_jet.exclusive_jets_energy_correlator
    e2 = np.asarray(ec(njets=1, beta=beta, npoint=2, func="generalized"))
    e3 = np.asarray(ec(njets=1, beta=beta, npoint=3, func="generalized"))
    c2 = np.asarray(ec(njets=1, beta=beta, npoint=2, func="doubleratio"))
    d2 = np.asarray(ec(njets=1, beta=beta, alpha=beta, func="generalizedd2"))
    assert max_rel(res.e2, e2) < 1e-10
    assert max_rel(res.e3, e3) < 1e-10
    assert max_rel(res.c2, c2) < 1e-10
    assert max_rel(res.d2, d2) < 1e-10


def test_energy_correlators_match_fastjet_contrib(jets, result):
    check_energy_correlators(jets, result)


def test_energy_correlators_unnormalised_match_explicit_sums(jets):
    ecf1, ecf2, ecf3 = ss.energy_correlations(*jets.four_momenta, normalized=False)
    pt = np.hypot(jets.px, jets.py)
    y, f = rap_phi(jets.px, jets.py, jets.pz, jets.E)
    small = np.flatnonzero(jets.counts <= 40)[:3]
    assert len(small) > 0
    for j in small:
        sl = slice(jets.offsets[j], jets.offsets[j + 1])
        ref = ecf_reference(pt[sl], y[sl], f[sl])
        np.testing.assert_allclose([ecf1[j], ecf2[j], ecf3[j]], ref, rtol=1e-12)


def test_energy_correlators_with_beta_2_match_explicit_sums():
    rng = np.random.default_rng(3)
    n = 12
    pt = rng.exponential(10.0, n) + 1.0
    y = rng.normal(0.3, 0.3, n)
    f = rng.normal(6.1, 0.3, n) % (2 * np.pi)  # straddles phi = 0
    px, py, pz, E = pt * np.cos(f), pt * np.sin(f), pt * np.sinh(y), pt * np.cosh(y)
    yy, ff = rap_phi(px, py, pz, E)
    ecf1, ecf2, ecf3 = ecf_reference(pt, yy, ff, beta=2.0)
    e2, e3 = ss.energy_correlations(px, py, pz, E, np.array([0, n]), beta=2.0)
    np.testing.assert_allclose(e2, [ecf2 / ecf1 ** 2], rtol=1e-12)
    np.testing.assert_allclose(e3, [ecf3 / ecf1 ** 3], rtol=1e-12)


def test_nsubjettiness_matches_numpy_reference_with_fastjet_kt_axes(jets, result):
    pt = np.hypot(jets.px, jets.py)
    y, f = rap_phi(jets.px, jets.py, jets.pz, jets.E)
    for n_axes, tau in ((1, result.tau1), (2, result.tau2), (3, result.tau3)):
        axes = jets.exclusive_axes(n_axes)
        ref = np.empty(len(jets.counts))
        for j in range(len(jets.counts)):
            sl = slice(jets.offsets[j], jets.offsets[j + 1])
            ay, af = rap_phi(*(np.asarray(axes[j][k]) for k in ("px", "py", "pz", "E")))
            ref[j] = tau_reference(pt[sl], y[sl], f[sl], ay, af, R_JET)
        assert max_rel(tau, ref) < 1e-10, n_axes
    np.testing.assert_allclose(result.tau21, result.tau2 / result.tau1, rtol=1e-15)
    np.testing.assert_allclose(result.tau32, result.tau3 / result.tau2, rtol=1e-15)


def test_nsubjettiness_matches_fastjet_contrib_normalized_measure(jets, result):
    taus = np.asarray(jets.per_jet.njettiness(measure_definition="NormalizedMeasure", axes_definition="KT_Axes",
                                              njets=[1, 2, 3], beta=1.0, R0=R_JET))
    assert taus.shape == (len(jets.counts), 3)
    assert max_rel(np.column_stack([result.tau1, result.tau2, result.tau3]), taus) < 1e-10


def soft_drop_reference(jets, zcut, beta):
    return jets.per_jet.exclusive_jets_softdrop_grooming(njets=1, beta=beta, symmetry_cut=zcut, R0=R_JET)


@pytest.mark.parametrize("zcut, beta", [(0.1, 0.0), (0.2, 1.0)])
def test_soft_drop_matches_fastjet_contrib(jets, zcut, beta):
    sd = ss.soft_drop(*jets.four_momenta, R_JET, zcut=zcut, beta=beta)
    ref = soft_drop_reference(jets, zcut, beta)
    np.testing.assert_allclose(sd.mass, np.asarray(ref.msoftdrop), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(sd.pt, np.asarray(ref.ptsoftdrop), rtol=1e-12)
    np.testing.assert_allclose(sd.zg, np.asarray(ref.symmetrysoftdrop), rtol=1e-12)
    np.testing.assert_allclose(sd.rg, np.asarray(ref.deltaRsoftdrop), rtol=1e-12)
    # the kept constituents are FastJet's groomed constituents and add up to the groomed jet
    kept_counts = np.add.reduceat(sd.kept.astype(np.int64), jets.offsets[:-1])
    np.testing.assert_array_equal(kept_counts, np.asarray(ak.num(ref.constituents)))
    sums = [np.add.reduceat(np.where(sd.kept, a, 0.0), jets.offsets[:-1]) for a in jets.four_momenta[:4]]
    np.testing.assert_allclose(ss.jet_mass(*sums, np.arange(len(jets.counts) + 1)), sd.mass, rtol=1e-9, atol=1e-6)
    assert np.all(sd.mass <= ss.jet_mass(*jets.four_momenta) * (1 + 1e-12))
    if beta == 0.0:
        np.testing.assert_array_equal(sd.mass, ss.jet_substructure(*jets.four_momenta, R_JET).sd_mass)


def test_jet_mass_matches_fastjet(jets, result):
    j = jets.jets
    px, py, pz, E = (np.asarray(j[k]) for k in ("px", "py", "pz", "E"))
    mass = np.sqrt(np.maximum((E + pz) * (E - pz) - px * px - py * py, 0.0))
    np.testing.assert_allclose(result.mass, mass, rtol=1e-9)


def test_observables_are_invariant_under_rotations_across_phi_zero_and_boosts(jets, result):
    """Every jet turned so that its axis sits at phi = 0 (constituents on both sides), then boosted along z."""
    jet = np.repeat(np.arange(len(jets.counts)), jets.counts)
    phi_jet = np.arctan2(np.asarray(jets.jets["py"]), np.asarray(jets.jets["px"]))[jet]
    c, s = np.cos(-phi_jet), np.sin(-phi_jet)
    px, py = c * jets.px - s * jets.py, s * jets.px + c * jets.py
    _, f = rap_phi(px, py, jets.pz, jets.E)
    straddle = np.logical_and(np.add.reduceat(f < 1.0, jets.offsets[:-1]) > 0,
                              np.add.reduceat(f > 2 * np.pi - 1.0, jets.offsets[:-1]) > 0)
    assert straddle.all()
    dy = 0.7
    pz, E = jets.pz * np.cosh(dy) + jets.E * np.sinh(dy), jets.E * np.cosh(dy) + jets.pz * np.sinh(dy)
    for moved in (ss.jet_substructure(px, py, jets.pz, jets.E, jets.offsets, R_JET),
                  ss.jet_substructure(px, py, pz, E, jets.offsets, R_JET)):
        for name, a, b in zip(ss.Substructure._fields, moved, result):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, err_msg=name)


def test_threads_give_identical_results(jets, result):
    serial = ss.jet_substructure(*jets.four_momenta, R_JET, n_threads=1)
    threaded = ss.jet_substructure(*jets.four_momenta, R_JET, n_threads=3)
    for a, b, c in zip(serial, threaded, result):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


# ----------------------------------------------------------------------------
# small and degenerate jets
# ----------------------------------------------------------------------------
def massless(pt, y, phi):
    pt, y, phi = (np.asarray(a, dtype=np.float64) for a in (pt, y, phi))
    return pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(y), pt * np.cosh(y)


def test_two_prong_jet_by_hand():
    # two massless particles at Delta R = 0.5: mass**2 = 2 pt1 pt2 (cosh dy - cos dphi)
    px, py, pz, E = massless([300.0, 100.0], [0.0, 0.3], [1.0, 1.4])
    res = ss.jet_substructure(px, py, pz, E, np.array([0, 2]), R_JET)
    m2 = 2 * 300.0 * 100.0 * (math.cosh(0.3) - math.cos(0.4))
    np.testing.assert_allclose(res.mass, [math.sqrt(m2)], rtol=1e-12)
    np.testing.assert_allclose(res.e2, [300.0 * 100.0 * 0.5 / 400.0 ** 2], rtol=1e-12)
    np.testing.assert_array_equal(res.e3, [0.0])
    np.testing.assert_array_equal(res.c2, [0.0])
    np.testing.assert_array_equal(res.d2, [0.0])
    # one axis: the E-scheme sum; two axes: the particles themselves
    y, f = rap_phi(px.sum(), py.sum(), pz.sum(), E.sum())
    yy, ff = rap_phi(px, py, pz, E)
    tau1 = np.sum(np.array([300.0, 100.0]) * delta_r(yy, ff, y, f)) / 400.0
    np.testing.assert_allclose(res.tau1, [tau1], rtol=1e-12)
    np.testing.assert_array_equal(res.tau2, [0.0])
    np.testing.assert_array_equal(res.tau21, [0.0])
    np.testing.assert_array_equal(res.tau32, [0.0])
    # z = 0.25 > 0.1: the splitting passes and nothing is groomed away
    np.testing.assert_allclose(res.sd_mass, res.mass, rtol=1e-12)
    np.testing.assert_allclose(res.sd_zg, [0.25], rtol=1e-12)
    np.testing.assert_allclose(res.sd_rg, [0.5], rtol=1e-12)
    # z = 1/21 < 0.1: the soft particle is dropped, the groomed jet is the hard particle
    px, py, pz, E = massless([200.0, 10.0], [0.0, 0.3], [1.0, 1.4])
    sd = ss.soft_drop(px, py, pz, E, np.array([0, 2]), R_JET)
    np.testing.assert_allclose(sd.pt, [200.0], rtol=1e-12)
    assert abs(sd.mass[0]) < 1e-5
    np.testing.assert_array_equal(sd.zg, [-1.0])  # no splitting passed: fastjet-contrib's -1
    np.testing.assert_array_equal(sd.rg, [-1.0])
    np.testing.assert_array_equal(sd.kept, [True, False])


def test_empty_and_single_constituent_jets():
    px, py, pz, E = massless([50.0, 80.0, 20.0], [0.0, 1.0, 1.2], [0.0, 2.0, 2.3])
    E = E + np.array([0.0, 0.0, 0.5])  # a massive third particle
    offsets = np.array([0, 0, 1, 1, 3])  # empty, one particle, empty, two particles
    res = ss.jet_substructure(px, py, pz, E, offsets, R_JET)
    for name, values in res._asdict().items():
        assert values.shape == (4,), name
        assert np.all(np.isfinite(values)), name
        assert values[0] == 0.0 and values[2] == 0.0, name
    assert res.sd_pt[1] == pytest.approx(50.0)
    assert res.mass[1] == pytest.approx(0.0, abs=1e-5)
    assert res.tau1[1] == 0.0 and res.e2[1] == 0.0
    assert res.e2[3] > 0.0 and res.tau1[3] > 0.0


def test_input_errors_name_the_argument():
    px = np.zeros(3)
    with pytest.raises(ValueError, match="const_offsets must be non-decreasing"):
        ss.jet_substructure(px, px, px, px, np.array([0, 2, 1]), R_JET)
    with pytest.raises(ValueError, match="must have the same length"):
        ss.jet_substructure(px, px, px, np.zeros(2), np.array([0, 2]), R_JET)
    with pytest.raises(ValueError, match="R must be a positive finite number"):
        ss.jet_substructure(px, px, px, px, np.array([0, 2]), -1.0)
    with pytest.raises(ValueError, match=r"zcut must be in \[0, 0.5\)"):
        ss.soft_drop(px, px, px, px, np.array([0, 2]), R_JET, zcut=0.7)


# ----------------------------------------------------------------------------
# larger sweep
# ----------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("seed, pthat_min", [(11, 300.0), (12, 800.0)])
def test_substructure_sweep_matches_fastjet(seed, pthat_min):
    jets = Jets(generate_pythia(150, seed=seed, pthat_min=pthat_min), ptmin=250.0)
    res = ss.jet_substructure(*jets.four_momenta, R_JET)
    check_energy_correlators(jets, res)
    check_energy_correlators(jets, ss.jet_substructure(*jets.four_momenta, R_JET, beta=2.0), beta=2)
    taus = np.asarray(jets.per_jet.njettiness(measure_definition="NormalizedMeasure", axes_definition="KT_Axes",
                                              njets=[1, 2, 3], beta=1.0, R0=R_JET))
    assert max_rel(np.column_stack([res.tau1, res.tau2, res.tau3]), taus) < 1e-10
    ref = soft_drop_reference(jets, 0.1, 0.0)
    np.testing.assert_allclose(res.sd_mass, np.asarray(ref.msoftdrop), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(res.sd_zg, np.asarray(ref.symmetrysoftdrop), rtol=1e-12)
