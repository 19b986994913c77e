"""Topo-clustering speed on Pythia dijets with the atlas-like geometry.

Run from the repository root:  python benchmarks/clustering.py [--events N] [--repeat N]

Builds realistic cells without any download: Pythia 8 dijet events (13.6 TeV,
HardQCD:all, pTHatMin 100 GeV) through the fast calorimeter simulation,
digitisation and cell builder with toy conditions on the atlas-like geometry
(201,600 cells, all3D neighbours).  Then times, over the whole chunk (best of
``--repeat``), the 4-2-0 clustering, the conversion to weighted links, the
cluster splitting and the moments, and prints per-event times, cells per
second and clusters per event.  For scale, the same 4-2-0 clustering of one
event is run by the plain-Python reference of the tests
(``tests/algorithms/clusters/test_topo.py``), checked to give the same
clusters, and compared with the numba kernel on that one event (called
alone, and as the per-event share of the chunk call).

Every kernel call is one parallel numba region.  With the OpenMP threading
layer on a machine whose cores are busy with other work, the default
(active) OpenMP wait policy can cost milliseconds per parallel region;
``OMP_WAIT_POLICY=passive`` avoids that.  The threading layer and the policy
are printed with the results.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import awkward as ak
import numba
import numpy as np

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from hepreco.algorithms.calo.conditions import make_conditions  # noqa: E402
from hepreco.algorithms.calo.digitisation import build_cells, digitise  # noqa: E402
from hepreco.algorithms.calo.geometry import load_geometry  # noqa: E402
from hepreco.algorithms.calo.simulation import simulate  # noqa: E402
from hepreco.algorithms.clusters import kernels  # noqa: E402
from hepreco.algorithms.generation.pythia_source import generate  # noqa: E402
from hepreco.framework.services.random import RandomSvc  # noqa: E402
from tests.algorithms.clusters.test_topo import reference_topo_cluster  # noqa: E402
from _timing import best  # noqa: E402


def dijet_cells(n, geometry, cond):
    """Cell energies (GeV) of ``n`` Pythia dijet events."""
    ids, parts = generate(n, ["HardQCD:all = on", "PhaseSpace:pTHatMin = 100."], seed=1)
    counts = ak.to_numpy(ak.num(parts, axis=1))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    flat = ak.flatten(parts)
    cols = [ak.to_numpy(flat[f]) for f in ("pdg_id", "charge", "px", "py", "pz", "E")]
    hits = simulate(*cols, offsets, geometry, RandomSvc(seed=1).seeds(ids, "FastCaloSim"))
    adc = digitise(hits, cond["pedestal"], cond["gain"], cond["noise_sigma"],
                   RandomSvc(seed=1).seeds(ids, "CaloDigitiser"), adc_max=cond["adc_max"])
    return build_cells(adc, cond["pedestal"], cond["gain"], cond["dead_mask"]), counts


def as_sets(row, n):
    out = [set() for _ in range(n)]
    for c in np.flatnonzero(row >= 0):
        out[row[c]].add(int(c))
    return {frozenset(s) for s in out}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=50, help="Pythia dijet events in the chunk")
    p.add_argument("--repeat", type=int, default=3, help="repeats (best is reported)")
    args = p.parse_args()

    geometry = load_geometry("atlas-like")
    cond = make_conditions(geometry, 20240601)
    noise, dead = cond["cell_noise"], cond["dead_mask"]
    nb_offsets, nb_index = geometry.neighbours("all3D")
    t0 = time.perf_counter()
    energy, counts = dijet_cells(args.events, geometry, cond)
    t_input = time.perf_counter() - t0
    n, n_cells = energy.shape

    def topo(e):
        return kernels.topo_cluster(e, noise, nb_offsets, nb_index, dead_mask=dead)

    # warm up (numba compilation or cache load)
    cc, nc = topo(energy[:2])
    links = kernels.topo_links(cc, nc)
    kernels.cluster_moments(energy[:2], noise, links, geometry)
    kernels.split_clusters(energy[:2], cc, nc, geometry, nb_offsets, nb_index)

    cell_cluster, n_clusters = topo(energy)
    topo_l = kernels.topo_links(cell_cluster, n_clusters)
    split = kernels.split_clusters(energy, cell_cluster, n_clusters, geometry, nb_offsets,
                                   nb_index)
    t_topo = best(lambda: topo(energy), args.repeat)
    t_links = best(lambda: kernels.topo_links(cell_cluster, n_clusters), args.repeat)
    t_split = best(lambda: kernels.split_clusters(energy, cell_cluster, n_clusters, geometry,
                                                  nb_offsets, nb_index), args.repeat)
    t_mom = best(lambda: kernels.cluster_moments(energy, noise, split, geometry), args.repeat)

    # one event: numba kernel against the plain-Python reference
    one = energy[:1]
    t_one = best(lambda: topo(one), max(args.repeat, 5))
    noise_ref = np.where(dead, 0.0, noise)
    t0 = time.perf_counter()
    expected = reference_topo_cluster(one[0], noise_ref, nb_offsets, nb_index)
    t_ref = time.perf_counter() - t0
    same = as_sets(cell_cluster[0], n_clusters[0]) == {frozenset(s) for s in expected}

    clustered = np.count_nonzero(cell_cluster >= 0) / n
    print(f"topo-clustering, {n} Pythia dijet events (pTHatMin 100 GeV, {counts.mean():.0f} "
          f"particles/event), atlas-like geometry ({n_cells:,} cells, all3D), "
          f"{numba.get_num_threads()} numba threads ({numba.threading_layer()}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}); "
          f"input built in {t_input:.1f} s")
    print(f"   4-2-0 clusters/event {n_clusters.mean():.1f}, split clusters/event "
          f"{split.n_clusters.mean():.1f}, clustered cells/event {clustered:.0f}, "
          f"shared cells/event {(split.offsets[-1] - topo_l.offsets[-1]) / n:.1f}")
    print(f"   {'step (whole chunk)':28s} {'ms/event':>9s} {'Mcells/s':>9s}")
    total = 0.0
    for name, t in (("topo_cluster (4-2-0)", t_topo), ("topo_links", t_links),
                    ("split_clusters", t_split), ("cluster_moments (split)", t_mom)):
        total += t
        print(f"   {name:28s} {1e3 * t / n:9.3f} {n * n_cells / t / 1e6:9.1f}")
    print(f"   {'all four':28s} {1e3 * total / n:9.3f} {n * n_cells / total / 1e6:9.1f}")
    print(f"   event 0, 4-2-0 by the plain-Python reference: {1e3 * t_ref:.0f} ms "
          f"({len(expected)} clusters, identical to numba: {'yes' if same else 'NO'})")
    print(f"   ratio reference / numba: {t_ref / t_one:.0f} (numba on event 0 alone, "
          f"{1e3 * t_one:.3f} ms), {t_ref / (t_topo / n):.0f} (numba per event in the "
          f"chunk, {1e3 * t_topo / n:.3f} ms)")


if __name__ == "__main__":
    main()
