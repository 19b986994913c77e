"""Level-1 calorimeter trigger speed: towers, L1 algorithms and the menu against a numpy tower reduction.

Run:  python benchmarks/l1calo.py [--events N] [--repeat N]

Cells come from the existing chain (Pythia 8 dijets, pTHatMin 100 GeV ->
FastCaloSim -> digitisation with electronic noise -> cell building) on the
atlas-like geometry (201,600 cells, 50 x 64 trigger towers), with ``--mu``
(60) minimum-bias interactions overlaid on every event before the
simulation (a library of 1,000 Pythia interactions, made once and cached,
as ``PileupOverlay`` does).

Printed, events per second on ONE numba thread (per core):

1. towers: ``tower_counts`` (cells -> quantised EM and hadronic towers);
2. towers + L1 algorithms: plus EM/tau, jet elements, jets and energy sums (kernels only);
3. towers + L1 algorithms + menu, as a job runs a chunk: ``L1CaloTrigger`` and
   ``L1TriggerMenu`` (the shipped menu, initialised once) on a new event store,
   building the awkward products and the ``TriggerDecision``;

and the reference measured in the same run: a numpy reduction of the same
cells into the same towers (per event ``np.bincount`` of E_T-weighted cells
on the cell-to-tower index, then the same truncation and saturation; its
towers are checked to equal ours), with the ratio, and numpy's plain sum
of every cell (one read of the cells: the memory-bandwidth floor of any
tower sum).
"""
from __future__ import annotations

import argparse
import os
import time

import awkward as ak
import numba
import numpy as np

from hepreco.algorithms.calo.conditions import make_conditions
from hepreco.algorithms.calo.digitisation import build_cells, digitise
from hepreco.algorithms.calo.geometry import load_geometry
from hepreco.algorithms.calo.simulation import simulate
from hepreco.algorithms.generation.kernels import overlay
from hepreco.algorithms.generation.minbias import make_library, read_library
from hepreco.algorithms.generation.pythia_source import generate
from hepreco.algorithms.trigger import kernels as K
from hepreco.algorithms.trigger.decision import L1TriggerMenu
from hepreco.algorithms.trigger.l1calo import L1CaloTrigger
from hepreco.framework import Sequence, testing
from hepreco.framework.event_store import EventStore, make_event_ids
from hepreco.framework.sequence import ChunkRunner
from hepreco.framework.testing import INPUT_PRODUCER
from hepreco.framework.services.random import RandomSvc
from _timing import best  # noqa: E402

LSB, NOISE_CUT, MAX_COUNT = 0.5, 2, 255


def dijet_cells(n: int, geometry, mu: float = 0.0) -> np.ndarray:
    cond = make_conditions(geometry, 20240601)
    ids, parts = generate(n, ["HardQCD:all = on", "PhaseSpace:pTHatMin = 100."], seed=1)
    counts = ak.to_numpy(ak.num(parts, axis=1))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    flat = ak.flatten(parts)
    names = ("pdg_id", "charge", "px", "py", "pz", "E")
    svc = RandomSvc(seed=1)
    if mu > 0:  # Poisson(mu) interactions of the cached minimum-bias library, as PileupOverlay draws them
        library = read_library(make_library(1000, 1))
        merged, offsets, _, _ = overlay({f: ak.to_numpy(flat[f]) for f in names}, offsets, library.columns,
                                        library.offsets, svc.seeds(ids, "PileupOverlay"), mu)
        cols = [merged[f] for f in names]
    else:
        cols = [ak.to_numpy(flat[f]) for f in names]
    hits = simulate(*cols, offsets, geometry, svc.seeds(ids, "FastCaloSim"), None)
    adc = digitise(hits, cond["pedestal"], cond["gain"], cond["noise_sigma"], svc.seeds(ids, "CaloDigitiser"),
                   adc_max=cond["adc_max"])
    return build_cells(adc, cond["pedestal"], cond["gain"], cond["dead_mask"])


