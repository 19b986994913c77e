"""Cell windows: a cell at a known position lands in the expected pixel; windows are centred."""
import numpy as np
import pytest

from hepreco.algorithms.calo.geometry import data_path, load_geometry
from hepreco.algorithms.egamma.dataset import window_shape
from hepreco.algorithms.egamma.kernels import cell_windows


@pytest.fixture(scope="module")
def g():
    return load_geometry(data_path("small.yaml"))


def centre(g, layer, ieta, iphi, du=0.5, dv=0.5):
    return (g.layer_eta_min[layer] + (ieta + du) * g.layer_deta[layer],
            g.layer_phi_min[layer] + (iphi + dv) * g.layer_dphi[layer])


def one_cell(g, layer, ieta, iphi, value=1.0):
    cells = np.zeros((1, g.n_cells), dtype=np.float32)
    cells[0, g.layer_offsets[layer] + ieta * g.layer_n_phi[layer] + iphi] = value
    return cells


@pytest.mark.parametrize("d_eta, d_phi", [(0, 0), (2, -1), (-3, 3)])
def test_a_cell_lands_in_the_pixel_of_its_offset_from_the_centre(g, d_eta, d_phi):
    layer = g.layer_index("EMB2")
    eta, phi = centre(g, layer, 20, 10, du=0.3, dv=0.9)  # anywhere inside the central cell
    cells = one_cell(g, layer, 20 + d_eta, 10 + d_phi, 5.0)
    w = cell_windows(cells, [0], [eta], [phi], g, layer, (7, 7))
    assert w.shape == (1, 7, 7) and w.dtype == np.float32
    expected = np.zeros((7, 7), dtype=np.float32)
    expected[3 + d_eta, 3 + d_phi] = 5.0
    np.testing.assert_array_equal(w[0], expected)


def test_windows_wrap_in_phi_and_are_zero_beyond_the_eta_edge(g):
    layer = g.layer_index("EMB2")
    n_phi = int(g.layer_n_phi[layer])
    eta, phi = centre(g, layer, 0, 0)   # first eta row, first phi column
    cells = one_cell(g, layer, 1, n_phi - 1, 2.0)
    cells[0, g.layer_offsets[layer]:g.layer_offsets[layer + 1]] += 0.25
    w = cell_windows(cells, [0], [eta], [phi], g, layer, (5, 3))[0]
    assert np.all(w[:2] == 0.0)                      # eta rows -2, -1 do not exist
    assert w[3, 0] == pytest.approx(2.25)            # phi index n_phi - 1 is left of 0
    assert np.all(w[2:] > 0.0)


def test_an_even_window_is_the_one_whose_centre_is_nearest(g):
    layer = g.layer_index("EMB1")
    eta, phi = centre(g, layer, 30, 5, dv=0.8)  # in the upper part of phi cell 5: cells 5 and 6
    cells = one_cell(g, layer, 30, 6, 1.0)
    cells += one_cell(g, layer, 30, 4, 7.0)
    w = cell_windows(cells, [0], [eta], [phi], g, layer, (1, 2))[0]
    np.testing.assert_array_equal(w, [[0.0, 1.0]])
    eta, phi = centre(g, layer, 30, 5, dv=0.2)  # lower part: cells 4 and 5
    w = cell_windows(cells, [0], [eta], [phi], g, layer, (1, 2))[0]
    np.testing.assert_array_equal(w, [[7.0, 0.0]])


def test_each_candidate_reads_its_own_event(g):
    layer = g.layer_index("EMB3")
    cells = np.concatenate([one_cell(g, layer, 5, 5, 1.0), one_cell(g, layer, 5, 5, 3.0)])
    eta, phi = centre(g, layer, 5, 5)
    w = cell_windows(cells, [1, 0, 1], [eta] * 3, [phi] * 3, g, layer, (3, 3))
    assert w[:, 1, 1].tolist() == [3.0, 1.0, 3.0] and w.sum() == 7.0


def test_window_wider_than_the_layer_is_refused(g):
    with pytest.raises(ValueError, match="a window 17 cells wide in phi exceeds the 16 phi cells of layer 'EMB1'"):
        cell_windows(np.zeros((1, g.n_cells)), [0], [0.0], [0.0], g, g.layer_index("EMB1"), (3, 17))


def test_window_shapes_cover_the_extent_with_odd_cell_counts():
    assert window_shape((0.2, 0.2), 0.025, 2 * np.pi / 256) == (9, 9)
    assert window_shape((0.2, 0.2), 0.003125, 2 * np.pi / 64) == (65, 3)
    assert window_shape((0.2, 0.2), 0.1, 2 * np.pi / 64) == (3, 3)
    assert window_shape((0.075, 0.2), 0.025, 1.0) == (3, 1)
