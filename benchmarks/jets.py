"""Per-event time of the numba generalised-kt kernel against FastJet.

Runs ``hepreco.algorithms.jets.kernels.inclusive_jets`` and FastJet's
multi-event awkward interface (``fastjet.ClusterSequence(events, jetdef)``
followed by ``.inclusive_jets()``) on the same events and prints one row per
(multiplicity, R) with the best-of-N per-event times and their ratio.

Events: Pythia 8 dijets (pythia8mc; 13.6 TeV, HardQCD:all, pTHatMin 100 GeV),
visible final-state particles, topped up with soft pile-up-like particles
(uniform in rapidity |y| < 4.5 and in phi, exponential pt with mean 0.5 GeV,
pion mass) to the target multiplicity.  An event that already has more
visible particles than the target keeps its hardest ones.

Pile-up rows (``--pileup``): Pythia 8 ttbar events (Top:gg2ttbar and
Top:qqbar2ttbar) with ``mu`` Pythia minimum-bias events (SoftQCD:nonDiffractive)
overlaid on each, all visible final-state particles at any rapidity: about
10,000 inputs at mu = 40 and 49,000 at mu = 200 (HL-LHC pile-up).  Their
multiplicity is whatever Pythia gives, so their mean is printed.

Run from the repository root, e.g.::

    python benchmarks/jets.py --events 20 --repeats 5
    python benchmarks/jets.py --sizes "" --pileup 40,200 --pileup-events 4 --repeats 3
"""
from __future__ import annotations

import argparse
import sys
import time

import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# the events of the equality tests: Pythia dijets, topped up with pile-up-like particles
from tests.algorithms.jets.test_jet_kernels import Chunk, generate_pythia, resize  # noqa: E402


def build_events(hard, target, rng):
    """Flat px, py, pz, E and offsets with every event at ``target`` inputs."""
    return Chunk([resize(event, target, rng) for event in hard]).arrays


TTBAR = ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on"]
MINIMUM_BIAS = ["SoftQCD:nonDiffractive = on"]


def pileup_events(n_events, mu, seed):
    """Flat px, py, pz, E and offsets of ``n_events`` ttbar events, each with ``mu`` minimum-bias events overlaid."""
    from hepreco.algorithms.generation.pythia_source import generate, visible_momenta

    _, hard = generate(n_events, TTBAR, seed=seed)
    _, soft = generate(n_events * mu, MINIMUM_BIAS, seed=seed + 1)
    hard, soft = visible_momenta(hard), visible_momenta(soft)
    return Chunk([np.concatenate([hard[i], *soft[i * mu:(i + 1) * mu]]) for i in range(n_events)]).arrays


