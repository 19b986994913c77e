"""Small components for framework tests, registered as a plugin module (job.plugins)."""
from __future__ import annotations

import os

import awkward as ak
import hist
import numpy as np

from hepreco.framework import Algorithm, EventAlgorithm, EventSource, Filter, Input, Output, Property, hookimpl
from hepreco.framework.event_store import make_event_ids
from hepreco.framework.io.source import split_range
from hepreco.framework.services.random import event_seeds


class ToySource(EventSource):
    """Random jagged particles (pt, eta, phi) and a dense per-event vector, seeded per event."""

    particles = Output("Particles", doc="jagged records pt [GeV], eta, phi")
    vector = Output("Vector", doc="dense (event, 4) float64")
    mean_multiplicity = Property(20.0, doc="mean particles per event", gt=0)

    def work_items(self, evt_max, chunk_size, run):
        return split_range(self.name, None, evt_max if evt_max >= 0 else 100, chunk_size, run)

    def read(self, item):
        ids = make_event_ids(item.run, np.arange(item.first, item.last))
        seeds = event_seeds(self.services.random.seed, ids["run"], ids["event"], self.name)
        counts, pts, etas, phis, vec = [], [], [], [], []
        for s in seeds:
            rng = np.random.Generator(np.random.Philox(key=int(s)))
            n = rng.poisson(self.mean_multiplicity)
            counts.append(n)
            pts.append(rng.exponential(5.0, n))
            etas.append(rng.uniform(-3, 3, n))
            phis.append(rng.uniform(-np.pi, np.pi, n))
            vec.append(rng.normal(size=4))
        cat = (lambda xs: np.concatenate(xs) if xs else np.zeros(0))
        parts = ak.unflatten(ak.zip({"pt": cat(pts), "eta": cat(etas), "phi": cat(phis)}), np.array(counts))
        return ids, {self.particles: parts, self.vector: np.array(vec).reshape(-1, 4)}


class SumPt(Algorithm):
    """Scalar sum of particle pt per event."""

    particles = Input("Particles")
    sumpt = Output("SumPt", doc="float64 per event [GeV]")

    def execute(self, store):
        store.put(self.sumpt, ak.to_numpy(ak.sum(store[self.particles].pt, axis=1)))


class SumPtFilter(Filter):
    """Pass events with SumPt above a threshold."""

    sumpt = Input("SumPt")
    threshold = Property(100.0, doc="cut", unit="GeV")

    def execute(self, store):
        return store[self.sumpt] > self.threshold


class HardParticles(Algorithm):
    """Particles above a pt cut (jagged output), and a histogram of their pt."""

    particles = Input("Particles")
    hard = Output("HardParticles")
    cut = Property(5.0, unit="GeV")

    def initialize(self):
        self.h = self.book("pt", hist.axis.Regular(40, 0, 40, label="pt [GeV]"))
        self.h_n = self.book("n", hist.axis.Integer(0, 40, label="hard particles"))

    def execute(self, store):
        parts = store[self.particles]
        hard = parts[parts.pt > self.cut]
        self.h.fill(ak.to_numpy(ak.flatten(hard.pt)))
        self.h_n.fill(ak.to_numpy(ak.num(hard, axis=1)))
        store.put(self.hard, hard)


class Smear(Algorithm):
    """Adds per-event Gaussian noise to Vector using the RandomSvc streams."""

    vector = Input("Vector")
    smeared = Output("SmearedVector")

    def execute(self, store):
        noise = np.array([g.normal(size=4) for g in self.generators(store)]).reshape(-1, 4)
        store.put(self.smeared, store[self.vector] + noise)


class Exploder(Algorithm):
    """Raises on chosen event numbers (for error-policy tests); otherwise copies SumPt."""

    sumpt = Input("SumPt")
    copy = Output("{name}Copy")
    bad_events = Property([], items=int, doc="event numbers that raise")

    def initialize(self):
        self.h = self.book("sumpt", hist.axis.Regular(20, 0, 400))

    def execute(self, store):
        events = store.event_ids["event"]
        bad = set(self.bad_events) & set(events.tolist())
        self.h.fill(store[self.sumpt])
        if bad:
            raise ValueError(f"cannot handle event {sorted(bad)[0]}")
        store.put(self.copy, store[self.sumpt].copy())


class Crasher(Algorithm):
    """Kills its worker process on a chosen event (for retry tests)."""

    sumpt = Input("SumPt")
    event = Property(-1)
    marker = Property("", doc="file created on the first crash; no further crash once it exists "
                      "(empty: crash every time)")

    def execute(self, store):
        if self.event in store.event_ids["event"]:
            if not self.marker:
                os._exit(17)
            if not os.path.exists(self.marker):
                open(self.marker, "w").close()
                os._exit(17)


class Counter(EventAlgorithm):
    """Per-event slow path: number of particles and the leading pt."""

    particles = Input("Particles")
    n = Output("NParticles")
    lead = Output("LeadPt")

    def process_event(self, event, event_id):
        pts = list(event["particles"].pt)
        return {"n": len(pts), "lead": max(pts) if pts else 0.0}


class Sleep(Algorithm):
    """Sleeps per chunk (to kill a job mid-run in tests)."""

    seconds = Property(0.2, unit="s")

    def execute(self, store):
        import time

        time.sleep(self.seconds)


class Touch(Algorithm):
    """Trivial algorithm: reads one key, writes another (for chains)."""

    src = Input("SumPt")
    dst = Output("{name}Out")

    def execute(self, store):
        store.put(self.dst, store[self.src])


class ThreadProbe(Algorithm):
    """Records, per event, the numba thread count and thread-pool size seen where the chunk runs."""

    sumpt = Input("SumPt")
    numba_threads = Output("NumbaThreads", doc="numba.get_num_threads() per event")
    pool_size = Output("NumbaPoolSize", doc="numba.config.NUMBA_NUM_THREADS per event")

    def execute(self, store):
        import numba

        import hepreco.algorithms._numba  # noqa: F401  (registers numba with the threading policy)

        n = len(store[self.sumpt])
        store.put(self.numba_threads, np.full(n, numba.get_num_threads(), dtype=np.int64))
        store.put(self.pool_size, np.full(n, numba.config.NUMBA_NUM_THREADS, dtype=np.int64))


@hookimpl
def hepreco_register_algorithms():
    return [SumPt, SumPtFilter, HardParticles, Smear, Exploder, Crasher, Counter, Touch, Sleep, ThreadProbe]


@hookimpl
def hepreco_register_sources():
    return [ToySource]
