"""Tagging features (kt splitting scales, KtDR, z_cut, Q_w, shapes) against FastJet and plain numpy references."""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from hepreco.algorithms.jets.tagging_features import FEATURE_NAMES, tagging_features

fastjet = pytest.importorskip("fastjet")
ak = pytest.importorskip("awkward")

from .test_substructure import BIG_R, Jets, generate_pythia, massless, max_rel  # noqa: E402


@pytest.fixture(scope="module")
def jets():
    return Jets(generate_pythia(20, seed=11))


@pytest.fixture(scope="module")
def features(jets):
    return tagging_features(*jets.four_momenta)


def fastjet_dmerge(jets, method, n):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "dcut and exclusive jets", UserWarning)
        return np.asarray(getattr(jets.per_jet, method)(n), dtype=np.float64)


def test_kt_splitting_scales_match_fastjet_exclusive_dmerge(jets, features):
    assert len(features.sqrt_d12) > 20
    d12 = fastjet_dmerge(jets, "exclusive_dmerge", 1)
    d23 = fastjet_dmerge(jets, "exclusive_dmerge", 2)
    # FastJet's d_ij carries 1/R**2 (R = BIG_R here); ours does not
    assert max_rel(features.sqrt_d12, BIG_R * np.sqrt(d12)) < 1e-10
    assert max_rel(features.sqrt_d23, BIG_R * np.sqrt(d23)) < 1e-10
    assert (features.sqrt_d12 > 1.0).all() and (features.sqrt_d23 <= features.sqrt_d12 * 1.5).all()


def test_kt_splitting_scale_matches_fastjet_exclusive_subdmerge_of_the_jet(jets, features):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "dcut and exclusive jets", UserWarning)
        whole = jets.per_jet.exclusive_jets(n_jets=1)
        d12 = np.asarray(jets.per_jet.exclusive_subdmerge(whole, nsub=1), dtype=np.float64)
    assert max_rel(features.sqrt_d12, BIG_R * np.sqrt(d12)) < 1e-10


def mass(v):
    return np.sqrt(max(v[3] ** 2 - v[0] ** 2 - v[1] ** 2 - v[2] ** 2, 0.0))


def rap_phi(v):
    y = 0.5 * np.log((v[3] + v[2]) / (v[3] - v[2]))
    return y, np.arctan2(v[1], v[0])


def test_kt_dr_z_cut_and_qw_match_fastjet_exclusive_subjets(jets, features):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "dcut and exclusive jets", UserWarning)
        two = ak.to_list(jets.per_jet.exclusive_jets(n_jets=2))
        three = ak.to_list(jets.per_jet.exclusive_jets(n_jets=3))
    d12 = BIG_R ** 2 * fastjet_dmerge(jets, "exclusive_dmerge", 1)
    for j in range(len(two)):
        a, b = (np.array([s["px"], s["py"], s["pz"], s["E"]]) for s in two[j])
        (ya, fa), (yb, fb) = rap_phi(a), rap_phi(b)
        dphi = np.angle(np.exp(1j * (fa - fb)))
        assert features.kt_dr[j] == pytest.approx(np.hypot(ya - yb, dphi), rel=1e-9)
        assert features.z_cut[j] == pytest.approx(d12[j] / (d12[j] + mass(a + b) ** 2), rel=1e-9)
        subjets = [np.array([s["px"], s["py"], s["pz"], s["E"]]) for s in three[j]]
        qw = min(mass(p + q) for p, q in itertools.combinations(subjets, 2))
        assert features.qw[j] == pytest.approx(qw, rel=1e-8, abs=1e-6)


