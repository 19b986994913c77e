"""Cluster moments against a plain numpy reference."""
import numpy as np
import pytest

from hepreco.algorithms.clusters import kernels

from .test_splitting import two_maxima
from .test_topo import cell, random_events, small  # noqa: F401  (fixture)

NOISE = 0.05  # GeV


def reference_moments(energy, noise, cells, weights, g):
    """Moments of one cluster with numpy, straight from the definitions."""
    e = weights * energy[cells].astype(np.float64)
    total = e.sum()
    p = np.where(e > 0, e, 0.0) if np.any(e > 0) else np.abs(e)
    eta_c, phi_c = g.eta[cells], g.phi[cells]
    ref = phi_c[np.argmax(p)]
    unwrapped = ref + (phi_c - ref + np.pi) % (2 * np.pi) - np.pi
    eta = np.average(eta_c, weights=p)
    phi = (np.average(unwrapped, weights=p) + np.pi) % (2 * np.pi) - np.pi
    pos = np.column_stack([g.r[cells] * np.cos(phi_c), g.r[cells] * np.sin(phi_c),
                           g.z[cells]])
    centroid = np.average(pos, axis=0, weights=p)
    axis = centroid / np.linalg.norm(centroid)
    along = pos @ axis
    lateral = np.linalg.norm(pos - np.outer(along, axis), axis=1)
    rho = np.hypot(centroid[0], centroid[1])
    layer_e = np.bincount(g.layer[cells], weights=e, minlength=g.n_layers)
    return {
        "energy": total,
        "eta": eta,
        "phi": phi,
        "px": total / np.cosh(eta) * np.cos(phi),
        "py": total / np.cosh(eta) * np.sin(phi),
        "pz": total * np.tanh(eta),
        "n_cells": len(cells),
        "significance": total / np.sqrt(np.sum((weights * noise[cells]) ** 2)),
        "center_lambda": np.linalg.norm(centroid) * (1 - g.layer_r_front[0] / rho),
        "second_r": np.average(lateral ** 2, weights=p),
        "second_lambda": np.average((along - np.linalg.norm(centroid)) ** 2, weights=p),
        "em_fraction": layer_e[np.asarray(g.layer_kind) == 0].sum() / total,
        "layer_energy": layer_e,
    }


def across_the_wrap(g):
    """A cluster around EMB2 phi index 0 / 31 (phi = -pi / +pi) reaching the Tile."""
    energy = np.zeros(g.n_cells)
    for (layer, i, j), e in {("EMB2", 10, 0): 6.0, ("EMB2", 10, 31): 3.0,
                             ("EMB2", 10, 1): 2.0, ("EMB2", 9, 0): 1.0,
                             ("EMB3", 5, 0): 2.0, ("EMB3", 5, 31): 0.5,
                             ("TileBar0", 2, 0): 3.0, ("TileBar0", 2, 15): -0.3}.items():
        energy[cell(g, layer, i, j)] = e
    return energy


@pytest.fixture(scope="module")
def chunk(small):
    """Event 0: a cluster across the phi wrap; 1: two split clusters; 2: a
    negative cluster; 3-5: random showers.  Returns energy, noise, links."""
    energy = np.zeros((6, small.n_cells), dtype=np.float32)
    energy[0] = across_the_wrap(small)
    energy[1] = two_maxima(small)
    energy[2, cell(small, "EMB2", 30, 5)] = -5.0
    energy[2, cell(small, "EMB2", 30, 6)] = -1.0
    energy[3:], _ = random_events(small, 3, seed=8)
    noise = np.full(small.n_cells, NOISE, dtype=np.float32)
    offsets, index = small.neighbours("all3D")
    cell_cluster, n_clusters = kernels.topo_cluster(energy, noise, offsets, index)
    links = kernels.split_clusters(energy, cell_cluster, n_clusters, small)
    return energy, noise, links


def test_moments_match_numpy_reference(small, chunk):
    energy, noise, links = chunk
    moments = kernels.cluster_moments(energy, noise, links, small)
    assert set(moments) == set(kernels.MOMENT_NAMES)
    starts = links.cluster_offsets()
    assert all(len(v) == starts[-1] for v in moments.values())
    n_checked = 0
    for e in range(energy.shape[0]):
        cl, cells, w = links.event(e)
        for k in range(links.n_clusters[e]):
            expected = reference_moments(energy[e], noise, cells[cl == k], w[cl == k], small)
            for name, value in expected.items():
                got = moments[name][starts[e] + k]
                np.testing.assert_allclose(got, value, rtol=1e-9, atol=1e-9,
                                           err_msg=f"event {e} cluster {k} {name}")
            n_checked += 1
    assert n_checked >= 8


