"""Digitisation, cell building, noise cut, conditions and the random streams."""
import math

import numpy as np
import pytest
from scipy import stats

from hepreco.algorithms import _random
from hepreco.algorithms._numba import jit
from hepreco.algorithms.calo import geometry, kernels


@pytest.fixture(scope="module")
def small():
    return geometry.load_geometry("small")


@pytest.fixture(scope="module")
def conditions(small):
    return kernels.make_conditions(small, seed=17)


def digitise_with(conditions, energy, seeds, **kwargs):
    return kernels.digitise(energy, conditions["pedestal"], conditions["gain"],
                            conditions["noise_sigma"], seeds,
                            adc_max=conditions["adc_max"], **kwargs)


def build_with(conditions, adc, **kwargs):
    return kernels.build_cells(adc, conditions["pedestal"], conditions["gain"],
                               conditions["dead_mask"], **kwargs)


# --------------------------------------------------------------------------
# noise
# --------------------------------------------------------------------------
def test_noise_only_events_have_gaussian_tails(small, conditions):
    n_events = 2500  # 2500 x 4000 cells = 1e7 samples
    energy = np.zeros((n_events, small.n_cells), dtype=np.float32)
    adc = digitise_with(conditions, energy, _random.standalone_seeds(4, n_events))
    cells = build_with(conditions, adc)
    alive = ~conditions["dead_mask"]
    significance = cells[:, alive] / conditions["cell_noise"][alive]
    n = significance.size
    for k in (2.0, 4.0):
        expected = 2 * stats.norm.sf(k)  # 4.55e-2 and 6.33e-5
        observed = np.count_nonzero(np.abs(significance) > k) / n
        error = math.sqrt(expected * (1 - expected) / n)
        assert abs(observed - expected) < 4 * error, (k, observed, expected, error)
    assert abs(significance.mean()) < 5 / math.sqrt(n)
    assert significance.std() == pytest.approx(1.0, abs=0.002)
    assert np.all(cells[:, conditions["dead_mask"]] == 0)


def test_digitiser_refuses_a_separate_pileup_noise(small, conditions):
    from hepreco.algorithms.calo.cell_chain import CaloDigitiser
    from hepreco.framework.errors import PropertyError

    with pytest.raises(PropertyError, match=r"pileup_noise.*was removed.*PileupOverlay"):
        CaloDigitiser(pileup_noise=0.05)
    assert CaloDigitiser(pileup_noise=0.0).pileup_noise == 0.0
    with pytest.raises(TypeError, match="pileup_sigma"):
        kernels.digitise(np.zeros((1, small.n_cells), dtype=np.float32), conditions["pedestal"],
                         conditions["gain"], conditions["noise_sigma"], _random.standalone_seeds(5, 1),
                         pileup_sigma=np.full(small.n_cells, 0.05))


def test_digitisation_is_deterministic_per_event(small, conditions):
    rng = np.random.default_rng(1)
    energy = rng.exponential(1.0, (6, small.n_cells)).astype(np.float32)
    seeds = _random.standalone_seeds(8, 6)
    together = digitise_with(conditions, energy, seeds)
    np.testing.assert_array_equal(together, digitise_with(conditions, energy, seeds))
    parts = [digitise_with(conditions, energy[i:i + 1], seeds[i:i + 1]) for i in range(6)]
    np.testing.assert_array_equal(np.concatenate(parts), together)
    assert not np.array_equal(together, digitise_with(conditions, energy, seeds + 1))


# --------------------------------------------------------------------------
# ADC conversion and cell building
# --------------------------------------------------------------------------
def test_noise_free_round_trip_is_exact_to_half_a_count(small, conditions):
    rng = np.random.default_rng(2)
    energy = rng.uniform(-1.0, 200.0, (20, small.n_cells)).astype(np.float32)
    zero_noise = np.zeros(small.n_cells)
    adc = kernels.digitise(energy, conditions["pedestal"], conditions["gain"], zero_noise,
                           _random.standalone_seeds(1, 20), adc_max=conditions["adc_max"])
    assert adc.dtype == np.uint16
    cells = build_with(conditions, adc)
    alive = ~conditions["dead_mask"]
    tolerance = conditions["gain"] * 0.5 + 1e-4
    assert np.all(np.abs(cells - energy)[:, alive] <= tolerance[alive])
    assert np.all(cells[:, ~alive] == 0)


