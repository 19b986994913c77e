"""Calorimeter chain speed on Pythia dijets with the default (atlas-like) geometry.

Run:  python benchmarks/calo_chain.py [--events N] [--repeat N]

Prints events/s of the simulation, digitisation and cell-building kernels
over one chunk of Pythia dijet events, and the cell builder's bytes
processed per second next to plain numpy copies of the same arrays, measured
in the same run (how close the cell builder gets to the memory bandwidth).

The comparison is like for like: numpy copies on one thread, so the cell
builder's ratio is taken on one numba thread too (its figure on all threads
is printed beside it, with numba's threading layer).  Bytes counted are those
read plus those written (ADC counts in, float32 energies out; source and
destination of a copy).  Output allocation is counted on neither side in the
first block (every call writes into a buffer allocated and touched before the
timing) and on both sides in the second (the builder allocates its output, as
in a job, against ``numpy.array`` copies, which allocate theirs): fresh memory
costs a page fault per page on first touch.  The builder's time includes its
per-call conditions work (pedestal and gain arrays to float32, the dead-cell
mask folded into the gains).
"""
from __future__ import annotations

import argparse

import awkward as ak
import numba
import numpy as np

from hepreco.algorithms.calo.conditions import make_conditions
from hepreco.algorithms.calo.digitisation import build_cells, digitise
from hepreco.algorithms.calo.geometry import load_geometry
from hepreco.algorithms.calo.simulation import simulate
from hepreco.algorithms.generation.pythia_source import generate
from hepreco.framework.services.random import RandomSvc
from _timing import best  # noqa: E402


def dijets(n: int):
    return generate(n, ["HardQCD:all = on", "PhaseSpace:pTHatMin = 100."], seed=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=100, help="Pythia dijet events in the chunk")
    p.add_argument("--repeat", type=int, default=3, help="repeats (best is reported)")
    args = p.parse_args()

    geometry = load_geometry("atlas-like")
    cond = make_conditions(geometry, 20240601)
    ids, parts = dijets(args.events)
    counts = ak.to_numpy(ak.num(parts, axis=1))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    flat = ak.flatten(parts)
    cols = [ak.to_numpy(flat[f]) for f in ("pdg_id", "charge", "px", "py", "pz", "E")]
    seeds = RandomSvc(seed=1).seeds(ids, "FastCaloSim")
    dseeds = RandomSvc(seed=1).seeds(ids, "CaloDigitiser")
    n, n_cells = len(ids), geometry.n_cells

    # warm up (numba compilation or cache load)
    hits = simulate(*cols, offsets[:3] if n > 2 else offsets, geometry, seeds[:2], None)
    adc = digitise(np.zeros((2, n_cells), np.float32), cond["pedestal"], cond["gain"], cond["noise_sigma"],
                   dseeds[:2], adc_max=cond["adc_max"])
    build_cells(adc, cond["pedestal"], cond["gain"], cond["dead_mask"])

    t_sim = best(lambda: simulate(*cols, offsets, geometry, seeds, None), args.repeat)
    hits = simulate(*cols, offsets, geometry, seeds, None)
    t_digi = best(lambda: digitise(hits, cond["pedestal"], cond["gain"], cond["noise_sigma"], dseeds,
                                   adc_max=cond["adc_max"]), args.repeat)
    adc = digitise(hits, cond["pedestal"], cond["gain"], cond["noise_sigma"], dseeds, adc_max=cond["adc_max"])
    threads = numba.get_num_threads()
    out = np.ones((n, n_cells), dtype=np.float32)  # allocated and touched before any timing

    def build(into=None):
        return build_cells(adc, cond["pedestal"], cond["gain"], cond["dead_mask"], out=into)

    build(out)  # warm up, and the threading layer is known once a parallel kernel ran
    numba.set_num_threads(1)
    try:
        t_build_1 = best(lambda: build(out), args.repeat * 3)
        t_fresh_1 = best(build, args.repeat * 3)
    finally:
        numba.set_num_threads(threads)
    t_build = best(lambda: build(out), args.repeat * 3)
    copy_adc = np.ones_like(adc)
    t_copy_adc = best(lambda: np.copyto(copy_adc, adc), args.repeat * 3)
    copy_f32 = np.ones_like(out)
    t_copy_f32 = best(lambda: np.copyto(copy_f32, out), args.repeat * 3)
    t_fresh_adc = best(lambda: np.array(adc), args.repeat * 3)
    t_fresh_f32 = best(lambda: np.array(out), args.repeat * 3)

    print(f"calorimeter chain, {n} Pythia dijet events (pTHatMin 100 GeV, {counts.mean():.0f} particles/event), "
          f"atlas-like geometry ({n_cells:,} cells); numba: {threads} threads, threading layer "
          f"{numba.threading_layer()}")
    print(f"   simulation      {n / t_sim:10.1f} events/s   ({1e3 * t_sim / n:.2f} ms/event, "
          f"{1e6 * t_sim / counts.sum():.2f} us/particle)")
    print(f"   digitisation    {n / t_digi:10.1f} events/s   ({1e9 * t_digi / (n * n_cells):.2f} ns/cell)")
    print(f"   cell building   {n / t_build:10.1f} events/s   ({1e9 * t_build / (n * n_cells):.2f} ns/cell)")
    bytes_build = adc.nbytes + out.nbytes  # read ADC counts, write float32 energies

    def rate(nbytes, t):
        return nbytes / t / 1e9

    copies = (rate(2 * adc.nbytes, t_copy_adc), rate(2 * out.nbytes, t_copy_f32))
    fresh_copies = (rate(2 * adc.nbytes, t_fresh_adc), rate(2 * out.nbytes, t_fresh_f32))
    print("   memory traffic (bytes read + written per second), same arrays, same run:")
    print("   into buffers allocated before the timing (allocation counted on neither side):")
    print(f"   cell builder (uint16 -> float32), 1 thread        {rate(bytes_build, t_build_1):6.2f} GB/s")
    print(f"   cell builder (uint16 -> float32), {threads} threads       {rate(bytes_build, t_build):6.2f} GB/s")
    print(f"   numpy copy of the uint16 ADC (1 thread)           {copies[0]:6.2f} GB/s")
    print(f"   numpy copy of the float32 cells (1 thread)        {copies[1]:6.2f} GB/s")
    print(f"   ratio cell builder / faster copy, 1 thread each: {rate(bytes_build, t_build_1) / max(copies):.2f}")
    print("   into fresh arrays (allocation and first touch counted on both sides):")
    print(f"   cell builder, new output, 1 thread                {rate(bytes_build, t_fresh_1):6.2f} GB/s")
    print(f"   numpy.array copy of the uint16 ADC                {fresh_copies[0]:6.2f} GB/s")
    print(f"   numpy.array copy of the float32 cells             {fresh_copies[1]:6.2f} GB/s")
    print(f"   ratio cell builder / faster copy, 1 thread each: {rate(bytes_build, t_fresh_1) / max(fresh_copies):.2f}")


if __name__ == "__main__":
    main()
