"""Cost of the pile-up overlay against the calorimeter simulation of the same events, in the same run.

Run:  python benchmarks/pileup.py [--events N] [--mu 0,20,60,200] [--repeat N]

For each mu, one chunk of Pythia dijet events (pTHatMin 100 GeV) gets
Poisson(mu) minimum-bias interactions from the default library (what
``PileupOverlay`` uses when its ``library`` is left empty: 1,000
non-diffractive interactions, generated once and cached).  Printed per
event: the overlay (flattening the hard scatter, the overlay kernels and the
awkward collection, as ``PileupOverlay.execute`` does), the fast
calorimeter simulation of the combined particles (flattening and
``simulate``, as ``FastCaloSim.execute`` does; atlas-like geometry, 2 T), and
their ratio.  Best of ``--repeat`` timings each.
"""
from __future__ import annotations

import argparse
import time

import numba
import numpy as np

from hepreco.algorithms.arrays import flatten_jagged, unflatten_jagged
from hepreco.algorithms.calo.geometry import load_geometry
from hepreco.algorithms.calo.simulation import SimulationParameters, simulate
from hepreco.algorithms.generation import kernels
from hepreco.algorithms.generation.minbias import NON_DIFFRACTIVE, make_library, read_library
from hepreco.algorithms.generation.pileup import PileupOverlay
from hepreco.algorithms.generation.pythia_source import generate
from hepreco.framework.event_store import make_event_ids
from hepreco.framework.services.random import RandomSvc


def best(fn, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=50, help="Pythia dijet events in the chunk")
    p.add_argument("--mu", default="0,20,60,200", help="comma-separated mean numbers of interactions")
    p.add_argument("--repeat", type=int, default=3, help="repeats (best is reported)")
    args = p.parse_args()

    defaults = PileupOverlay()
    t0 = time.perf_counter()
    path = make_library(defaults.library_events, defaults.library_seed, list(NON_DIFFRACTIVE), defaults.beam_energy)
    made = time.perf_counter() - t0
    library = read_library(path)
    packed = kernels.pack(library.columns)
    geometry = load_geometry("atlas-like")
    params = SimulationParameters(b_field=2.0)
    _, hs = generate(args.events, ["HardQCD:all = on", "PhaseSpace:pTHatMin = 100."], seed=1)
    ids = make_event_ids(1, np.arange(args.events))
    random = RandomSvc(seed=1)
    seeds_overlay, seeds_sim = random.seeds(ids, "PileupOverlay"), random.seeds(ids, "FastCaloSim")
    n = args.events

    def overlay(mu):
        cols, offsets = flatten_jagged(hs, kernels.COLUMNS)
        out, out_offsets, n_pileup, _ = kernels.overlay(cols, offsets, packed, library.offsets, seeds_overlay, mu)
        return unflatten_jagged(out, out_offsets), n_pileup

    def simulation(particles):
        q, offsets = flatten_jagged(particles, ("pdg_id", "charge", "px", "py", "pz", "E"))
        return simulate(q["pdg_id"], q["charge"], q["px"], q["py"], q["pz"], q["E"], offsets, geometry,
                        seeds_sim, params)

    overlay(1.0)
    simulation(hs)  # compile (or load from the cache) before timing
    print(f"pile-up overlay against calorimeter simulation, {n} Pythia dijet events (pTHatMin 100 GeV), "
          f"atlas-like geometry ({geometry.n_cells:,} cells), 2 T; numba: {numba.get_num_threads()} threads")
    print(f"   library: {library.n_events:,} interactions, {library.n_particles / library.n_events:.0f} "
          f"particles each, {path} ({made:.2f} s to make or find)")
    print("      mu   interactions   particles/evt   overlay ms/evt   simulation ms/evt   ratio overlay/sim")
    for mu in (float(m) for m in args.mu.split(",")):
        t_overlay, (combined, n_pileup) = best(lambda: overlay(mu), args.repeat)
        t_sim, _ = best(lambda: simulation(combined), args.repeat)
        particles = int(np.sum(np.diff(flatten_jagged(combined, ("E",))[1]))) / n
        print(f"   {mu:5.0f}   {n_pileup.mean():12.1f}   {particles:13.0f}   {1e3 * t_overlay / n:14.3f}   "
              f"{1e3 * t_sim / n:17.3f}   {t_overlay / t_sim:17.3f}")


if __name__ == "__main__":
    main()
