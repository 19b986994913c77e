"""Shower shapes on hand-built cell configurations, with values computed by hand."""
import math

import numpy as np
import pytest

from hepreco.algorithms.calo.geometry import load_geometry
from hepreco.algorithms.calo.geometry import data_path
from hepreco.algorithms.egamma.kernels import SHAPE_NAMES, middle_shapes, shower_shapes, strip_shapes


@pytest.fixture(scope="module")
def small():
    return load_geometry(data_path("small.yaml"))


def test_middle_ratios_and_width_of_a_hand_made_window():
    w = np.zeros((7, 7))
    w[3, 3] = 10.0   # centre: in 3x3, 3x7, 7x7 and the 3x5 of w_eta2
    w[2, 3] = 4.0    # one row down in eta: in all of them
    w[3, 6] = 2.0    # phi edge: in 3x7 and 7x7, not in 3x3 nor 3x5
    w[0, 3] = 1.0    # eta edge: only in 7x7
    w[4, 2] = -0.5   # a negative (noise) cell: in the sums, not in the width
    deta = 0.025
    r_eta, r_phi, w_eta2 = middle_shapes(w, 0.0, deta)
    assert r_eta == pytest.approx(15.5 / 16.5)
    assert r_phi == pytest.approx(13.5 / 15.5)
    # weights 10 at 0 and 4 at -deta: variance 40 deta^2 / 196
    assert w_eta2 == pytest.approx(deta * math.sqrt(40.0) / 14.0)


def test_middle_shapes_of_an_empty_window_are_zero_not_nan():
    assert middle_shapes(np.zeros((7, 7)), 0.0, 0.025) == (0.0, 0.0, 0.0)


def test_strip_width_and_energy_ratio_of_two_maxima():
    profile = np.array([0.0, 1.0, 5.0, 1.0, 0.0, 0.0, 2.0, 0.0])
    w_stot, e_ratio = strip_shapes(profile, 10)
    assert w_stot == pytest.approx(math.sqrt((1 + 1 + 2 * 16) / 9.0))  # around the hottest strip, index 2
    assert e_ratio == pytest.approx((5.0 - 2.0) / (5.0 + 2.0))


def test_strip_width_runs_only_over_the_strips_near_the_hottest():
    profile = np.array([0.0, 1.0, 5.0, 1.0, 0.0, 0.0, 2.0, 0.0])
    w_stot, _ = strip_shapes(profile, 1)  # strips 1..3 only
    assert w_stot == pytest.approx(math.sqrt(2 / 7.0))


@pytest.mark.parametrize("profile, expected", [
    ([0.0, 1.0, 4.0, 1.0, 0.0], 1.0),            # one maximum
    ([0.0, 3.0, 3.0, 0.0], 1.0),                  # a plateau is one maximum
    ([0.0, 0.0, 0.0, 0.0], 0.0),                  # none
    ([4.0, 1.0, 0.0, 2.0, 0.0, 3.0], 1.0),        # the end strips (4, 3) are never maxima: 2 alone
    ([0.0, 3.0, 0.0, 1.0, 0.0, 3.0, 0.0], 0.0),  # two equal maxima
])
def test_energy_ratio_special_cases(profile, expected):
    _, e_ratio = strip_shapes(np.array(profile), 10)
    assert e_ratio == pytest.approx(expected)


def cell(g, layer, ieta, iphi):
    return int(g.layer_offsets[layer] + ieta * g.layer_n_phi[layer] + iphi)


def test_shower_shapes_of_a_hand_made_event_on_the_small_geometry(small):
    g = small
    strip, middle, back, had = (g.layer_index(n) for n in ("EMB1", "EMB2", "EMB3", "TileBar0"))
    cells = np.zeros((2, g.n_cells), dtype=np.float32)
    # candidate in event 1 at the centre of middle cell (ieta 20, iphi 16)
    ie, ip = 20, 16
    eta = g.layer_eta_min[middle] + (ie + 0.5) * g.layer_deta[middle]
    phi = g.layer_phi_min[middle] + (ip + 0.5) * g.layer_dphi[middle]
    cells[1, cell(g, middle, ie, ip)] = 8.0
    cells[1, cell(g, middle, ie + 1, ip)] = 2.0
    cells[1, cell(g, middle, ie, ip + 3)] = 1.0      # in 3x7 only
    cells[1, cell(g, middle, ie + 3, ip)] = 1.0      # in 7x7 only
    # strips: the profile around the candidate's strip (eta index 40 of 0.025 cells at eta 0.025)
    s0 = int(math.floor((eta - g.layer_eta_min[strip]) / g.layer_deta[strip]))
    sp = int(math.floor((phi - g.layer_phi_min[strip]) / g.layer_dphi[strip]))
    cells[1, cell(g, strip, s0, sp)] = 3.0
    cells[1, cell(g, strip, s0 - 1, sp)] = 0.5
    cells[1, cell(g, strip, s0 + 3, sp)] = 1.0
    cells[1, cell(g, strip, s0 + 6, sp)] = 0.05      # below the 0.1 GeV strip threshold
    # hadronic layer, 3x3 around the candidate, and one cell outside it
    h0 = int(math.floor((eta - g.layer_eta_min[had]) / g.layer_deta[had]))
    hp = int(math.floor((phi - g.layer_phi_min[had]) / g.layer_dphi[had]))
    cells[1, cell(g, had, h0, hp)] = 1.5
    cells[1, cell(g, had, h0 + 1, hp - 1)] = 0.5
    cells[1, cell(g, had, h0 + 3, hp)] = 7.0
    layer_energy = np.zeros((1, g.n_layers))
    layer_energy[0, [strip, middle, back]] = [2.0, 5.0, 3.0]
    s = shower_shapes(cells, [1], [eta], [phi], [20.0], layer_energy, g, strip, middle, back, had)
    assert list(s) == list(SHAPE_NAMES) and all(v.dtype == np.float32 and v.shape == (1,) for v in s.values())
    assert s["R_had"][0] == pytest.approx(2.0 / 20.0)
    assert s["R_eta"][0] == pytest.approx(11.0 / 12.0)
    assert s["R_phi"][0] == pytest.approx(10.0 / 11.0)
    assert s["w_eta2"][0] == pytest.approx(g.layer_deta[middle] * math.sqrt(0.2 * 0.8), rel=1e-6)
    assert s["f1"][0] == pytest.approx(0.2) and s["f3"][0] == pytest.approx(0.3)
    assert s["w_stot"][0] == pytest.approx(math.sqrt((0.5 * 1 + 1.0 * 9) / 4.5), rel=1e-6)
    assert s["E_ratio"][0] == pytest.approx(2.0 / 4.0)


def test_shower_shapes_refuse_a_window_wider_than_the_layer(small):
    g = small
    with pytest.raises(ValueError, match="a window 17 cells wide in phi exceeds the 16 phi cells of layer 'TileBar0'"):
        shower_shapes(np.zeros((1, g.n_cells)), [0], [0.0], [0.0], [1.0], np.zeros((1, g.n_layers)), g, 1, 2, 3, 4,
                      had_window=(3, 17))
    with pytest.raises(ValueError, match="an odd wstot_strips"):
        shower_shapes(np.zeros((1, g.n_cells)), [0], [0.0], [0.0], [1.0], np.zeros((1, g.n_layers)), g, 1, 2, 3, 4,
                      wstot_strips=20)