def interleaved_best(runs, repeats):
    """Best time of each ``(callable, numba_threads)`` over ``repeats`` rounds.

    The candidates alternate within every round, so that load from other
    processes on the machine affects them alike.
    """
    import numba

    default_threads = numba.get_num_threads()
    best = [float("inf")] * len(runs)
    try:
        for _ in range(repeats):
            for i, (fn, threads) in enumerate(runs):
                numba.set_num_threads(threads or default_threads)
                t0 = time.perf_counter()
                fn()
                best[i] = min(best[i], time.perf_counter() - t0)
    finally:
        numba.set_num_threads(default_threads)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20, help="events per configuration (default 20)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds, best one reported (default 5)")
    parser.add_argument("--sizes", default="500,2000,5000",
                        help="inputs per event of the topped-up dijets (default 500,2000,5000; '' for none)")
    parser.add_argument("--pileup", default="40,200",
                        help="minimum-bias events overlaid on ttbar, one row set each (default 40,200; '' for none)")
    parser.add_argument("--pileup-events", type=int, default=4, help="ttbar events per pile-up row (default 4)")
    parser.add_argument("--radii", default="0.4,1.0", help="jet radii (default 0.4,1.0)")
    parser.add_argument("--p", type=float, default=-1.0, help="exponent: -1 anti-kt (default), 0 C/A, 1 kt")
    parser.add_argument("--seed", type=int, default=4242, help="Pythia and pile-up seed")
    args = parser.parse_args(argv)

    import awkward as ak
    import fastjet
    import numba

    from hepreco.algorithms.jets import kernels

    algorithm = {-1.0: fastjet.antikt_algorithm, 0.0: fastjet.cambridge_algorithm,
                 1.0: fastjet.kt_algorithm}.get(args.p)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    pileups = [int(s) for s in args.pileup.split(",") if s.strip()]
    radii = [float(r) for r in args.radii.split(",")]
    max_threads = numba.config.NUMBA_NUM_THREADS

    # FastJet prints its banner on first use: get it out of the way of the table
    fastjet.ClusterSequence([fastjet.PseudoJet(1.0, 0.0, 0.0, 1.0)], fastjet.JetDefinition(fastjet.kt_algorithm, 0.4))
    sys.stdout.flush()
    header = (f"{'inputs':>7} {'R':>4} {'strategy':>15} {'jets/ev':>8} {'FastJet ms':>11} "
              f"{'ours 1thr ms':>13} {'ratio 1thr':>11} {f'ours {max_threads}thr ms':>13} {'ratio':>7}")

    def rows(px, py, pz, e, offsets, label=None):
        layout = ak.contents.ListOffsetArray(
            ak.index.Index64(offsets),
            ak.contents.RecordArray([ak.contents.NumpyArray(a) for a in (px, py, pz, e)], ["px", "py", "pz", "E"],
                                    parameters={"__record__": "Momentum4D"}))
        events = ak.Array(layout)
        n_ev = len(offsets) - 1
        size = int(round(np.diff(offsets).mean()))
        for radius in radii:
            jetdef = fastjet.JetDefinition(algorithm, radius)

            def run_fastjet():
                return fastjet.ClusterSequence(events, jetdef).inclusive_jets()

            def run_ours():
                return kernels.inclusive_jets(px, py, pz, e, offsets, radius, args.p, 0.0)

            ours = run_ours()  # warm-up (numba compilation or cache load)
            reference = run_fastjet()
            if not np.array_equal(np.diff(ours[4]), ak.to_numpy(ak.num(reference))):
                raise RuntimeError(f"jet multiplicities differ from FastJet at {size} inputs, R={radius}")
            t_fj, t_one, t_all = (t / n_ev for t in interleaved_best(
                [(run_fastjet, None), (run_ours, 1), (run_ours, max_threads)], args.repeats))
            strategy = kernels.best_strategy(size, radius, args.p)
            print(f"{size:>7} {radius:>4.1f} {strategy:>15} {np.diff(ours[4]).mean():>8.1f} {1e3 * t_fj:>11.3f} "
                  f"{1e3 * t_one:>13.3f} {t_one / t_fj:>11.2f} {1e3 * t_all:>13.3f} {t_all / t_fj:>7.2f}"
                  + (f"   {label}" if label else ""))

    if sizes:
        hard = generate_pythia(args.events, args.seed)
        rng = np.random.default_rng(args.seed)
        print(f"\n{args.events} Pythia dijet events per row (visible final state + pile-up top-up), "
              f"p = {args.p:g}, best of {args.repeats}; times are per event")
        print(f"numba threads available: {max_threads}; FastJet {fastjet.__version__} (single thread)\n")
        print(header)
        print("-" * len(header))
        for size in sizes:
            rows(*build_events(hard, size, rng))
    if pileups:
        print(f"\n{args.pileup_events} Pythia ttbar events per row with mu Pythia minimum-bias events overlaid "
              f"(visible final state, all rapidities), p = {args.p:g}, best of {args.repeats}; times are per event; "
              f"inputs is the mean")
        print(f"numba threads available: {max_threads}; FastJet {fastjet.__version__} (single thread)\n")
        print(header)
        print("-" * len(header))
        for mu in pileups:
            rows(*pileup_events(args.pileup_events, mu, args.seed), label=f"ttbar + {mu} minimum bias")
    print("\nratio = ours / FastJet per event (below 1: ours is faster); 'ours 1thr' is the same kernel "
          "restricted to one numba thread.")


if __name__ == "__main__":
    main()
