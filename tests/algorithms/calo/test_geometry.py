"""Calorimeter geometry: cell tables, neighbour graphs, cell lookup."""
import math
import pickle
import time

import numpy as np
import pytest
import yaml

from hepreco.algorithms.calo import geometry


@pytest.fixture(scope="module")
def atlas():
    return geometry.load_geometry("atlas-like")


@pytest.fixture(scope="module")
def small():
    return geometry.load_geometry("small")


def cell(geo, layer, ieta, iphi):
    layer = geo.layer_index(layer) if isinstance(layer, str) else layer
    return int(geo.layer_offsets[layer] + ieta * geo.layer_n_phi[layer] + iphi)


def neighbours_of(geo, c, mode):
    offsets, index = geo.neighbours(mode)
    return set(index[offsets[c]:offsets[c + 1]].tolist())


def edge_set(offsets, index):
    rows = np.repeat(np.arange(offsets.shape[0] - 1), np.diff(offsets))
    return rows, index


def assert_symmetric(offsets, index):
    rows, cols = edge_set(offsets, index)
    n = offsets.shape[0] - 1
    forward = np.sort(rows * n + cols)
    backward = np.sort(cols * n + rows)
    np.testing.assert_array_equal(forward, backward)
    assert not np.any(rows == cols), "self-loop in the neighbour graph"
    # rows sorted and without duplicates
    same_row = rows[1:] == rows[:-1]
    assert np.all(cols[1:][same_row] > cols[:-1][same_row])


def test_atlas_like_has_the_requested_layers_and_granularity(atlas):
    assert atlas.n_cells >= 100_000
    assert atlas.n_cells == 201_600
    assert atlas.layer_names == ("PreSampler", "EMB1", "EMB2", "EMB3", "TileBar0",
                                 "TileBar1", "TileBar2")
    np.testing.assert_allclose(atlas.layer_deta,
                               [0.025, 0.003125, 0.025, 0.05, 0.1, 0.1, 0.1])
    np.testing.assert_allclose(atlas.layer_dphi,
                               2 * np.pi / np.array([64, 64, 256, 256, 64, 64, 64]))
    assert np.all(atlas.layer_eta_min == -2.5) and np.all(atlas.layer_eta_max == 2.5)
    assert np.all(np.abs(atlas.eta) < 2.5) and np.all(np.abs(atlas.phi) < np.pi)
    np.testing.assert_array_equal(np.diff(atlas.layer_offsets),
                                  atlas.layer_n_eta * atlas.layer_n_phi)


def test_atlas_like_depths_are_realistic(atlas):
    x0 = atlas.layer_x0_back - atlas.layer_x0_front
    lam = atlas.layer_lambda_back - atlas.layer_lambda_front
    assert x0[0] < 0.5  # thin presampler
    assert 4.0 <= x0[1] <= 5.0 and 15.0 <= x0[2] <= 17.0 and 1.5 <= x0[3] <= 2.5
    assert 22.0 <= atlas.layer_x0_back[3] <= 24.0  # EM total
    assert atlas.layer_lambda_back[3] == pytest.approx(1.2, abs=0.05)
    np.testing.assert_allclose(lam[4:], [1.5, 4.1, 1.8], atol=1e-9)
    # radii: presampler ~1450 mm, EM 1500-1970 mm, Tile 2280-3860 mm
    assert 1400 < atlas.layer_r[0] < 1500
    assert atlas.layer_r_front[1] == 1500 and atlas.layer_r_back[3] == 1970
    assert atlas.layer_r_front[4] == 2280 and atlas.layer_r_back[6] == 3860
    # per-cell views agree with the layer tables
    np.testing.assert_array_equal(atlas.x0_front, atlas.layer_x0_front[atlas.layer])
    np.testing.assert_array_equal(atlas.lambda_back, atlas.layer_lambda_back[atlas.layer])
    np.testing.assert_allclose(atlas.z, atlas.r * np.sinh(atlas.eta))


def test_small_geometry_is_small_with_the_same_layers(small, atlas):
    assert small.n_cells <= 5000
    assert small.layer_names == atlas.layer_names
    np.testing.assert_array_equal(small.layer_x0_back, atlas.layer_x0_back)


