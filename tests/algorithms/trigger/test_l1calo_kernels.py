"""Level-1 calorimeter kernels on hand-made cells and towers whose results are known exactly."""
import itertools

import numpy as np
import pytest

from hepreco.algorithms.trigger import kernels as K

from .components import DPHI_TOWER, deposit, geometry, tower_centre

LSB = 0.5


def towers_of(cells, noise_cut=0, max_count=255, lsb=LSB):
    m = K.tower_map(geometry())
    return K.tower_counts(np.atleast_2d(cells).astype(np.float32), *m.tables(), m.n_eta, m.n_phi, lsb, noise_cut,
                          max_count)


def empty_towers(n_events=1):
    return np.zeros((n_events, 2, 16, 64), dtype=np.int32)


def objects(offsets, values, fields, event=0):
    return [dict(zip(fields, (int(x) for x in values[:, k]))) for k in range(offsets[event], offsets[event + 1])]


# -- towers -------------------------------------------------------------------------------------
def test_tower_map_grid_of_the_test_geometry():
    m = K.tower_map(geometry())
    assert (m.n_eta, m.n_phi) == (16, 64)
    assert m.eta_min == pytest.approx(-0.8) and m.phi_min == pytest.approx(-np.pi)
    kind, ieta, iphi, weight = m.cell_tower(geometry().n_cells)
    g = geometry()
    # every cell is in the tower that contains its centre, with weight 1/cosh(eta)
    assert np.array_equal(ieta, np.floor((g.eta + 0.8) / 0.1 + 1e-9).astype(int))
    assert np.array_equal(iphi, np.floor((g.phi + np.pi) / DPHI_TOWER + 1e-9).astype(int))
    assert np.array_equal(kind, g.layer_kind[g.layer])
    assert np.allclose(weight, 1 / np.cosh(g.eta))
    assert K.tower_map(geometry()) is m  # cached


def test_cells_sum_into_em_and_hadronic_towers():
    g = geometry()
    cells = np.zeros(g.n_cells)
    eta, phi = tower_centre(3, 10)
    # four EM cells of tower (3, 10) and one EM cell of tower (4, 10); one hadronic cell of (3, 10)
    for de, dp, et in ((-0.025, -0.02, 2.0), (-0.025, 0.02, 3.0), (0.025, -0.02, 4.0), (0.025, 0.02, 1.25)):
        deposit(cells, g, "EM", eta + de, phi + dp, et)
    deposit(cells, g, "EM", eta + 0.1, phi, 7.3)
    deposit(cells, g, "HAD", eta, phi, 20.2)
    towers = towers_of(cells)[0]
    expected = np.zeros((2, 16, 64), dtype=np.int32)
    expected[0, 3, 10] = 20    # 10.25 GeV -> floor(20.5)
    expected[0, 4, 10] = 14    # 7.3 GeV -> floor(14.6)
    expected[1, 3, 10] = 40    # 20.2 GeV
    assert np.array_equal(towers, expected)


def test_quantisation_truncates_cuts_noise_and_saturates():
    g = geometry()
    cells = np.zeros((1, g.n_cells))
    deposit(cells, g, "EM", *tower_centre(0, 0), 0.99)      # 1 count: below a noise cut of 2
    deposit(cells, g, "EM", *tower_centre(1, 0), 1.0)       # 2 counts: kept
    deposit(cells, g, "EM", *tower_centre(2, 0), 500.0)     # 1000 counts: saturates at 255
    deposit(cells, g, "EM", *tower_centre(3, 0), -3.0)      # negative sum: 0
    deposit(cells, g, "HAD", *tower_centre(4, 0), 127.74)   # 255 counts exactly
    towers = towers_of(cells, noise_cut=2, max_count=255)[0]
    assert towers[0, :5, 0].tolist() == [0, 2, 255, 0, 0]
    assert towers[1, 4, 0] == 255
    assert towers_of(cells, noise_cut=0)[0, 0, 0, 0] == 1
    assert towers_of(cells, lsb=1.0, noise_cut=0)[0, 0, 2, 0] == 255
    assert towers.sum() == 2 + 255 + 255


def test_towers_agree_with_a_numpy_reduction_of_random_cells():
    g = geometry()
    rng = np.random.default_rng(3)
    cells = rng.exponential(0.8, (5, g.n_cells)).astype(np.float32)
    kind, ieta, iphi, weight = K.tower_map(g).cell_tower(g.n_cells)
    flat = (kind * 16 + ieta) * 64 + iphi
    reference = np.zeros((5, 2 * 16 * 64))
    for ev in range(5):
        reference[ev] = np.bincount(flat, weights=cells[ev].astype(np.float64) * weight, minlength=2 * 16 * 64)
    expected = np.clip(np.floor(reference / LSB), 0, 255).astype(np.int32).reshape(5, 2, 16, 64)
    assert np.array_equal(towers_of(cells), expected)



