"""The particle gun source: pi0 -> gamma gamma decay kinematics, log-flat energies, the shot particle's truth."""
import awkward as ak
import numpy as np
import pytest

from hepreco.algorithms.calo.gun import MASS, min_opening_angle, two_body_decay_massless
from hepreco.algorithms.calo.sources import ParticleGunSource
from hepreco.framework.testing import make_services

M_PI0 = MASS[111]


def decays(energy, n, seed=3):
    rng = np.random.default_rng(seed)
    eta, phi = rng.uniform(-1, 1, n), rng.uniform(-np.pi, np.pi, n)
    p = np.sqrt(energy ** 2 - M_PI0 ** 2)
    pt = p / np.cosh(eta)
    parent = (pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), np.full(n, float(energy)))
    return parent, two_body_decay_massless(*parent, rng.uniform(-1, 1, n), rng.uniform(0, 2 * np.pi, n))


def opening_angle(px, py, pz):
    a, b = np.stack([px[:, 0], py[:, 0], pz[:, 0]], 1), np.stack([px[:, 1], py[:, 1], pz[:, 1]], 1)
    cos = np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return np.arccos(np.clip(cos, -1, 1))


@pytest.mark.parametrize("energy", [1.0, 10.0, 100.0])
def test_pi0_decay_conserves_four_momentum_into_two_massless_photons(energy):
    (px, py, pz, e), (gx, gy, gz, ge) = decays(energy, 2000)
    for parent, daughters in ((px, gx), (py, gy), (pz, gz), (e, ge)):
        np.testing.assert_allclose(daughters.sum(axis=1), parent, rtol=1e-9, atol=1e-9 * energy)
    np.testing.assert_allclose(ge, np.sqrt(gx ** 2 + gy ** 2 + gz ** 2), rtol=1e-9)
    # the invariant mass of the pair is the pi0 mass
    m2 = ge.sum(1) ** 2 - gx.sum(1) ** 2 - gy.sum(1) ** 2 - gz.sum(1) ** 2
    np.testing.assert_allclose(np.sqrt(m2), M_PI0, rtol=1e-5)


@pytest.mark.parametrize("energy", [2.0, 20.0, 200.0])
def test_pi0_opening_angle_never_below_and_piles_up_at_the_analytic_minimum(energy):
    _, (gx, gy, gz, _) = decays(energy, 20000)
    theta = opening_angle(gx, gy, gz)
    minimum = min_opening_angle(energy)
    assert minimum == pytest.approx(2 * M_PI0 / energy, rel=1e-3 if energy > 10 else 0.01)
    assert theta.min() >= minimum * (1 - 1e-6)
    # the Jacobian peak: a large share of decays lies within 10% of the minimum angle
    assert theta.min() < minimum * 1.001
    assert np.mean(theta < 1.1 * minimum) > 0.3


def test_pi0_photon_energy_fraction_is_flat_between_the_kinematic_limits():
    energy = 5.0
    _, (_, _, _, ge) = decays(energy, 40000)
    beta = np.sqrt(1 - (M_PI0 / energy) ** 2)
    x = ge[:, 0] / energy
    assert x.min() >= (1 - beta) / 2 - 1e-12 and x.max() <= (1 + beta) / 2 + 1e-12
    counts, _ = np.histogram(x, bins=10, range=((1 - beta) / 2, (1 + beta) / 2))
    assert np.all(np.abs(counts - 4000) < 5 * np.sqrt(4000))


def gun(**props):
    source = ParticleGunSource(**props)
    source.services = make_services(seed=11)
    n = 400
    (item,) = source.work_items(n, n, run=2)
    return source.read(item)


def test_gun_pi0_gives_two_photons_and_keeps_the_pi0_as_the_gun_particle():
    ids, data = gun(pdg_ids=[111, 22], energy_range=[10.0, 100.0])
    truth, shot = data["TruthParticles"], data["GunParticles"]
    assert ak.num(shot).tolist() == [1] * 400
    assert ak.num(truth).tolist() == [2, 1] * 200
    assert ak.flatten(truth.pdg_id).tolist() == [22, 22, 22] * 200
    assert ak.flatten(shot.pdg_id).tolist() == [111, 22] * 200
    assert set(ak.flatten(truth.status).tolist()) == {1}
    for field in ("px", "py", "pz", "E"):
        np.testing.assert_allclose(ak.to_numpy(ak.sum(truth[field], axis=1)), ak.to_numpy(shot[field][:, 0]),
                                   rtol=1e-9, atol=1e-9)
    theta = opening_angle(*(ak.to_numpy(truth[f][::2]) for f in ("px", "py", "pz")))
    assert np.all(theta >= min_opening_angle(ak.to_numpy(shot.E[::2, 0])) * (1 - 1e-6))


def test_gun_pi0_decay_off_leaves_one_pi0_and_every_draw_of_the_other_particles_unchanged():
    _, on = gun(pdg_ids=[111, 211], energy_range=[1.0, 500.0])
    _, off = gun(pdg_ids=[111, 211], energy_range=[1.0, 500.0], decay_pi0=False)
    assert ak.num(off["TruthParticles"]).tolist() == [1] * 400
    assert ak.all(off["TruthParticles"].pdg_id == off["GunParticles"].pdg_id)
    assert on["GunParticles"].tolist() == off["GunParticles"].tolist()
    assert on["TruthParticles"][1::2].tolist() == off["TruthParticles"][1::2].tolist()


def test_gun_energies_are_flat_in_log_e_or_in_e():
    _, data = gun(pdg_ids=[22], energy_range=[1.0, 500.0])
    e = ak.to_numpy(data["GunParticles"].E[:, 0])
    assert e.min() >= 1.0 and e.max() <= 500.0
    counts, _ = np.histogram(np.log(e), bins=4, range=(0, np.log(500.0)))
    assert np.all(np.abs(counts - 100) < 4 * 10), counts  # flat in log E: 100 per bin
    _, data = gun(pdg_ids=[22], energy_range=[1.0, 500.0], log_energy=False)
    e = ak.to_numpy(data["GunParticles"].E[:, 0])
    counts, _ = np.histogram(e, bins=4, range=(1.0, 500.0))
    assert np.all(np.abs(counts - 100) < 4 * 10), counts
    # uniform in E puts 1/500 of the events below 2 GeV, flat in log E 11%: the two laws differ
    assert np.mean(e < 2.0) < 0.03


@pytest.mark.parametrize("power", [2.0, 3.0])
def test_gun_energies_fall_as_the_requested_power_of_e(power):
    _, data = gun(pdg_ids=[22], energy_range=[5.0, 500.0], energy_power=power)
    e = ak.to_numpy(data["GunParticles"].E[:, 0])
    assert e.min() >= 5.0 and e.max() <= 500.0
    # the cumulative distribution of dN/dE ~ E^-n on [lo, hi], against the drawn energies (Kolmogorov distance)
    a = 1.0 - power
    cdf = (np.sort(e) ** a - 5.0 ** a) / (500.0 ** a - 5.0 ** a)
    ks = np.max(np.abs(cdf - (np.arange(1, len(e) + 1) - 0.5) / len(e)))
    assert ks < 1.63 / np.sqrt(len(e)), ks  # 99% critical value
    # half of an E^-2 spectrum from 5 GeV lies below 2 x 5 GeV (exactly 50.5% on [5, 500])
    if power == 2.0:
        assert np.mean(e < 10.0) == pytest.approx(0.505, abs=0.08)