@pytest.mark.parametrize("name", ["small", "atlas-like"])
@pytest.mark.parametrize("mode", ["all2D", "all3D"])
def test_neighbour_graph_is_symmetric(name, mode):
    geo = geometry.load_geometry(name)
    offsets, index = geo.neighbours(mode)
    assert offsets.shape == (geo.n_cells + 1,)
    assert_symmetric(offsets, index)


def test_in_layer_neighbours_interior_edge_and_phi_wrap(atlas):
    emb2 = atlas.layer_index("EMB2")
    n_phi = int(atlas.layer_n_phi[emb2])
    n_eta = int(atlas.layer_n_eta[emb2])
    c = cell(atlas, emb2, 100, 17)
    expected = {cell(atlas, emb2, 100 + di, 17 + dj)
                for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)}
    assert neighbours_of(atlas, c, "all2D") == expected
    # eta edges: 5 neighbours
    assert len(neighbours_of(atlas, cell(atlas, emb2, 0, 17), "all2D")) == 5
    assert len(neighbours_of(atlas, cell(atlas, emb2, n_eta - 1, 17), "all2D")) == 5
    # phi wrap: phi index 0 neighbours the last phi index and vice versa
    first = cell(atlas, emb2, 100, 0)
    last = cell(atlas, emb2, 100, n_phi - 1)
    assert last in neighbours_of(atlas, first, "all2D")
    assert first in neighbours_of(atlas, last, "all2D")
    assert {cell(atlas, emb2, 99, n_phi - 1), cell(atlas, emb2, 101, n_phi - 1)} <= \
        neighbours_of(atlas, first, "all2D")
    # an eta-edge cell at phi index 0: 5 neighbours including the wrapped ones
    corner = neighbours_of(atlas, cell(atlas, emb2, 0, 0), "all2D")
    assert corner == {cell(atlas, emb2, 0, 1), cell(atlas, emb2, 0, n_phi - 1),
                      cell(atlas, emb2, 1, 0), cell(atlas, emb2, 1, 1),
                      cell(atlas, emb2, 1, n_phi - 1)}
    counts = np.diff(atlas.neighbours("all2D")[0])
    assert set(np.unique(counts).tolist()) == {5, 8}


def test_all3d_adds_the_overlapping_cells_of_adjacent_layers(atlas):
    # EMB2 cell (0.025 x 2pi/256) at ieta=100, iphi=17: in EMB1 (0.003125 x
    # 2pi/64) the 8 strips 800..807 of phi column 17 // 4 = 4; in EMB3
    # (0.05 x 2pi/256) the cell ieta 50, iphi 17.  8 + 8 + 1 = 17.
    c = cell(atlas, "EMB2", 100, 17)
    expected = neighbours_of(atlas, c, "all2D")
    expected |= {cell(atlas, "EMB1", 800 + k, 4) for k in range(8)}
    expected |= {cell(atlas, "EMB3", 50, 17)}
    assert neighbours_of(atlas, c, "all3D") == expected
    assert len(expected) == 17
    # TileBar0 cell (0.1 x 2pi/64) at ieta=20, iphi=10: EMB3 cells ieta 40-41,
    # iphi 40-43 (8) and TileBar1 (20, 10): 8 + 8 + 1 = 17
    c = cell(atlas, "TileBar0", 20, 10)
    expected = neighbours_of(atlas, c, "all2D")
    expected |= {cell(atlas, "EMB3", i, j) for i in (40, 41) for j in range(40, 44)}
    expected |= {cell(atlas, "TileBar1", 20, 10)}
    assert neighbours_of(atlas, c, "all3D") == expected
    # interior counts per layer: PS 8+8, EMB1 8+1+4, EMB2 17, EMB3 8+2+1,
    # Tile0 17, Tile1 8+1+1, Tile2 8+1
    counts = np.diff(atlas.neighbour_offsets)
    for layer, n in zip(range(7), (16, 13, 17, 11, 17, 10, 9)):
        assert counts[atlas.layer_slice(layer)].max() == n