def test_phi_is_averaged_across_the_wrap(small, chunk):
    energy, noise, links = chunk
    moments = kernels.cluster_moments(energy, noise, links, small)
    assert links.n_clusters[0] == 1
    # the cells sit at phi = -pi + 0.098 (EMB2 index 0), +pi - 0.098 (index
    # 31), ...: the mean is near -pi, far from the naive mean of the phis
    assert abs(moments["phi"][0]) > np.pi - 0.1
    cells = links.event(0)[1]
    p = np.clip(energy[0, cells], 0, None)
    assert abs(np.average(small.phi[cells], weights=p)) < np.pi - 1.0
    # 8 cells, 3 GeV of 17.2 in the Tile, -0.3 GeV negative cell in the sum
    assert moments["n_cells"][0] == 8
    assert moments["energy"][0] == pytest.approx(17.2, rel=1e-6)
    assert moments["em_fraction"][0] == pytest.approx(14.5 / 17.2, rel=1e-6)
    tile = small.layer_index("TileBar0")
    assert moments["layer_energy"][0, tile] == pytest.approx(2.7, rel=1e-6)


def test_split_cluster_moments_add_up_to_the_parent(small, chunk):
    energy, noise, links = chunk
    split = kernels.cluster_moments(energy, noise, links, small)
    offsets, index = small.neighbours("all3D")
    cell_cluster, n_clusters = kernels.topo_cluster(energy, noise, offsets, index)
    whole = kernels.cluster_moments(energy, noise, kernels.topo_links(cell_cluster, n_clusters),
                                    small)
    s, p = links.cluster_offsets(), np.concatenate([[0], np.cumsum(n_clusters)])
    assert links.n_clusters[1] == 2 and n_clusters[1] == 1
    for name in ("energy", "px", "py", "pz"):
        assert split[name][s[1]:s[2]].sum() != pytest.approx(0.0)
    assert split["energy"][s[1]:s[2]].sum() == pytest.approx(whole["energy"][p[1]], rel=1e-12)
    np.testing.assert_allclose(split["layer_energy"][s[1]:s[2]].sum(axis=0),
                               whole["layer_energy"][p[1]], rtol=1e-12, atol=1e-12)
    assert split["n_cells"][s[1]:s[2]].sum() == whole["n_cells"][p[1]] + 1  # one shared


def test_negative_cluster_uses_absolute_weights_for_its_position(small, chunk):
    energy, noise, links = chunk
    moments = kernels.cluster_moments(energy, noise, links, small)
    k = links.cluster_offsets()[2]
    assert links.n_clusters[2] == 1
    assert moments["energy"][k] == pytest.approx(-6.0)
    assert moments["significance"][k] < 0
    seed = cell(small, "EMB2", 30, 5)
    assert moments["eta"][k] == pytest.approx(small.eta[seed])
    assert moments["pz"][k] * small.eta[seed] < 0  # momentum opposite to the cells


def test_chunk_equals_one_event_at_a_time(small, chunk):
    energy, noise, links = chunk
    moments = kernels.cluster_moments(energy, noise, links, small)
    starts = links.cluster_offsets()
    for e in range(5):
        cl, cells, w = links.event(e)
        one = kernels.CellLinks(cl, cells, w, np.array([0, len(cl)]),
                                links.n_clusters[e:e + 1],
                                links.parent[starts[e]:starts[e + 1]])
        single = kernels.cluster_moments(energy[e:e + 1], noise, one, small)
        for name in kernels.MOMENT_NAMES:
            np.testing.assert_array_equal(single[name], moments[name][starts[e]:starts[e + 1]])


def test_inconsistent_links_are_rejected(small, chunk):
    energy, noise, links = chunk
    with pytest.raises(ValueError, match="links describe 6 events"):
        kernels.cluster_moments(energy[:2], noise, links, small)
    bad = links._replace(cluster=links.cluster + 100)
    with pytest.raises(ValueError, match="cluster indices"):
        kernels.cluster_moments(energy, noise, bad, small)
