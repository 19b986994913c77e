"""4-2-0 topological clustering: hand-made patterns and a plain-Python reference."""
from collections import deque

import numpy as np
import pytest

from hepreco.algorithms.calo import geometry as geo
from hepreco.algorithms.clusters import kernels


# --------------------------------------------------------------------------
# plain-Python reference (also used by benchmarks/clustering.py)
# --------------------------------------------------------------------------
def reference_topo_cluster(energy, noise, nb_offsets, nb_index, seed_threshold=4.0,
                           grow_threshold=2.0, cell_threshold=0.0, absolute=True):
    """ATLAS CaloTopoClusterMaker for one event, in plain Python.

    Breadth-first growth with a FIFO queue (the generation lists of ATLAS
    processed one after the other), proto-clusters as Python sets merged by
    moving the cells of the smaller into the larger.

    Returns
    -------
    list of set of int
        The clusters as sets of cell indices, in no particular order.
    """
    energy = np.asarray(energy, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    good = (noise > 0) & np.isfinite(noise) & np.isfinite(energy)
    sig = np.zeros_like(energy)
    sig[good] = energy[good] / noise[good]
    if absolute:
        sig = np.abs(sig)
    sig = sig.tolist()
    offsets = np.asarray(nb_offsets).tolist()
    index = np.asarray(nb_index).tolist()

    seeds = sorted((c for c, s in enumerate(sig) if s > seed_threshold),
                   key=lambda c: (-sig[c], c))
    clusters = {}  # proto-cluster id -> set of cells
    owner = {}  # cell -> proto-cluster id
    queue = deque()
    queued = set()
    for k, c in enumerate(seeds):
        clusters[k] = {c}
        owner[c] = k
        queue.append(c)
        queued.add(c)
    while queue:
        c = queue.popleft()
        mine = owner[c]
        for m in index[offsets[c]:offsets[c + 1]]:
            s = sig[m]
            grows = s > grow_threshold
            if not (grows or s > cell_threshold):
                continue
            if grows and m not in queued:
                queued.add(m)
                queue.append(m)
            other = owner.get(m)
            if other is None:
                clusters[mine].add(m)
                owner[m] = mine
            elif other != mine and grows:
                keep, kill = (mine, other) if len(clusters[mine]) > len(clusters[other]) \
                    else (other, mine)
                for cell in clusters[kill]:
                    owner[cell] = keep
                clusters[keep] |= clusters.pop(kill)
                mine = keep
    return list(clusters.values())


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small():
    return geo.load_geometry("small")


def cell(g, layer, ieta, iphi):
    """Cell index of (layer name, eta index, phi index), phi index wrapped."""
    l = g.layer_index(layer)
    return int(g.layer_offsets[l] + ieta * g.layer_n_phi[l] + iphi % g.layer_n_phi[l])


def block(g, layer, ieta, iphi, radius):
    """Cells within Chebyshev distance ``radius`` (one layer)."""
    return {cell(g, layer, ieta + i, iphi + j)
            for i in range(-radius, radius + 1) for j in range(-radius, radius + 1)}


def as_sets(cell_cluster_row, n_clusters):
    """Clusters of one event as a set of frozensets of cells."""
    out = [set() for _ in range(n_clusters)]
    for c in np.flatnonzero(cell_cluster_row >= 0):
        out[cell_cluster_row[c]].add(int(c))
    return {frozenset(s) for s in out}


def run(g, energy, noise=1.0, mode="all3D", **kwargs):
    """Cluster one or more events of hand-made energies (GeV)."""
    energy = np.atleast_2d(np.asarray(energy, dtype=np.float32))
    if np.isscalar(noise):
        noise = np.full(g.n_cells, noise, dtype=np.float32)
    offsets, index = g.neighbours(mode)
    return kernels.topo_cluster(energy, noise, offsets, index, **kwargs)


def random_events(g, n_events, seed, n_showers=3, e_range=(5.0, 80.0), bad_cells=5):
    """Gaussian noise plus a few EM/hadronic shower blobs on a geometry.

    Returns (energy float32[n_events, n_cells], noise float32[n_cells]); a few
    cells get zero noise (bad cells).
    """
    rng = np.random.default_rng(seed)
    noise = np.asarray(g.layer_noise, dtype=np.float64)[g.layer].astype(np.float32)
    noise[rng.choice(g.n_cells, bad_cells, replace=False)] = 0.0
    energy = rng.normal(size=(n_events, g.n_cells)) * noise
    fractions_em = np.array([0.05, 0.3, 0.55, 0.05, 0.05, 0.0, 0.0])
    fractions_had = np.array([0.02, 0.1, 0.2, 0.08, 0.3, 0.25, 0.05])
    for e in range(n_events):
        for _ in range(n_showers):
            eta0 = rng.uniform(-0.85, 0.85)
            phi0 = rng.uniform(-np.pi, np.pi)
            e0 = rng.uniform(*e_range)
            em = rng.random() < 0.5
            fractions = fractions_em if em else fractions_had
            width = 0.04 if em else 0.1
            for layer in range(g.n_layers):
                s = g.layer_slice(layer)
                d_eta = g.eta[s] - eta0
                d_phi = (g.phi[s] - phi0 + np.pi) % (2 * np.pi) - np.pi
                profile = np.exp(-(d_eta ** 2 + d_phi ** 2) / (2 * width ** 2))
                energy[e, s] += e0 * fractions[layer] * profile / profile.sum()
    return energy.astype(np.float32), noise


# --------------------------------------------------------------------------
# hand-made patterns
# --------------------------------------------------------------------------
def test_seed_grows_through_neighbours_and_stops_at_the_perimeter(small):
    energy = np.zeros(small.n_cells)
    ring3 = block(small, "EMB2", 20, 10, 3) - block(small, "EMB2", 20, 10, 2)
    ring2 = block(small, "EMB2", 20, 10, 2) - block(small, "EMB2", 20, 10, 1)
    ring1 = block(small, "EMB2", 20, 10, 1) - {cell(small, "EMB2", 20, 10)}
    energy[list(ring3)] = 3.0  # growing cells, but only behind 1-sigma cells
    energy[list(ring2)] = 1.0  # perimeter
    energy[list(ring1)] = 3.0  # growing
    energy[cell(small, "EMB2", 20, 10)] = 5.0  # seed
    cell_cluster, n_clusters = run(small, energy)
    assert n_clusters.tolist() == [1]
    expected = block(small, "EMB2", 20, 10, 2)
    assert as_sets(cell_cluster[0], 1) == {frozenset(expected)}
    assert len(expected) == 25
    assert np.all(cell_cluster[0, list(ring3)] == -1)


def test_seeds_joined_by_a_growing_cell_merge(small):
    energy = np.zeros(small.n_cells)
    a, bridge, b = (cell(small, "EMB2", 20, k) for k in (5, 6, 7))
    energy[[a, b]] = 5.0
    energy[bridge] = 3.0
    cell_cluster, n_clusters = run(small, energy)
    assert n_clusters.tolist() == [1]
    assert as_sets(cell_cluster[0], 1) == {frozenset({a, bridge, b})}


@pytest.mark.parametrize("stronger", ["left", "right"])
def test_shared_perimeter_cells_go_to_the_more_significant_seed(small, stronger):
    energy = np.zeros(small.n_cells)
    left, right = cell(small, "EMB2", 20, 5), cell(small, "EMB2", 20, 7)
    between = {cell(small, "EMB2", i, 6) for i in (19, 20, 21)}  # touch both seeds
    energy[list(between)] = 1.0
    energy[left] = 6.0 if stronger == "left" else 5.0
    energy[right] = 5.0 if stronger == "left" else 6.0
    # the right seed has the larger cell index: the winner is decided by
    # significance, not by index
    winner, loser = (left, right) if stronger == "left" else (right, left)
    cell_cluster, n_clusters = run(small, energy)
    assert n_clusters.tolist() == [2]
    assert as_sets(cell_cluster[0], 2) == {frozenset({winner} | between),
                                           frozenset({loser})}
    assert cell_cluster[0, winner] == 0  # more energy: first


def test_clusters_are_numbered_by_decreasing_energy(small):
    energy = np.zeros(small.n_cells)
    lonely = cell(small, "EMB2", 5, 5)
    energy[lonely] = 8.0  # most significant seed, 8 GeV in all
    wide = block(small, "EMB2", 30, 20, 1)
    energy[list(wide)] = 3.0
    energy[cell(small, "EMB2", 30, 20)] = 5.0  # 29 GeV
    cell_cluster, n_clusters = run(small, energy)
    assert n_clusters.tolist() == [2]
    assert cell_cluster[0, lonely] == 1
    assert set(np.flatnonzero(cell_cluster[0] == 0)) == wide


def test_negative_cells_seed_and_grow_only_with_absolute(small):
    energy = np.zeros(small.n_cells)
    negative = block(small, "EMB2", 20, 10, 1)
    energy[list(negative)] = -3.0
    energy[cell(small, "EMB2", 20, 10)] = -5.0
    cell_cluster, n_clusters = run(small, energy, absolute=True)
    assert n_clusters.tolist() == [1]
    assert as_sets(cell_cluster[0], 1) == {frozenset(negative)}
    cell_cluster, n_clusters = run(small, energy, absolute=False)
    assert n_clusters.tolist() == [0]
    assert np.all(cell_cluster == -1)


def test_negative_neighbours_grow_only_with_absolute(small):
    energy = np.zeros(small.n_cells)
    seed, neg, beyond = (cell(small, "EMB2", 20, k) for k in (10, 11, 12))
    energy[seed] = 5.0
    energy[neg] = -3.0
    energy[beyond] = 1.0  # reachable only through the negative cell
    cell_cluster, _ = run(small, energy, absolute=True)
    assert as_sets(cell_cluster[0], 1) == {frozenset({seed, neg, beyond})}
    cell_cluster, _ = run(small, energy, absolute=False)
    assert as_sets(cell_cluster[0], 1) == {frozenset({seed})}


def test_cells_without_valid_noise_or_dead_never_seed_or_grow(small):
    energy = np.zeros(small.n_cells)
    noise = np.ones(small.n_cells, dtype=np.float32)
    zero_noise, dead, seed, beyond = (cell(small, "EMB2", 20, k) for k in (3, 10, 11, 12))
    energy[[zero_noise, dead, seed]] = 50.0
    energy[beyond] = 3.0
    noise[zero_noise] = 0.0
    dead_mask = np.zeros(small.n_cells, dtype=bool)
    dead_mask[dead] = True
    cell_cluster, n_clusters = run(small, energy, noise=noise, dead_mask=dead_mask)
    assert n_clusters.tolist() == [1]
    assert as_sets(cell_cluster[0], 1) == {frozenset({seed, beyond})}
    noise[seed] = np.nan
    cell_cluster, n_clusters = run(small, energy, noise=noise, dead_mask=dead_mask)
    assert n_clusters.tolist() == [0]


def test_growth_crosses_layers_with_all3d_only(small):
    energy = np.zeros(small.n_cells)
    seed = cell(small, "EMB2", 20, 10)
    behind = cell(small, "EMB3", 10, 10)  # EMB3 cells are twice as wide in eta
    energy[seed] = 5.0
    energy[behind] = 3.0
    cell_cluster, _ = run(small, energy, mode="all3D")
    assert as_sets(cell_cluster[0], 1) == {frozenset({seed, behind})}
    cell_cluster, _ = run(small, energy, mode="all2D")
    assert as_sets(cell_cluster[0], 1) == {frozenset({seed})}


def test_invalid_arguments_are_rejected(small):
    offsets, index = small.neighbours("all3D")
    energy = np.zeros((2, small.n_cells), dtype=np.float32)
    noise = np.ones(small.n_cells, dtype=np.float32)
    with pytest.raises(ValueError, match="seed >= grow >= cell"):
        kernels.topo_cluster(energy, noise, offsets, index, 2.0, 4.0, 0.0)
    with pytest.raises(ValueError, match=r"noise must have shape \(4000,\)"):
        kernels.topo_cluster(energy, noise[:10], offsets, index)
    with pytest.raises(ValueError, match="dense"):
        kernels.topo_cluster(energy[0], noise, offsets, index)
    with pytest.raises(ValueError, match="nb_offsets must have shape"):
        kernels.topo_cluster(energy, noise, offsets[:-1], index)


def test_empty_chunk(small):
    offsets, index = small.neighbours("all3D")
    cell_cluster, n_clusters = kernels.topo_cluster(
        np.zeros((0, small.n_cells), np.float32), np.ones(small.n_cells, np.float32),
        offsets, index)
    assert cell_cluster.shape == (0, small.n_cells) and n_clusters.shape == (0,)


# --------------------------------------------------------------------------
# against the reference, and the chunk interface
# --------------------------------------------------------------------------
@pytest.mark.parametrize("thresholds, absolute, mode", [
    ((4.0, 2.0, 0.0), True, "all3D"),
    ((4.0, 2.0, 0.0), False, "all3D"),
    ((2.0, 1.0, 0.0), True, "all3D"),   # many seeds on noise: merges, contention
    ((3.0, 1.5, 0.5), True, "all2D"),
    ((6.0, 3.0, 3.0), True, "all3D"),
])
def test_matches_plain_python_reference(small, thresholds, absolute, mode):
    energy, noise = random_events(small, 6, seed=11)
    offsets, index = small.neighbours(mode)
    seed_t, grow_t, cell_t = thresholds
    cell_cluster, n_clusters = kernels.topo_cluster(energy, noise, offsets, index, seed_t,
                                                    grow_t, cell_t, absolute=absolute)
    n_compared = 0
    for e in range(energy.shape[0]):
        expected = reference_topo_cluster(energy[e], noise, offsets, index, seed_t,
                                          grow_t, cell_t, absolute)
        assert n_clusters[e] == len(expected)
        assert as_sets(cell_cluster[e], n_clusters[e]) == {frozenset(s) for s in expected}
        n_compared += len(expected)
        sums = [energy[e, cell_cluster[e] == k].astype(np.float64).sum()
                for k in range(n_clusters[e])]
        assert np.all(np.diff(sums) <= 0)
    assert n_compared >= 6


def test_chunk_equals_one_event_at_a_time(small):
    energy, noise = random_events(small, 5, seed=3)
    offsets, index = small.neighbours("all3D")
    cell_cluster, n_clusters = kernels.topo_cluster(energy, noise, offsets, index)
    for e in range(5):
        one, n_one = kernels.topo_cluster(energy[e:e + 1], noise, offsets, index)
        np.testing.assert_array_equal(one[0], cell_cluster[e])
        assert n_one[0] == n_clusters[e]
    assert n_clusters.sum() >= 5


def test_topo_links_list_every_clustered_cell_once(small):
    energy, noise = random_events(small, 4, seed=5)
    offsets, index = small.neighbours("all3D")
    cell_cluster, n_clusters = kernels.topo_cluster(energy, noise, offsets, index)
    links = kernels.topo_links(cell_cluster, n_clusters)
    assert links.offsets[-1] == np.count_nonzero(cell_cluster >= 0)
    np.testing.assert_array_equal(links.n_clusters, n_clusters)
    np.testing.assert_array_equal(links.weight, 1.0)
    starts = links.cluster_offsets()
    for e in range(4):
        cl, cells, _ = links.event(e)
        np.testing.assert_array_equal(cl, cell_cluster[e, cells])
        assert np.all(np.diff(cl) >= 0)
        np.testing.assert_array_equal(np.sort(cells), np.flatnonzero(cell_cluster[e] >= 0))
        np.testing.assert_array_equal(links.parent[starts[e]:starts[e + 1]],
                                      np.arange(n_clusters[e]))


def test_significance_helper(small):
    energy = np.zeros((1, small.n_cells), dtype=np.float32)
    energy[0, :3] = [-2.0, 1.0, 4.0]
    noise = np.ones(small.n_cells, dtype=np.float32)
    noise[2] = 0.0
    s = kernels.cell_significance(energy, noise)
    np.testing.assert_array_equal(s[0, :3], [2.0, 1.0, 0.0])
    s = kernels.cell_significance(energy, noise, absolute=False)
    np.testing.assert_array_equal(s[0, :3], [-2.0, 1.0, 0.0])


@pytest.mark.slow
def test_matches_plain_python_reference_on_the_atlas_like_geometry():
    g = geo.load_geometry("atlas-like")
    energy, noise = random_events(g, 3, seed=101, n_showers=12, e_range=(5.0, 300.0))
    offsets, index = g.neighbours("all3D")
    cell_cluster, n_clusters = kernels.topo_cluster(energy, noise, offsets, index)
    for e in range(3):
        expected = reference_topo_cluster(energy[e], noise, offsets, index)
        assert as_sets(cell_cluster[e], n_clusters[e]) == {frozenset(s) for s in expected}
    assert n_clusters.min() >= 12
