"""Fast calorimeter simulation: determinism, chunking, physics closure."""
import dataclasses

import numpy as np
import pytest
from scipy import special, stats

from hepreco.algorithms import _random
from hepreco.algorithms._numba import jit
from hepreco.algorithms.calo import geometry, kernels, profiles

ENERGIES = (5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0)


@pytest.fixture(scope="module")
def small():
    return geometry.load_geometry("small")


@pytest.fixture(scope="module")
def em_scale(small):
    return kernels.derive_em_scale(small, n_per_energy=200, seed=99)


def run_gun(geo, pdg, energy, n, seed, params=None, eta_range=(-0.4, 0.4)):
    particles = kernels.particle_gun(pdg, energy, n, seed, eta_range=eta_range)
    seeds = _random.standalone_seeds(seed, n, stream=7)
    return kernels.simulate(geometry=geo, seeds=seeds, params=params, **particles)


def mixed_events(n_events, seed):
    """Several particles of mixed types per event, as flat arrays + offsets."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 6, n_events)
    n = counts.sum()
    kinds = rng.choice([11, -11, 22, 211, -211, 2212, -2112, 13, 14, 130], n)
    charge = np.array([{11: -1, -11: 1, 211: 1, -211: -1, 2212: 1, 13: -1}.get(k, 0)
                       for k in kinds], dtype=float)
    pt = rng.uniform(0.5, 40.0, n)
    eta = rng.uniform(-1.2, 1.2, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    mass = np.where(np.abs(kinds) == 2212, 0.938, np.where(np.abs(kinds) == 2112, 0.940,
                                                           0.14))
    pz = pt * np.sinh(eta)
    energy = np.sqrt(pt**2 + pz**2 + mass**2)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    return {"pdg_id": kinds, "charge": charge, "px": pt * np.cos(phi),
            "py": pt * np.sin(phi), "pz": pz, "energy": energy, "offsets": offsets}


def fit_resolution(energies, rel_sigma, n_events, with_noise_term=False):
    """Weighted least squares of (sigma/E)^2 = a^2/E (+ b^2/E^2) + c^2."""
    energies = np.asarray(energies, dtype=float)
    y = np.asarray(rel_sigma) ** 2
    columns = [1.0 / energies, np.ones_like(energies)]
    if with_noise_term:
        columns.insert(1, 1.0 / energies**2)
    design = np.stack(columns, axis=1)
    weight = 1.0 / (y * np.sqrt(2.0 / (np.asarray(n_events) - 1)))
    coef, *_ = np.linalg.lstsq(design * weight[:, None], y * weight, rcond=None)
    return np.sqrt(np.clip(coef, 0, None))


# --------------------------------------------------------------------------
# determinism and chunking
# --------------------------------------------------------------------------
def test_same_seeds_give_identical_results_and_other_seeds_differ(small):
    events = mixed_events(10, 3)
    seeds = _random.standalone_seeds(11, 10)
    first = kernels.simulate(geometry=small, seeds=seeds, **events)
    second = kernels.simulate(geometry=small, seeds=seeds, **events)
    np.testing.assert_array_equal(first, second)
    other = kernels.simulate(geometry=small, seeds=seeds + np.uint64(1), **events)
    assert not np.array_equal(first, other)
    assert first.dtype == np.float32 and first.shape == (10, small.n_cells)


def test_results_do_not_depend_on_how_events_are_chunked(small):
    events = mixed_events(10, 5)
    seeds = _random.standalone_seeds(12, 10)
    together = kernels.simulate(geometry=small, seeds=seeds, **events)
    assert np.count_nonzero(together.sum(axis=1)) >= 5
    offsets = events["offsets"]
    per_particle = {k: v for k, v in events.items() if k != "offsets"}
    for chunks in ([1] * 10, [3, 7], [4, 4, 2]):
        parts = []
        start = 0
        for size in chunks:
            stop = start + size
            lo, hi = offsets[start], offsets[stop]
            sub = {k: v[lo:hi] for k, v in per_particle.items()}
            parts.append(kernels.simulate(offsets=offsets[start:stop + 1] - lo,
                                          geometry=small, seeds=seeds[start:stop], **sub))
            start = stop
        np.testing.assert_array_equal(np.concatenate(parts), together)


def test_offsets_may_start_inside_a_larger_particle_array(small):
    events = mixed_events(6, 8)
    seeds = _random.standalone_seeds(3, 6)
    full = kernels.simulate(geometry=small, seeds=seeds, **events)
    tail = kernels.simulate(geometry=small, seeds=seeds[2:],
                            **{**events, "offsets": events["offsets"][2:]})
    np.testing.assert_array_equal(tail, full[2:])


# --------------------------------------------------------------------------
# what deposits energy and where
# --------------------------------------------------------------------------
def test_neutrinos_and_particles_outside_the_coverage_deposit_nothing(small):
    for pdg in (12, -14, 16):
        assert not run_gun(small, pdg, 100.0, 20, 1).any()
    assert not run_gun(small, 11, 100.0, 20, 1, eta_range=(1.5, 3.0)).any()
    along_beam = {"pdg_id": [22], "charge": [0.0], "px": [0.0], "py": [0.0],
                  "pz": [50.0], "energy": [50.0], "offsets": [0, 1]}
    assert not kernels.simulate(geometry=small, seeds=[1], **along_beam).any()
    empty = {"pdg_id": [], "charge": [], "px": [], "py": [], "pz": [], "energy": [],
             "offsets": [0, 0, 0]}
    assert kernels.simulate(geometry=small, seeds=[1, 2], **empty).shape == (2,
                                                                            small.n_cells)


def test_muons_deposit_a_mip_with_landau_like_fluctuations(small):
    cells = run_gun(small, 13, 50.0, 2000, 4)
    expected = kernels.muon_mean_deposit(small)
    assert 0.25 < expected[:4].sum() < 0.35 and 1.7 < expected[4:].sum() < 2.3
    per_layer = np.stack([cells[:, small.layer_slice(l)].sum(axis=1, dtype=np.float64)
                          for l in range(small.n_layers)], axis=1)
    np.testing.assert_allclose(per_layer.mean(axis=0), expected, rtol=0.02)
    total = per_layer.sum(axis=1)
    assert total.mean() == pytest.approx(expected.sum(), rel=0.02)
    # one cell per layer; long upper tail (mean above median)
    assert np.all(np.count_nonzero(cells, axis=1) <= small.n_layers)
    tile1 = per_layer[:, 5]
    assert np.mean(tile1) > np.median(tile1)
    assert np.percentile(tile1, 99) - np.median(tile1) > 2 * (
        np.median(tile1) - np.percentile(tile1, 1))


def test_em_showers_stay_in_the_em_layers_and_hadrons_reach_the_tile(small):
    electrons = run_gun(small, 11, 50.0, 300, 5)
    pions = run_gun(small, 211, 50.0, 300, 5)
    em_cells = slice(0, int(small.layer_offsets[4]))
    em_fraction = electrons[:, em_cells].sum() / electrons.sum()
    assert em_fraction > 0.95
    assert pions[:, em_cells].sum() / pions.sum() < 0.5
    # the EM middle layer holds most of an electron shower
    emb2 = electrons[:, small.layer_slice("EMB2")].sum() / electrons.sum()
    assert 0.75 < emb2 < 0.95


def test_lateral_profile_of_hadrons_is_wider_than_of_electrons(small):
    no_field = kernels.SimulationParameters(b_field=0.0)
    d_r = np.hypot(small.eta - 0.3, np.angle(np.exp(1j * (small.phi - 0.5))))

    def fraction_outside(pdg, radius):
        particles = kernels.particle_gun(pdg, 100.0, 200, 6, eta_range=(0.3, 0.3),
                                         phi_range=(0.5, 0.5))
        cells = kernels.simulate(geometry=small, seeds=_random.standalone_seeds(6, 200),
                                 params=no_field, **particles)
        return cells[:, d_r > radius].sum() / cells.sum()

    assert fraction_outside(11, 0.15) < 1e-3
    assert fraction_outside(211, 0.15) > 5e-3


def test_electron_cluster_shape_in_the_middle_layer():
    """About 95% of the EMB2 energy of an electron in 3 x 3 cells of 0.025."""
    geo = geometry.load_geometry("atlas-like")
    layer = geo.layer_index("EMB2")
    n_eta, n_phi = int(geo.layer_n_eta[layer]), int(geo.layer_n_phi[layer])
    cells = run_gun(geo, 11, 100.0, 100, 6, eta_range=(0.3, 0.4))
    grid = cells[:, geo.layer_slice(layer)].reshape(-1, n_eta, n_phi)
    ratios = []
    for event in grid:
        i, j = np.unravel_index(np.argmax(event), event.shape)
        phis = [(j + k) % n_phi for k in range(-3, 4)]
        window = event[i - 3:i + 4][:, phis]
        ratios.append(window[2:5, 2:5].sum() / window.sum())
    assert 0.92 < np.mean(ratios) < 0.97


def test_solenoid_bends_charged_particles_by_the_helix_formula(small):
    pt, b_field = 3.0, 2.0
    params = kernels.SimulationParameters(b_field=b_field, solenoid_radius=1e5)
    eta = np.array([0.2, 0.2])
    phi0 = 0.3
    event = {"pdg_id": [13, -13], "charge": [-1.0, 1.0],
             "px": [pt * np.cos(phi0)] * 2, "py": [pt * np.sin(phi0)] * 2,
             "pz": pt * np.sinh(eta), "energy": np.hypot(pt * np.cosh(eta), 0.10566),
             "offsets": [0, 1, 2]}
    cells = kernels.simulate(geometry=small, seeds=[1, 2], params=params, **event)
    for row, charge in zip(cells, (-1.0, 1.0)):
        hit = np.flatnonzero(row)
        assert len(hit) == small.n_layers
        r_m = small.layer_r / 1000.0
        phi = phi0 - charge * np.arcsin(0.3 * b_field * r_m / (2 * pt))
        # the helix keeps pz/pT, so z = s_T pz/pT with s_T the transverse arc
        arc = 2 * pt / (0.3 * b_field) * np.arcsin(0.3 * b_field * r_m / (2 * pt))
        eta_l = np.arcsinh(arc * np.sinh(0.2) / r_m)
        expected = small.find_cell(np.arange(small.n_layers), eta_l, phi)
        np.testing.assert_array_equal(np.sort(hit), np.sort(expected))
    # B = 0: both go straight
    straight = kernels.simulate(geometry=small, seeds=[1, 2], params=dataclasses.replace(
        params, b_field=0.0), **event)
    np.testing.assert_array_equal(np.flatnonzero(straight[0]), np.flatnonzero(straight[1]))


def test_positive_particles_bend_to_smaller_phi_and_low_pt_ones_curl(small):
    params = kernels.SimulationParameters(b_field=2.0, solenoid_radius=1150.0)

    def muon(pt, charge):
        event = {"pdg_id": [-13 if charge > 0 else 13], "charge": [charge],
                 "px": [pt], "py": [0.0], "pz": [0.0], "energy": [np.hypot(pt, 0.10566)],
                 "offsets": [0, 1]}
        return kernels.simulate(geometry=small, seeds=[5], params=params, **event)[0]

    plus, minus = muon(1.0, 1.0), muon(1.0, -1.0)
    assert np.all(small.phi[np.flatnonzero(plus)] < 0)
    assert np.all(small.phi[np.flatnonzero(minus)] > 0)
    # 0.3 * 2 T * 1.15 m / 2 = 0.345 GeV: below it the muon curls inside the field
    assert not muon(0.30, 1.0).any()
    assert muon(0.40, 1.0).any()


def test_invalid_inputs_are_rejected_with_the_argument_named(small):
    event = mixed_events(3, 1)
    with pytest.raises(ValueError, match=r"seeds must have shape \(3,\)"):
        kernels.simulate(geometry=small, seeds=[1, 2], **event)
    with pytest.raises(ValueError, match=r"px must be a flat array"):
        kernels.simulate(geometry=small, seeds=[1, 2, 3], **{**event, "px": event["px"][:-1]})
    with pytest.raises(ValueError, match=r"em_sampling must be >= 0"):
        kernels.SimulationParameters(em_sampling=-0.1)
    with pytest.raises(TypeError, match=r"b_field must be a finite number"):
        kernels.SimulationParameters(b_field="2T")


# --------------------------------------------------------------------------
# response and resolution
# --------------------------------------------------------------------------
def test_em_scale_is_close_to_one_for_the_shipped_geometry(em_scale):
    assert em_scale == pytest.approx(1.0, abs=0.002)


@pytest.mark.parametrize("pdg", [11, 22])
def test_electron_and_photon_closure_and_resolution(small, em_scale, pdg):
    params = kernels.SimulationParameters()
    n_events = [1500, 1500, 1500, 2000, 2500, 3000, 3000]
    means, sigmas = [], []
    for energy, n in zip(ENERGIES, n_events):
        response = kernels.em_response(small, pdg, energy, n, seed=int(energy) + pdg,
                                       eta_range=(-0.5, 0.5)) * em_scale
        means.append(response.mean())
        sigmas.append(response.std(ddof=1))
        assert response.mean() == pytest.approx(1.0, abs=0.01), energy
    a, c = fit_resolution(ENERGIES, sigmas, n_events)
    assert a == pytest.approx(params.em_sampling, rel=0.10)
    assert c == pytest.approx(params.em_constant, rel=0.10)


def test_charged_pion_response_matches_the_configured_non_compensation(small):
    params = kernels.SimulationParameters()
    for energy in (10.0, 30.0, 100.0):
        cells = run_gun(small, 211, energy, 1500, int(energy))
        response = cells.sum(axis=1, dtype=np.float64).mean() / energy
        expected = kernels.mean_pion_response(energy, params)
        assert response == pytest.approx(expected, rel=0.03), energy
    assert 0.6 < kernels.mean_pion_response(20.0) < 0.75
    # a compensating calorimeter (e/h = 1, no leakage to speak of) reads ~E
    compensating = dataclasses.replace(params, e_over_h=1.0)
    cells = run_gun(small, 211, 30.0, 500, 31, params=compensating)
    assert cells.sum(axis=1, dtype=np.float64).mean() / 30.0 == pytest.approx(1.0, abs=0.03)


@pytest.mark.slow
@pytest.mark.parametrize("pdg", [11, 22])
def test_closure_and_resolution_on_the_atlas_like_geometry(pdg):
    geo = geometry.load_geometry("atlas-like")
    scale = kernels.derive_em_scale(geo, n_per_energy=300, seed=5)
    params = kernels.SimulationParameters()
    energies = (5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0)
    n_events = 6000
    sigmas = []
    for energy in energies:
        response = kernels.em_response(geo, pdg, energy, n_events, seed=int(energy) + 3,
                                       eta_range=(-2.0, 2.0)) * scale
        assert response.mean() == pytest.approx(1.0, abs=0.005), energy
        sigmas.append(response.std(ddof=1))
    a, c = fit_resolution(energies, sigmas, [n_events] * len(energies))
    print(f"pdg {pdg}: em_scale = {scale:.5f}, fitted a = {a:.4f} GeV^1/2, c = {c:.5f}")
    assert a == pytest.approx(params.em_sampling, rel=0.05)
    assert c == pytest.approx(params.em_constant, rel=0.05)


@pytest.mark.slow
def test_pion_response_sweep_on_the_atlas_like_geometry():
    geo = geometry.load_geometry("atlas-like")
    for energy in (5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0):
        response = kernels.em_response(geo, 211, energy, 3000, seed=int(energy))
        expected = kernels.mean_pion_response(energy)
        print(f"pi+ {energy:5.0f} GeV: <E_vis>/E = {response.mean():.4f}, expected "
              f"{expected:.4f}, sigma/mean = {response.std() / response.mean():.3f}")
        assert response.mean() == pytest.approx(expected, rel=0.04), energy


# --------------------------------------------------------------------------
# shower-shape helpers against scipy
# --------------------------------------------------------------------------
@jit
def _gammainc_grid(a_values, x_values):
    out = np.empty((a_values.shape[0], x_values.shape[0]))
    for i in range(a_values.shape[0]):
        for j in range(x_values.shape[0]):
            out[i, j] = profiles.gammainc_lower(a_values[i], x_values[j])
    return out


@jit
def _cdf_values(x):
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = profiles.norm_cdf_fast(x[i])
    return out


@jit
def _cell_weights(centre, sigma, first_edge, width, n, open_low, open_high):
    out = np.empty(n)
    profiles.gaussian_cell_weights(centre, sigma, first_edge, width, n, open_low,
                                   open_high, out)
    return out


def test_incomplete_gamma_matches_scipy():
    a = np.array([0.3, 1.0, 1.05, 2.5, 4.0, 7.7, 15.0, 40.0])
    x = np.concatenate([[0.0, 1e-6], np.geomspace(1e-3, 200.0, 60)])
    np.testing.assert_allclose(_gammainc_grid(a, x), special.gammainc(a[:, None], x),
                               rtol=1e-11, atol=1e-14)


def test_tabulated_normal_cdf_and_cell_weights_match_scipy():
    x = np.linspace(-9.0, 9.0, 10001)
    np.testing.assert_allclose(_cdf_values(x), stats.norm.cdf(x), atol=2e-7)
    edges = 0.3 + 0.25 * np.arange(11)
    closed = _cell_weights(1.37, 0.6, 0.3, 0.25, 10, False, False)
    np.testing.assert_allclose(closed, np.diff(stats.norm.cdf(edges, 1.37, 0.6)),
                               atol=5e-7)
    folded = _cell_weights(1.37, 0.6, 0.3, 0.25, 10, True, True)
    assert folded.sum() == pytest.approx(1.0, abs=1e-15)
    assert np.all(folded >= 0)
    assert folded[0] == pytest.approx(stats.norm.cdf(0.55, 1.37, 0.6), abs=5e-7)
