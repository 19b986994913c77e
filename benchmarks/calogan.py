"""Generative calorimeter simulation speed: the CaloGAN generator against FastCaloSim, on the CPU.

Run:  python benchmarks/calogan.py [--weights NAME_OR_FILE] [--repeat N] [--threads N]

Prints milliseconds per shower at batch sizes 1, 10, 128 and 1,024 for the
generator (``ShowerGenerator.generate``: torch.inference_mode, float64
arithmetic, float32 cells, latent noise from per-event seeds included) and
for ``FastCaloSim``'s kernel (``simulate``, numba, already compiled) on the
same particles (e+, gamma, pi+ in turn, energies uniform in 1-100 GeV,
perpendicular at the calogan geometry's centre) in the same run, beside the
CaloGAN paper's CPU figures (Paganini et al., PRD 97 (2018) 014021, Table
IV: 13.1 ms at batch 1, 2.03 ms at 1,024; Geant4 1,772 ms).  Best of
``--repeat`` timings; batch 1 and 10 are timed over 200 and 50 calls.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from hepreco.algorithms.calo.geometry import load_geometry
from hepreco.algorithms.calo.simulation import SimulationParameters, simulate
from hepreco.algorithms.calogan.generator import load
from hepreco.algorithms.calogan.noise import latent_normals
from hepreco.algorithms.calogan.validate import find_weights
from hepreco.framework import extras
from hepreco.framework.services.random import event_seeds

#: the CaloGAN paper's generation times on a CPU [ms per shower] by batch size; Geant4: 1772 ms
PAPER_CPU = {1: 13.1, 1024: 2.03}
GEANT4_MS = 1772.0


def particles(n: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    pdg = np.array([-11, 22, 211])[np.arange(n) % 3]
    energy = rng.uniform(1.0, 100.0, n)
    mass = np.where(pdg == 211, 0.13957, np.where(pdg == 22, 0.0, 0.000511))
    p = np.sqrt(energy ** 2 - mass ** 2)
    return {"pdg_id": pdg, "charge": np.where(pdg == 22, 0.0, 1.0), "px": p, "py": np.zeros(n),
            "pz": np.zeros(n), "energy": energy, "offsets": np.arange(n + 1, dtype=np.int64)}


def best(fn, repeat: int, calls: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t0) / calls)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="calogan-gan", help="weights file or artefact name")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (numba's kernel is one thread)")
    args = parser.parse_args()
    torch = extras.torch(needed_by="benchmarks/calogan.py")
    torch.set_num_threads(args.threads)
    import numba

    numba.set_num_threads(1)
    gen = load(find_weights(args.weights))
    geometry = load_geometry("calogan")
    params = SimulationParameters(b_field=0.0)
    print(f"CPU, torch {torch.__version__} with {args.threads} thread(s); FastCaloSim one thread; "
          f"ms per shower (best of {args.repeat})")
    print(f"{'batch':>6} {'generator':>10} {'FastCaloSim':>12} {'CaloGAN paper CPU':>18} {'Geant4 (paper)':>15}")
    p = particles(1024)
    simulate(p["pdg_id"][:3], p["charge"][:3], p["px"][:3], p["py"][:3], p["pz"][:3], p["energy"][:3],
             p["offsets"][:4], geometry, np.arange(3, dtype=np.uint64), params)  # compile outside the timing
    for batch in (1, 10, 128, 1024):
        sl = slice(0, batch)
        seeds = event_seeds(1, np.zeros(batch, np.int64), np.arange(batch), "CaloGanSimulation")

        def generate():
            gen.generate(p["energy"][sl], p["pdg_id"][sl], latent_normals(seeds, gen.latent), batch_size=batch)

        def fast():
            simulate(p["pdg_id"][sl], p["charge"][sl], p["px"][sl], p["py"][sl], p["pz"][sl], p["energy"][sl],
                     p["offsets"][:batch + 1], geometry, seeds, params)

        calls = {1: 200, 10: 50}.get(batch, 3)
        generate()
        ms_gen = 1e3 * best(generate, args.repeat, calls) / batch
        ms_fast = 1e3 * best(fast, args.repeat, calls) / batch
        paper = f"{PAPER_CPU[batch]:.2f}" if batch in PAPER_CPU else "-"
        print(f"{batch:>6} {ms_gen:>10.4f} {ms_fast:>12.4f} {paper:>18} {GEANT4_MS:>15.0f}")


if __name__ == "__main__":
    main()