def test_all3d_matches_a_brute_force_overlap_for_misaligned_grids():
    description = {
        "name": "misaligned",
        "phi_min": -3.0,
        "layers": [
            {"name": "A", "kind": "em", "eta": [-1.0, 1.0], "deta": 0.1, "n_phi": 10,
             "r": [1000, 1100], "x0": [0, 5], "lambda": [0, 0.3]},
            {"name": "B", "kind": "em", "eta": [-0.9, 0.9], "deta": 0.15, "n_phi": 15,
             "r": [1100, 1200], "x0": [5, 20], "lambda": [0.3, 1.0]},
            {"name": "C", "kind": "had", "eta": [-1.05, 1.05], "deta": 0.3, "n_phi": 7,
             "r": [1300, 1500], "x0": [20, 40], "lambda": [1.0, 3.0]},
        ],
    }
    geo = geometry.build_geometry(description, neighbours="all3D")
    offsets, index = geo.neighbour_offsets, geo.neighbour_index
    assert_symmetric(offsets, index)
    # independent reference: positive-area overlap of eta-phi rectangles
    expected = [set() for _ in range(geo.n_cells)]
    eta_lo = geo.eta - geo.deta / 2
    eta_hi = geo.eta + geo.deta / 2
    for a_layer, b_layer in ((0, 1), (1, 2)):
        a = np.arange(*geo.layer_slice(a_layer).indices(geo.n_cells))
        b = np.arange(*geo.layer_slice(b_layer).indices(geo.n_cells))
        d_eta = (np.minimum(eta_hi[a][:, None], eta_hi[b][None, :])
                 - np.maximum(eta_lo[a][:, None], eta_lo[b][None, :]))
        # phi overlap on the circle: try the b rectangle shifted by -2pi, 0, +2pi
        d_phi = np.zeros_like(d_eta)
        for shift in (-2 * np.pi, 0.0, 2 * np.pi):
            lo = np.maximum((geo.phi[a] - geo.dphi[a] / 2)[:, None],
                            (geo.phi[b] - geo.dphi[b] / 2 + shift)[None, :])
            hi = np.minimum((geo.phi[a] + geo.dphi[a] / 2)[:, None],
                            (geo.phi[b] + geo.dphi[b] / 2 + shift)[None, :])
            d_phi += np.clip(hi - lo, 0, None)
        ia, ib = np.nonzero((d_eta > 1e-9) & (d_phi > 1e-9))
        for x, y in zip(a[ia], b[ib]):
            expected[x].add(int(y))
            expected[y].add(int(x))
    in_layer_offsets, in_layer_index = geo.neighbours("all2D")
    for c in range(geo.n_cells):
        got = set(index[offsets[c]:offsets[c + 1]].tolist())
        own = set(in_layer_index[in_layer_offsets[c]:in_layer_offsets[c + 1]].tolist())
        assert got == own | expected[c], c


@pytest.mark.parametrize("name", ["small", "atlas-like"])
def test_find_cell_round_trips_every_cell(name):
    geo = geometry.load_geometry(name)
    np.testing.assert_array_equal(geo.find_cell(geo.layer, geo.eta, geo.phi),
                                  geo.cell_id)
    np.testing.assert_array_equal(
        geo.find_cell(geo.layer, geo.eta, geo.phi + 2 * np.pi), geo.cell_id)
    np.testing.assert_array_equal(
        geo.find_cell(geo.layer, geo.eta, geo.phi - 4 * np.pi), geo.cell_id)
    # random points inside the cell rectangles
    rng = np.random.default_rng(1)
    u, v = rng.uniform(-0.499, 0.499, (2, geo.n_cells))
    found = geo.find_cell(geo.layer, geo.eta + u * geo.deta, geo.phi + v * geo.dphi)
    np.testing.assert_array_equal(found, geo.cell_id)