def test_adc_saturates_at_both_ends():
    energy = np.array([[-100.0, 0.0, 1.0, 1e6]], dtype=np.float32)
    pedestal = np.full(4, 1000.0)
    gain = np.full(4, 0.01)
    adc = kernels.digitise(energy, pedestal, gain, np.zeros(4), [3], adc_max=4095)
    np.testing.assert_array_equal(adc, [[0, 1000, 1100, 4095]])
    wide = kernels.digitise(energy, pedestal, gain, np.zeros(4), [3], adc_max=2**20 - 1)
    assert wide.dtype == np.int32
    np.testing.assert_array_equal(wide, [[0, 1000, 1100, 2**20 - 1]])


def test_build_cells_matches_numpy_reference(small, conditions):
    rng = np.random.default_rng(3)
    adc = rng.integers(0, 5000, (7, small.n_cells)).astype(np.uint16)
    reference = ((adc.astype(np.float64) - conditions["pedestal"]) * conditions["gain"])
    reference[:, conditions["dead_mask"]] = 0.0
    cells = build_with(conditions, adc)
    assert cells.dtype == np.float32 and cells.shape == adc.shape
    np.testing.assert_allclose(cells, reference, rtol=1e-6, atol=1e-5)
    scaled = build_with(conditions, adc, em_scale=1.02)
    np.testing.assert_allclose(scaled, 1.02 * reference, rtol=1e-6, atol=1e-5)
    buffer = np.empty(adc.shape, dtype=np.float32)
    assert build_with(conditions, adc, out=buffer) is buffer
    np.testing.assert_array_equal(buffer, cells)
    # many events x few cells and one event x many cells use the same blocks
    np.testing.assert_array_equal(build_with(conditions, adc[:1]), cells[:1])


@pytest.mark.parametrize("dtype", [np.uint16, np.int32])
def test_build_cells_streaming_stores_are_bit_identical_to_plain_stores(dtype):
    from hepreco.algorithms.calo.digitisation import _build_kernel

    rng = np.random.default_rng(5)
    n_cells = 16384 + 1000 + 3  # a second, partial block; rows start off the 64-byte grid
    adc = rng.integers(0, 4096, (5, n_cells)).astype(dtype)
    pedestal = rng.uniform(0, 100, n_cells).astype(np.float32)
    scale = rng.uniform(0, 0.1, n_cells).astype(np.float32)
    plain = np.full(adc.shape, np.nan, dtype=np.float32)
    _build_kernel(adc, pedestal, scale, False, plain)
    reference = (adc.astype(np.float32) - pedestal) * scale
    np.testing.assert_array_equal(plain, reference)
    for shift in range(4):  # output rows starting at every float32 offset of a cache line
        buffer = np.full(adc.size + 16, np.nan, dtype=np.float32)
        streamed = buffer[shift:shift + adc.size].reshape(adc.shape)
        _build_kernel(adc, pedestal, scale, True, streamed)
        np.testing.assert_array_equal(streamed, reference)
        assert np.isnan(buffer[:shift]).all() and np.isnan(buffer[shift + adc.size:]).all()


def test_noise_cut_matches_numpy_reference():
    rng = np.random.default_rng(4)
    energy = rng.normal(0.0, 1.0, (5, 1000)).astype(np.float32)
    sigma = rng.uniform(0.5, 1.5, 1000)
    cut = kernels.noise_cut(energy, sigma, 2.0)
    keep = np.abs(energy) > (2.0 * sigma).astype(np.float32)
    np.testing.assert_array_equal(cut, np.where(keep, energy, 0.0))
    one_sided = kernels.noise_cut(energy, sigma, 2.0, absolute=False)
    assert np.all(one_sided >= 0)
    np.testing.assert_array_equal(one_sided > 0, energy > (2.0 * sigma).astype(np.float32))
    in_place = energy.copy()
    kernels.noise_cut(in_place, sigma, 2.0, out=in_place)
    np.testing.assert_array_equal(in_place, cut)
    with pytest.raises(ValueError, match=r"noise_cut: sigma must have shape \(1000,\)"):
        kernels.noise_cut(energy, sigma[:10], 2.0)