@pytest.mark.parametrize("name, ratios", [("atlas-like", {1, 4}), ("small", {0})])
def test_towers_of_shipped_geometries_agree_with_a_numpy_reduction(name, ratios):
    """Layers whose phi cells fall 1 or 4 per tower in order take the contiguous paths, others the phi map."""
    from hepreco.algorithms.calo.geometry import load_geometry

    g = load_geometry(name)
    m = K.tower_map(g)
    assert set(m.group_ratio.tolist()) == ratios
    rng = np.random.default_rng(5)
    cells = rng.exponential(0.3, (3, g.n_cells)).astype(np.float32)
    kind, ieta, iphi, weight = m.cell_tower(g.n_cells)
    n_towers = 2 * m.n_eta * m.n_phi
    flat = np.where(kind >= 0, (kind * m.n_eta + ieta) * m.n_phi + iphi, n_towers)
    expected = np.empty((3, n_towers), dtype=np.int32)
    for ev in range(3):
        et = np.bincount(flat, weights=cells[ev].astype(np.float64) * weight, minlength=n_towers + 1)[:n_towers]
        counts = np.floor(et / LSB)
        counts[counts < 2] = 0
        expected[ev] = np.minimum(counts, 255)
    got = K.tower_counts(cells, *m.tables(), m.n_eta, m.n_phi, LSB, 2, 255)
    assert got.sum() > 0
    assert np.array_equal(got, expected.reshape(got.shape))


def test_local_maxima_of_padded_cores_equal_the_scalar_rule_on_random_grids():
    """set_core_row + pad_cores + local_maxima (what the algorithms run) against core_sums + is_local_max."""
    rng = np.random.default_rng(11)
    for n_i, n_j, top in [(6, 8, 3), (16, 64, 5), (3, 4, 2)]:  # small counts: many ties and plateaus
        grid = rng.integers(0, top, (n_i, n_j)).astype(np.int32)
        cores = K.core_sums(grid)
        padded = np.zeros((n_i + 1, n_j + 2), dtype=np.int64)
        column = np.empty(n_j + 1, dtype=np.int64)
        for i in range(n_i - 1):
            column[:n_j] = grid[i].astype(np.int64) + grid[i + 1]
            K.set_core_row(padded, i, column)
        K.pad_cores(padded)
        assert np.array_equal(padded[1:-1, 1:-1], cores)
        for floor in (1, 3):
            mask = np.zeros(cores.shape, dtype=np.uint8)
            n = K.local_maxima(padded, floor, mask)
            expected = [[K.is_local_max(cores, i, j) and cores[i, j] >= floor for j in range(n_j)]
                        for i in range(n_i - 1)]
            assert mask.astype(bool).tolist() == expected and n == int(np.sum(expected))

# -- EM/tau --------------------------------------------------------------------------------------
def test_em_tau_object_with_cluster_isolation_and_hadronic_core():
    t = empty_towers()
    em, had = t[0, 0], t[0, 1]
    em[5, 10], em[6, 10], em[5, 11] = 20, 10, 4       # core (5, 10): best pair (5,10)+(6,10) = 30
    em[7, 12] = 3                                       # in the ring of the 4 x 4 window (4..7, 9..12)
    had[6, 11] = 6                                      # hadronic core
    had[4, 9] = 2                                       # hadronic ring
    offsets, values = K.em_tau(t, 1)
    found = objects(offsets, values, K.EM_TAU_FIELDS)
    assert found == [{"ieta": 5, "iphi": 10, "core": 40, "em": 30, "tau": 36, "em_isol": 3, "had_core": 6,
                      "had_isol": 2}]


def test_em_cluster_is_the_largest_pair_in_phi_too():
    t = empty_towers()
    t[0, 0, 8, 30], t[0, 0, 8, 31], t[0, 0, 9, 30] = 12, 11, 5     # phi pair 23 beats eta pair 17
    offsets, values = K.em_tau(t, 1)
    (obj,) = objects(offsets, values, K.EM_TAU_FIELDS)
    assert (obj["ieta"], obj["iphi"], obj["em"], obj["em_isol"]) == (8, 30, 23, 0)


def test_local_maximum_tie_of_two_equal_towers_gives_one_object():
    t = empty_towers()
    t[0, 0, 5, 10] = t[0, 0, 5, 11] = 10      # cores (4, 10) and (5, 10) both hold 20
    offsets, values = K.em_tau(t, 1)
    found = objects(offsets, values, K.EM_TAU_FIELDS)
    assert len(found) == 1
    assert (found[0]["ieta"], found[0]["iphi"], found[0]["em"]) == (4, 10, 20)   # the first in (eta, phi)


@pytest.mark.parametrize("cells, first, em", [([(5, 10), (6, 10)], (5, 9), 16),
                                              ([(5, 10), (5, 11), (6, 10), (6, 11)], (5, 10), 16),
                                              ([(7, 63), (7, 0)], (6, 63), 16),
                                              ([(3, 20), (4, 21)], (3, 20), 8)],
                         ids=["eta-pair", "2x2-plateau", "phi-wrap", "diagonal"])