def shape_reference(p):
    """Planar flow, angularity (a=-2), aplanarity and Fox-Wolfram R2 of one jet, by their textbook formulas."""
    total = p.sum(axis=0)
    m = mass(total)
    n = total[:3] / np.linalg.norm(total[:3])
    # planar flow: the tensor in 3-d, projected on the plane transverse to n
    proj = np.eye(3) - np.outer(n, n)
    pt_vec = p[:, :3] @ proj
    tensor = (pt_vec[:, :, None] * pt_vec[:, None, :] / p[:, 3, None, None]).sum(axis=0)
    ev = np.sort(np.linalg.eigvalsh(tensor))[1:]  # the zero eigenvalue is along n
    pf = 4 * ev[0] * ev[1] / (ev[0] + ev[1]) ** 2
    theta = np.arccos(np.clip(p[:, :3] @ n / np.linalg.norm(p[:, :3], axis=1), -1, 1))
    ang = np.sum(p[:, 3] * np.sin(theta) ** -2.0 * (1 - np.cos(theta)) ** 3) / m
    # boost to the rest frame
    beta = total[:3] / total[3]
    gamma = total[3] / m
    b2 = beta @ beta
    bp = p[:, :3] @ beta
    q = p[:, :3] + ((gamma - 1) * bp / b2 - gamma * p[:, 3])[:, None] * beta
    s = q.T @ q / np.sum(q * q)
    aplanarity = 1.5 * np.linalg.eigvalsh(s)[0]
    qn = np.linalg.norm(q, axis=1)
    cos = (q @ q.T) / np.outer(qn, qn)
    h0 = np.sum(np.outer(qn, qn))
    h2 = np.sum(np.outer(qn, qn) * 0.5 * (3 * cos ** 2 - 1))
    return pf, ang, aplanarity, h2 / h0


def test_shape_features_match_plain_numpy_formulas(jets, features):
    for j in range(len(jets.counts)):
        sl = slice(jets.offsets[j], jets.offsets[j + 1])
        p = np.column_stack([jets.px[sl], jets.py[sl], jets.pz[sl], jets.E[sl]])
        pf, ang, apl, r2 = shape_reference(p)
        assert features.planar_flow[j] == pytest.approx(pf, rel=1e-7, abs=1e-12)
        assert features.angularity[j] == pytest.approx(ang, rel=1e-7, abs=1e-12)
        assert features.aplanarity[j] == pytest.approx(apl, rel=1e-6, abs=1e-10)
        assert features.fox_wolfram_r2[j] == pytest.approx(r2, rel=1e-7, abs=1e-12)
    assert (0 <= features.planar_flow).all() and (features.planar_flow <= 1).all()
    assert (0 <= features.aplanarity).all() and (features.aplanarity <= 0.5).all()


def test_two_body_jet_analytic_values():
    # two massless prongs, pt 300 and 100 GeV, at Delta phi = 0.4, y = 0
    p = massless(np.array([300.0, 100.0]), np.array([0.0, 0.0]), np.array([0.0, 0.4]))
    f = tagging_features(*p, np.array([0, 2]))
    assert f.sqrt_d12[0] == pytest.approx(100.0 * 0.4)
    assert f.kt_dr[0] == pytest.approx(0.4)
    m2 = 2 * 300 * 100 * (1 - np.cos(0.4))
    assert f.z_cut[0] == pytest.approx(40.0 ** 2 / (40.0 ** 2 + m2))
    assert f.sqrt_d23[0] == 0.0 and f.qw[0] == 0.0
    # a two-body system: linear energy flow (planar flow 0), back-to-back in the rest frame (aplanarity 0, R2 = 1)
    assert f.planar_flow[0] == pytest.approx(0.0, abs=1e-12)
    assert f.aplanarity[0] == pytest.approx(0.0, abs=1e-12)
    assert f.fox_wolfram_r2[0] == pytest.approx(1.0)


def test_empty_and_single_constituent_jets_give_zeros():
    p = massless(np.array([50.0]), np.array([0.3]), np.array([1.0]))
    f = tagging_features(*p, np.array([0, 0, 1]))
    for name in FEATURE_NAMES:
        assert getattr(f, name).tolist() == [0.0, 0.0], name


def test_features_are_invariant_under_azimuthal_rotation(jets, features):
    c, s = np.cos(2.5), np.sin(2.5)
    px, py, pz, E, off = jets.four_momenta
    rotated = tagging_features(c * px - s * py, s * px + c * py, pz, E, off)
    for name in FEATURE_NAMES:
        np.testing.assert_allclose(getattr(rotated, name), getattr(features, name), rtol=1e-7, atol=1e-12,
                                   err_msg=name)