def test_digitise_rejects_bad_arguments(small, conditions):
    energy = np.zeros((2, small.n_cells), dtype=np.float32)
    with pytest.raises(ValueError, match=r"digitise: seeds must have shape \(2,\)"):
        digitise_with(conditions, energy, [1])
    with pytest.raises(ValueError, match=r"digitise: gain must have shape"):
        kernels.digitise(energy, conditions["pedestal"], conditions["gain"][:5],
                         conditions["noise_sigma"], [1, 2])
    with pytest.raises(TypeError, match=r"build_cells: adc must hold integers"):
        kernels.build_cells(energy, conditions["pedestal"], conditions["gain"],
                            conditions["dead_mask"])


# --------------------------------------------------------------------------
# conditions
# --------------------------------------------------------------------------
def test_conditions_are_deterministic_and_sensible():
    geo = geometry.load_geometry("atlas-like")
    first = kernels.make_conditions(geo, seed=3)
    second = kernels.make_conditions(geo, seed=3)
    for key in ("pedestal", "gain", "noise_sigma", "dead_cells"):
        np.testing.assert_array_equal(first[key], second[key])
    other = kernels.make_conditions(geo, seed=4)
    assert not np.array_equal(first["pedestal"], other["pedestal"])
    assert first["dead_cells"].size == round(0.001 * geo.n_cells)
    assert np.count_nonzero(first["dead_mask"]) == first["dead_cells"].size
    assert first["pedestal"].mean() == pytest.approx(1000.0, abs=1.0)
    assert 15 < first["pedestal"].std() < 25
    noise = first["noise_sigma"]
    for layer, lo, hi in (("PreSampler", 0.02, 0.03), ("EMB1", 0.02, 0.03),
                          ("EMB2", 0.03, 0.05), ("TileBar1", 0.05, 0.1)):
        cells = geo.layer_slice(layer)
        assert lo <= noise[cells].min() and noise[cells].max() <= hi
    # noise is about two ADC counts (Gaussian after rounding) and a TeV fits
    counts = noise / first["gain"]
    assert np.all((counts > 1.5) & (counts < 2.7))
    assert first["adc_max"] == 65535
    assert first["max_energy"][geo.layer_slice("EMB2")].min() > 1000.0
    assert first["max_energy"][geo.layer_slice("TileBar0")].min() > 2000.0
    with pytest.raises(KeyError, match=r"no layer 'EMB9'"):
        kernels.make_conditions(geo, seed=1, noise={"EMB9": 0.1})


# --------------------------------------------------------------------------
# random streams (hepreco.algorithms._random)
# --------------------------------------------------------------------------
@jit
def _draw_all(seed, n):
    state = _random.new_state(seed, 1)
    out = np.empty((n, 6))
    for i in range(n):
        out[i, 0] = _random.normal(state)
        out[i, 1] = _random.gamma(state, 0.5)
        out[i, 2] = _random.gamma(state, 7.5)
        out[i, 3] = _random.poisson(state, 3.3)
        out[i, 4] = _random.poisson(state, 250.0)
        out[i, 5] = _random.moyal(state)
    return out


@jit
def _fill(seed, n, block):
    state = _random.new_state(seed, 2)
    out = np.empty(n)
    for start in range(0, n, block):
        _random.fill_normal(state, out[start:min(start + block, n)])
    single = np.empty(n)
    state = _random.new_state(seed, 2)
    for i in range(n):
        single[i] = _random.normal(state)
    return out, single


def test_random_draws_have_the_right_moments():
    n = 200_000
    draws = _draw_all(np.uint64(7), n)
    for column, mean, var in ((0, 0.0, 1.0), (1, 0.5, 0.5), (2, 7.5, 7.5), (3, 3.3, 3.3),
                              (4, 250.0, 250.0), (5, _random.MOYAL_MEAN, np.pi**2 / 2)):
        x = draws[:, column]
        assert abs(x.mean() - mean) < 5 * math.sqrt(var / n), column
        assert x.var() == pytest.approx(var, rel=0.03), column
    assert stats.kstest(draws[:, 0], "norm").pvalue > 1e-3
    assert stats.kstest(draws[:, 2], "gamma", args=(7.5,)).pvalue > 1e-3
    u = _random.uniform_array(3, n)
    assert np.all((u > 0) & (u < 1))
    assert stats.kstest(u, "uniform").pvalue > 1e-3


