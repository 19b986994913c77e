"""hls4ml's 16 jet features: the numba kernels against a direct numpy/itertools computation."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from hepreco.algorithms.jets.hls4ml_features import FEATURES, groomed_ecfs, hls4ml_jet_features
from hepreco.algorithms.jets.substructure import soft_drop


def random_jets(n_jets, seed, n_max=12):
    """Flat constituents of jets around random axes: (px, py, pz, E, offsets)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, n_max + 1, size=n_jets)
    counts[:3] = [1, 2, 3]
    offsets = np.concatenate(([0], np.cumsum(counts)))
    axis_eta = np.repeat(rng.uniform(-2, 2, n_jets), counts)
    axis_phi = np.repeat(rng.uniform(-np.pi, np.pi, n_jets), counts)
    n = offsets[-1]
    pt = rng.exponential(50.0, n) + 0.5
    eta = axis_eta + rng.normal(0, 0.3, n)
    phi = axis_phi + rng.normal(0, 0.3, n)
    m = rng.uniform(0, 0.5, n)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px ** 2 + py ** 2 + pz ** 2 + m ** 2)
    return px, py, pz, e, offsets


def reference_ecfs(px, py, pz, e):
    """e2(b0, b1, b2), e3(1, 2), 1e3(1, 2), 2e3(1, 2) of one jet by direct sums over pairs and triplets."""
    pt = np.hypot(px, py)
    z = pt / pt.sum()
    y = 0.5 * np.log((e + pz) / (e - pz))
    phi = np.arctan2(py, px)

    def r(i, j):
        dphi = np.abs(phi[i] - phi[j])
        dphi = min(dphi, 2 * np.pi - dphi)
        return np.hypot(y[i] - y[j], dphi)

    e2 = [sum(z[i] * z[j] * r(i, j) ** b for i, j in itertools.combinations(range(len(z)), 2)) for b in (0, 1, 2)]
    e3, m3, n3 = [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]
    for i, j, k in itertools.combinations(range(len(z)), 3):
        zzz = z[i] * z[j] * z[k]
        a, b, c = sorted((r(i, j), r(i, k), r(j, k)))
        for n, beta in enumerate((1, 2)):
            e3[n] += zzz * (a * b * c) ** beta
            m3[n] += zzz * a ** beta
            n3[n] += zzz * (a * b) ** beta
    return np.array([*e2, *e3, *m3, *n3])


def reference_features(px, py, pz, e, kept, sd_mass):
    """The 16 features of one jet from its constituents and the soft-drop kept mask."""
    e2b0, e2b1, e2b2, e3b1, e3b2, m3b1, m3b2, n3b1, n3b2 = reference_ecfs(px[kept], py[kept], pz[kept], e[kept])
    z = np.hypot(px, py) / np.hypot(px, py).sum()

    def ratio(a, b):
        return a / b if b != 0 else 0.0

    return {"j_zlogz": float(np.sum(z * np.log(z))), "j_c1_b0_mmdt": e2b0, "j_c1_b1_mmdt": e2b1,
            "j_c1_b2_mmdt": e2b2, "j_c2_b1_mmdt": ratio(e3b1, e2b1 ** 2), "j_c2_b2_mmdt": ratio(e3b2, e2b2 ** 2),
            "j_d2_b1_mmdt": ratio(e3b1, e2b1 ** 3), "j_d2_b2_mmdt": ratio(e3b2, e2b2 ** 3),
            "j_d2_a1_b1_mmdt": ratio(e3b1, e2b1 ** 3), "j_d2_a1_b2_mmdt": ratio(e3b1, e2b2 ** 1.5),
            "j_m2_b1_mmdt": ratio(m3b1, e2b1), "j_m2_b2_mmdt": ratio(m3b2, e2b2),
            "j_n2_b1_mmdt": ratio(n3b1, e2b1 ** 2), "j_n2_b2_mmdt": ratio(n3b2, e2b2 ** 2),
            "j_mass_mmdt": sd_mass, "j_multiplicity": float(len(px))}


def test_energy_correlation_sums_match_direct_pair_and_triplet_sums():
    px, py, pz, e, off = random_jets(40, seed=1)
    ours = groomed_ecfs(px, py, pz, e, off, n_threads=1)
    for j in range(len(off) - 1):
        s = slice(off[j], off[j + 1])
        np.testing.assert_allclose(ours[j], reference_ecfs(px[s], py[s], pz[s], e[s]), rtol=1e-10, atol=1e-14)
    # one constituent: nothing to correlate; two: no triplets
    assert ours[0].tolist() == [0.0] * 9
    assert ours[1, 3:].tolist() == [0.0] * 6 and ours[1, 0] > 0


@pytest.mark.parametrize("n_threads", [1, 3])
def test_the_sixteen_features_match_a_numpy_computation_on_the_groomed_jets(n_threads):
    px, py, pz, e, off = random_jets(60, seed=2)
    ours = hls4ml_jet_features(px, py, pz, e, off, 0.8, n_threads=n_threads)
    assert tuple(ours) == FEATURES and len(FEATURES) == 16
    sd = soft_drop(px, py, pz, e, off, 0.8, zcut=0.1, beta=0.0)
    groomed = 0
    for j in range(len(off) - 1):
        s = slice(off[j], off[j + 1])
        kept = sd.kept[s]
        groomed += int(not kept.all())
        ref = reference_features(px[s], py[s], pz[s], e[s], kept, sd.mass[j])
        for name in FEATURES:
            assert ours[name][j] == pytest.approx(ref[name], rel=1e-9, abs=1e-12), (name, j)
    assert groomed > 5   # the grooming removed constituents of several jets: the _mmdt features see it


def test_a_jet_without_grooming_gives_the_same_correlations_as_the_ungroomed_sums():
    px, py, pz, e, off = random_jets(20, seed=3)
    sd = soft_drop(px, py, pz, e, off, 0.8, zcut=0.1, beta=0.0)
    ours = hls4ml_jet_features(px, py, pz, e, off, 0.8)
    ungroomed = groomed_ecfs(px, py, pz, e, off)
    jet_all_kept = [j for j in range(len(off) - 1) if sd.kept[off[j]:off[j + 1]].all()]
    assert jet_all_kept
    for j in jet_all_kept:
        assert ours["j_c1_b1_mmdt"][j] == ungroomed[j, 1] and ours["j_c1_b2_mmdt"][j] == ungroomed[j, 2]


def test_bad_offsets_are_refused():
    with pytest.raises(ValueError, match="const_offsets"):
        hls4ml_jet_features(np.ones(3), np.ones(3), np.ones(3), np.full(3, 2.0), np.array([0, 5]), 0.8)