def test_local_maximum_plateaus_give_exactly_one_object(cells, first, em):
    t = empty_towers()
    for i, j in cells:
        t[0, 0, i, j] = 8
    offsets, values = K.em_tau(t, 1)
    assert offsets[-1] == 1
    assert (values[0, 0], values[1, 0], values[3, 0]) == (*first, em)


def test_single_tower_gives_one_object_at_its_first_core():
    t = empty_towers()
    t[0, 0, 9, 40] = 50
    offsets, values = K.em_tau(t, 1)
    (obj,) = objects(offsets, values, K.EM_TAU_FIELDS)
    assert (obj["ieta"], obj["iphi"], obj["em"], obj["tau"]) == (8, 39, 50, 50)


def _reference_em_tau(em, had, min_counts):
    """Plain-Python EM/tau with the documented rules (an independent reference)."""
    n_i, n_j = em.shape[0] - 1, em.shape[1]
    tow = lambda g, i, j: int(g[i, j % n_j]) if 0 <= i < em.shape[0] else 0  # noqa: E731
    core = lambda g, i, j: tow(g, i, j) + tow(g, i + 1, j) + tow(g, i, j + 1) + tow(g, i + 1, j + 1)  # noqa: E731
    roi = {(i, j): core(em, i, j) + core(had, i, j) for i in range(n_i) for j in range(n_j)}
    out = []
    for (i, j), c in sorted(roi.items()):
        if c <= 0:
            continue
        ok = True
        for di, dj in itertools.product((-1, 0, 1), repeat=2):
            if (di, dj) == (0, 0) or not 0 <= i + di < n_i:
                continue
            other = roi[(i + di, (j + dj) % n_j)]
            ok &= c > other if (di, dj) < (0, 0) else c >= other
        if not ok:
            continue
        pair = max(tow(em, i, j) + tow(em, i + 1, j), tow(em, i, j + 1) + tow(em, i + 1, j + 1),
                   tow(em, i, j) + tow(em, i, j + 1), tow(em, i + 1, j) + tow(em, i + 1, j + 1))
        hc = core(had, i, j)
        if pair < min_counts and pair + hc < min_counts:
            continue
        ring = lambda g: sum(tow(g, a, b) for a in range(i - 1, i + 3) for b in range(j - 1, j + 3)) - core(g, i, j)  # noqa: E731
        out.append({"ieta": i, "iphi": j % n_j, "core": c, "em": pair, "tau": pair + hc, "em_isol": ring(em),
                    "had_core": hc, "had_isol": ring(had)})
    return out


def test_em_tau_agrees_with_a_plain_python_reference_on_random_towers():
    rng = np.random.default_rng(5)
    t = empty_towers(3)
    t[:] = rng.integers(0, 4, t.shape) * (rng.random(t.shape) < 0.15)   # small integers: many ties
    offsets, values = K.em_tau(t, 2)
    for ev in range(3):
        assert objects(offsets, values, K.EM_TAU_FIELDS, ev) == _reference_em_tau(t[ev, 0], t[ev, 1], 2)


# -- jets and sums ------------------------------------------------------------------------------
def test_jet_elements_sum_2x2_towers_of_both_layers_with_saturation():
    t = empty_towers()
    t[0, 0, 4, 6], t[0, 0, 5, 7], t[0, 1, 4, 7] = 10, 20, 30
    t[0, 1, 10, 20] = 255
    t[0, 0, 11, 21] = 255
    je = K.jet_elements(t, 400)
    assert je.shape == (1, 8, 32)
    assert je[0, 2, 3] == 60 and je[0, 5, 10] == 400 and je.sum() == 460


def test_jets_sliding_window_and_position():
    je = np.zeros((1, 8, 32), dtype=np.int32)
    je[0, 3, 5], je[0, 4, 5], je[0, 4, 6] = 40, 30, 10     # core (3, 5) = 80, the maximum
    je[0, 2, 4] = 5                                         # in the 4 x 4 window (2..5, 4..7)
    je[0, 6, 8] = 7                                         # outside it
    offsets, values = K.jets(je, 10)
    found = objects(offsets, values, K.JET_FIELDS)
    assert found[0] == {"ieta": 3, "iphi": 5, "core": 80, "et": 85}
    assert len(found) == 1   # the 7-count element is inside windows whose core is not a maximum above 10 counts


def test_energy_sums_from_jet_elements():
    je = np.zeros((3, 8, 32), dtype=np.int32)
    phi = -np.pi + (2 * np.arange(32) + 1) * DPHI_TOWER
    je[0, 2, 0] = 100                      # one deposit: MET = 100 opposite to it
    je[1, 2, 0], je[1, 5, 16] = 50, 50     # back to back: no MET
    je[2, 1, 8], je[2, 6, 8] = 30, 10      # same phi: MET 40, total 40
    s = K.energy_sums(je, phi)
    assert s[0, 2] == 100 and s[0, 3] == 100
    assert np.arctan2(s[0, 1], s[0, 0]) == pytest.approx(phi[0] + np.pi)
    assert s[1, 2] == 0 and s[1, 3] == 100
    assert s[2, 2] == 40 and s[2, 3] == 40