def test_fill_normal_reproduces_the_scalar_sequence():
    blocked, single = _fill(np.uint64(5), 100_003, 1024)
    np.testing.assert_array_equal(blocked, single)


def test_standalone_seeds_depend_only_on_the_event_index():
    all_seeds = _random.standalone_seeds(42, 100)
    np.testing.assert_array_equal(_random.standalone_seeds(42, 10, first_event=90),
                                  all_seeds[90:])
    assert len(np.unique(all_seeds)) == 100
    assert not np.array_equal(_random.standalone_seeds(43, 100), all_seeds)
    assert not np.array_equal(_random.standalone_seeds(42, 100, stream=1), all_seeds)
    with pytest.raises(ValueError, match="non-negative"):
        _random.standalone_seeds(-1, 3)


# --------------------------------------------------------------------------
# full chain (slow)
# --------------------------------------------------------------------------
@pytest.mark.slow
def test_full_chain_electron_resolution_with_noise(small):
    """simulate -> digitise -> build -> sum in a cone (Delta R < 0.35): fit a, b (noise) and c.

    No dead cells here: an electron hitting one loses a random part of its
    energy, which would add to the constant term.
    """
    conditions = kernels.make_conditions(small, seed=17, dead_fraction=0.0)
    params = kernels.SimulationParameters(b_field=0.0)
    scale = kernels.derive_em_scale(small, params, n_per_energy=300, seed=8)
    energies = np.array([5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0])
    n_events = 4000
    sigmas, noise_var = [], []
    live = ~conditions["dead_mask"]
    for energy in energies:
        particles = kernels.particle_gun(11, energy, n_events, int(energy),
                                         eta_range=(-0.4, 0.4))
        truth = kernels.simulate(
            geometry=small, seeds=_random.standalone_seeds(int(energy), n_events),
            params=params, **particles)
        adc = digitise_with(conditions, truth,
                            _random.standalone_seeds(int(energy) + 1, n_events))
        cells = build_with(conditions, adc, em_scale=scale)
        eta = np.arcsinh(particles["pz"] / np.hypot(particles["px"], particles["py"]))
        phi = np.arctan2(particles["py"], particles["px"])
        d_phi = np.angle(np.exp(1j * (small.phi[None, :] - phi[:, None])))
        # larger than the half-diagonal of the coarsest cells (0.2 x 0.39)
        cone = np.hypot(small.eta[None, :] - eta[:, None], d_phi) < 0.35
        response = np.where(cone, cells, 0).sum(axis=1, dtype=np.float64) / energy
        truth_in_cone = np.where(cone & live, truth, 0).sum(axis=1, dtype=np.float64)
        # noise averages out: the mean follows the live truth in the cone
        error = 5 * response.std() / math.sqrt(n_events)
        assert response.mean() == pytest.approx(scale * truth_in_cone.mean() / energy,
                                                abs=error)
        sigmas.append(response.std(ddof=1))
        noise_var.append(np.mean(np.where(cone & live, conditions["cell_noise"]
                                          .astype(np.float64) ** 2, 0).sum(axis=1)))
    y = np.asarray(sigmas) ** 2
    design = np.stack([1 / energies, 1 / energies**2, np.ones_like(energies)], axis=1)
    weight = 1.0 / (y * math.sqrt(2.0 / (n_events - 1)))
    coef, *_ = np.linalg.lstsq(design * weight[:, None], y * weight, rcond=None)
    a, b, c = np.sqrt(np.clip(coef, 0, None))
    print(f"fitted a = {a:.4f} GeV^1/2, b = {b:.3f} GeV, c = {c:.5f}; expected b = "
          f"{math.sqrt(np.mean(noise_var)) * scale:.3f} GeV")
    assert b == pytest.approx(math.sqrt(np.mean(noise_var)) * scale, rel=0.10)
    assert a == pytest.approx(params.em_sampling, rel=0.10)
    assert c == pytest.approx(params.em_constant, rel=0.15)
