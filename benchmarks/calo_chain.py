"""Calorimeter chain speed on Pythia dijets with the default (atlas-like) geometry.

Run:  python benchmarks/calo_chain.py [--events N] [--repeat N]

Prints events/s of the simulation, digitisation and cell-building kernels
over one chunk of Pythia dijet events, and the cell builder's bytes
processed per second next to plain numpy copies of the same arrays, measured
in the same run (how close the cell builder gets to the memory bandwidth).
"""
from __future__ import annotations

import argparse
import time

import awkward as ak
import numpy as np

from hepreco.algorithms.calo.conditions import make_conditions
from hepreco.algorithms.calo.digitisation import build_cells, digitise
from hepreco.algorithms.calo.geometry import load_geometry
from hepreco.algorithms.calo.simulation import simulate
from hepreco.algorithms.generation.pythia_source import generate
from hepreco.framework.services.random import RandomSvc


def dijets(n: int):
    return generate(n, ["HardQCD:all = on", "PhaseSpace:pTHatMin = 100."], seed=1)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


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
    out = np.empty((n, n_cells), dtype=np.float32)
    t_build = best(lambda: build_cells(adc, cond["pedestal"], cond["gain"], cond["dead_mask"], out=out),
                   args.repeat * 3)
    copy_adc = np.empty_like(adc)
    t_copy_adc = best(lambda: np.copyto(copy_adc, adc), args.repeat * 3)
    copy_f32 = np.empty_like(out)
    t_copy_f32 = best(lambda: np.copyto(copy_f32, out), args.repeat * 3)

    print(f"calorimeter chain, {n} Pythia dijet events (pTHatMin 100 GeV, {counts.mean():.0f} particles/event), "
          f"atlas-like geometry ({n_cells:,} cells), 2 threads")
    print(f"   simulation      {n / t_sim:10.1f} events/s   ({1e3 * t_sim / n:.2f} ms/event, "
          f"{1e6 * t_sim / counts.sum():.2f} us/particle)")
    print(f"   digitisation    {n / t_digi:10.1f} events/s   ({1e9 * t_digi / (n * n_cells):.2f} ns/cell)")
    print(f"   cell building   {n / t_build:10.1f} events/s   ({1e9 * t_build / (n * n_cells):.2f} ns/cell)")
    bytes_build = adc.nbytes + out.nbytes  # read ADC counts, write float32 energies
    print("   memory traffic (read + write), same arrays, same run:")
    print(f"   cell builder (uint16 -> float32)  {bytes_build / t_build / 1e9:6.2f} GB/s")
    print(f"   numpy copy of the uint16 ADC      {2 * adc.nbytes / t_copy_adc / 1e9:6.2f} GB/s")
    print(f"   numpy copy of the float32 cells   {2 * out.nbytes / t_copy_f32 / 1e9:6.2f} GB/s")
    ratio = (bytes_build / t_build) / max(2 * adc.nbytes / t_copy_adc, 2 * out.nbytes / t_copy_f32)
    print(f"   ratio cell builder / faster copy: {ratio:.2f}")


if __name__ == "__main__":
    main()