def numpy_towers(cells, flat_index, weight, n_towers):
    """The numpy reference: per event, bincount of E_T-weighted cells into towers, then quantisation."""
    out = np.empty((cells.shape[0], n_towers), dtype=np.int32)
    for ev in range(cells.shape[0]):
        et = np.bincount(flat_index, weights=cells[ev] * weight, minlength=n_towers)
        counts = np.floor(et / LSB)
        counts[counts < NOISE_CUT] = 0
        out[ev] = np.minimum(counts, MAX_COUNT)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=300, help="Pythia dijet events in the chunk")
    p.add_argument("--repeat", type=int, default=5, help="repeats (best is reported)")
    p.add_argument("--cells", default="", help="keep the generated cells in this .npy file and reuse them")
    p.add_argument("--mu", type=float, default=60.0, help="mean pile-up interactions per event (0: none)")
    args = p.parse_args()

    geometry = load_geometry("atlas-like")
    t0 = time.perf_counter()
    if args.cells and os.path.exists(args.cells):
        cells = np.load(args.cells)
    else:
        cells = dijet_cells(args.events, geometry, args.mu)
        if args.cells:
            np.save(args.cells, cells)
    t_chain = time.perf_counter() - t0
    n, n_cells = cells.shape
    m = K.tower_map(geometry)
    n_towers = 2 * m.n_eta * m.n_phi
    kind, ieta, iphi, weight = m.cell_tower(n_cells)
    flat_index = np.where(kind >= 0, (kind * m.n_eta + ieta) * m.n_phi + iphi, n_towers)  # outside: a spare bin
    phi_je = m.phi_min + (2 * np.arange(m.n_phi // 2) + 1) * m.dphi

    def towers():
        return K.tower_counts(cells, *m.tables(), m.n_eta, m.n_phi, LSB, NOISE_CUT, MAX_COUNT)

    def l1_kernels():
        t = towers()
        K.em_tau(t, 4)
        je = K.jet_elements(t, 1023)
        K.jets(je, 10)
        K.energy_sums(je, phi_je)

    top = Sequence("TopSequence", [L1CaloTrigger(), L1TriggerMenu()])
    services = testing.make_services({"GeometrySvc": {"geometry": "atlas-like"}}, seed=1)
    for component in top.walk():
        component.services = services
    for svc in services.all():
        getattr(svc, "initialize", lambda: None)()
    for alg in top.leaves():
        alg.initialize()
    runner = ChunkRunner(services.timing, services.histograms, services.accumulators)
    ids = make_event_ids(1, np.arange(n))

    def l1_job():
        """One chunk as a job processes it: a new event store, the two algorithms (initialised once)."""
        store = EventStore(ids)
        store.put("CaloCells", cells, INPUT_PRODUCER)
        runner.run(top, store)
        return store

    def reference():
        return numpy_towers(cells, flat_index, weight.astype(np.float64), n_towers + 1)

    threads = numba.get_num_threads()
    # warm up (numba compilation or cache load) and check that both sides make the same towers
    ours = towers()
    theirs = reference()[:, :n_towers].reshape(ours.shape)
    same = np.array_equal(ours, theirs)
    l1_kernels()
    result = l1_job()
    numba.set_num_threads(1)
    try:
        t_towers = best(towers, args.repeat)
        t_kernels = best(l1_kernels, args.repeat)
        t_job = best(l1_job, args.repeat)
        t_numpy = best(reference, max(2, args.repeat // 2))
        t_read = best(lambda: cells.sum(axis=1), args.repeat)
    finally:
        numba.set_num_threads(threads)
    t_towers_all = best(towers, args.repeat)

    em = result["L1EmTau"]
    jets = result["L1Jets"]
    accept = ak.to_numpy(result["TriggerDecision"].L1.accept)
    print(f"L1 calorimeter trigger, {n} Pythia dijet events (pTHatMin 100 GeV, mu = {args.mu:g}), atlas-like geometry "
          f"({n_cells:,} cells, {m.n_eta} x {m.n_phi} towers); cells made or read in {t_chain:.1f} s")
    print(f"   per event: {ak.mean(ak.num(em)):.1f} EM/tau objects, {ak.mean(ak.num(jets)):.1f} L1 jets; "
          f"L1 accept {accept.mean():.3f} (shipped menu, Physics set)")
    print("   one numba thread (per core):")
    print(f"   towers                                   {n / t_towers:10.0f} events/s   "
          f"({1e6 * t_towers / n:.1f} us/event, {1e9 * t_towers / (n * n_cells):.3f} ns/cell, "
          f"{cells.nbytes / t_towers / 1e9:.1f} GB/s of cells)")
    print(f"   towers + L1 algorithms (kernels)         {n / t_kernels:10.0f} events/s   "
          f"({1e6 * t_kernels / n:.1f} us/event)")
    print(f"   towers + L1 algorithms + menu (plugins)  {n / t_job:10.0f} events/s   "
          f"({1e6 * t_job / n:.1f} us/event)")
    print(f"   numpy reduction into towers (bincount)   {n / t_numpy:10.0f} events/s   "
          f"({1e6 * t_numpy / n:.1f} us/event); same towers as ours: {'yes' if same else 'NO'}")
    print(f"   numpy sum of every cell (one read)       {n / t_read:10.0f} events/s   "
          f"({1e6 * t_read / n:.1f} us/event, {cells.nbytes / t_read / 1e9:.1f} GB/s): the memory-bandwidth floor")
    print(f"   ratio towers+L1+menu / numpy reduction: {t_numpy / t_job:.2f} "
          f"(> 1: faster than the reduction alone; towers alone {t_numpy / t_towers:.2f})")
    print(f"   towers on {threads} threads: {n / t_towers_all:10.0f} events/s")


if __name__ == "__main__":
    main()