def test_find_cell_outside_is_minus_one_and_broadcasts(small):
    assert small.find_cell(0, 1.5, 0.0) == -1
    assert small.find_cell(0, -1.0000001, 0.0) == -1
    assert small.find_cell(0, np.nan, 0.0) == -1
    assert small.find_cell(99, 0.0, 0.0) == -1
    assert small.find_cell(-1, 0.0, 0.0) == -1
    result = small.find_cell(2, [[0.01], [0.3]], [0.0, 1.0, -3.0])
    assert result.shape == (2, 3) and np.all(result >= 0)
    assert np.all(small.layer[result] == 2)


def test_geometry_pickles_and_is_read_only(small):
    clone = pickle.loads(pickle.dumps(small))
    for name in ("eta", "phi", "neighbour_offsets", "neighbour_index", "layer_offsets"):
        np.testing.assert_array_equal(getattr(clone, name), getattr(small, name))
    assert clone.layer_names == small.layer_names
    assert not small.eta.flags.writeable
    with pytest.raises(ValueError):
        small.eta[0] = 1.0
    assert geometry.load_geometry("small") is small  # cached by content hash


def test_building_200k_cells_takes_well_under_a_second():
    with open(geometry.data_path("atlas-like.yaml")) as handle:
        description = yaml.safe_load(handle)
    geometry.build_geometry(description)  # compile / load the numba cache
    start = time.perf_counter()
    geo = geometry.build_geometry(description)
    geo.neighbours("all2D")
    elapsed = time.perf_counter() - start
    assert geo.n_cells == 201_600
    assert elapsed < 1.0


def _description():
    with open(geometry.data_path("small.yaml")) as handle:
        return yaml.safe_load(handle)


def test_invalid_descriptions_say_what_and_where(tmp_path):
    bad = _description()
    del bad["layers"][2]["deta"]
    with pytest.raises(geometry.GeometryError, match=r"layer 'EMB2'.*missing keys \['deta'\]"):
        geometry.build_geometry(bad)
    bad = _description()
    bad["layers"][1]["deta"] = 0.03
    with pytest.raises(geometry.GeometryError, match=r"EMB1.*not a whole number of cells"):
        geometry.build_geometry(bad)
    bad = _description()
    bad["layers"][0]["kind"] = "hadronic"
    with pytest.raises(geometry.GeometryError, match=r"kind must be one of \['em', 'had'\]"):
        geometry.build_geometry(bad)
    bad = _description()
    bad["layers"][3]["x0"] = [4.0, 21.0]
    with pytest.raises(geometry.GeometryError, match=r"EMB3.*inside the previous layer"):
        geometry.build_geometry(bad)
    bad = _description()
    bad["layers"][0]["nphi"] = 3
    with pytest.raises(geometry.GeometryError, match=r"unknown keys \['nphi'\]"):
        geometry.build_geometry(bad)
    path = tmp_path / "geo.yaml"
    path.write_text(yaml.safe_dump(_description()))
    with pytest.raises(geometry.GeometryError, match=r"geo.yaml.*unknown neighbour mode"):
        geometry.load_geometry(path, neighbours="all4D")
    with pytest.raises(FileNotFoundError, match=r"atlas-like.yaml"):
        geometry.load_geometry(tmp_path / "missing.yaml")
    with pytest.raises(KeyError, match=r"no layer 'EMB4'.*EMB3"):
        geometry.load_geometry(path).layer_index("EMB4")


def test_layer_tables_are_consistent(small):
    for layer in range(small.n_layers):
        cells = small.layer_slice(layer)
        assert np.all(small.layer[cells] == layer)
        assert small.ieta[cells].max() == small.layer_n_eta[layer] - 1
        assert small.iphi[cells].max() == small.layer_n_phi[layer] - 1
        assert small.phi[cells].min() == pytest.approx(
            -math.pi + 0.5 * small.layer_dphi[layer])


def test_event_display_draws_equally_spaced_cells_as_an_image_and_others_as_a_mesh():
    from hepreco.algorithms.calo.cell_histograms import _uniform

    assert _uniform(np.linspace(-2.5, 2.5, 201)) and _uniform(np.linspace(-np.pi, np.pi, 257))
    assert not _uniform(np.array([0.0, 0.1, 0.3])) and not _uniform(np.array([1.0]))
