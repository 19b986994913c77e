"""Small components for framework tests, registered as a plugin module (job.plugins)."""
from __future__ import annotations

import os

import awkward as ak
import hist
import numpy as np

from hepreco.framework import (Algorithm, EventAlgorithm, EventSource, Filter, Input, Output, Property, PropertyError,
                               Service,
                               hookimpl)
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


class ToyGenerator(ToySource):
    """ToySource declared as a generator: it needs job.evt_max."""

    generator = True


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
        self.seen = self.accumulate("events", "counter")

    def execute(self, store):
        events = store.event_ids["event"]
        bad = set(self.bad_events) & set(events.tolist())
        self.h.fill(store[self.sumpt])
        self.seen.add(len(events))
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


class Preflighted(Algorithm):
    """Records each preflight call (a line with the process id in ``log``) and refuses when asked."""

    log = Property("", doc="file receiving one line per preflight call")
    refuse = Property(False, doc="raise a PropertyError from preflight")

    def preflight(self):
        if self.log:
            with open(self.log, "a") as f:
                f.write(f"{os.getpid()}\n")
        if self.refuse:
            raise PropertyError(self.name, "refuse", "the external check says no")

    def execute(self, store):
        pass


class Touch(Algorithm):
    """Trivial algorithm: reads one key, writes another (for chains)."""

    src = Input("SumPt")
    dst = Output("{name}Out")

    def execute(self, store):
        store.put(self.dst, store[self.src])


class Tally(Algorithm):
    """Fills one accumulator of every kind from SumPt; end_of_job writes ``<name>.json`` from the merged ones.

    The sums use values on a 1/4 GeV grid, so they are exact whatever the chunking.
    """

    sumpt = Input("SumPt")
    particles = Input("Particles")
    high = Property(150.0, doc="SumPt above which an event is recorded", unit="GeV")

    def initialize(self):
        self.events = self.accumulate("events", "counter")
        self.total = self.accumulate("sumpt", "sum")
        self.binned = self.accumulate("binned", "sum", shape=3)
        self.weights = self.accumulate("weights", "weighted_sum")
        self.eff = self.accumulate("above90", "efficiency")
        self.records = self.accumulate("high", "records")
        self.parity = self.accumulate("parity", "set")

    def execute(self, store):
        sumpt = np.round(store[self.sumpt] * 4) / 4
        events = store.event_ids["event"]
        n = ak.to_numpy(ak.num(store[self.particles], axis=1))
        self.events.add(len(events))
        self.total.add(sumpt)
        self.binned.add(np.ones(len(events)), at=(np.clip(sumpt // 50, 0, 2).astype(int),))
        self.weights.add(events * 0.5)
        self.eff.add(store[self.sumpt] > 90.0)
        for e, k, s in zip(events, n, sumpt):
            if s > self.high:
                self.records.append({"event": e, "n": k})
        self.parity.update("odd" if e % 2 else "even" for e in events)

    def end_of_job(self, histograms, output_dir, accumulators):
        import json

        path = os.path.join(output_dir, f"{self.name}.json")
        with open(path, "w") as f:
            json.dump({"events": accumulators["events"].value, "above90": accumulators["above90"].value}, f)
        return [path]


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


class InitProbe(Algorithm):
    """Records, per event, the process that initialised this algorithm and the process that ran the event."""

    sumpt = Input("SumPt")
    init_pid = Output("InitPid", doc="os.getpid() in initialize")
    event_pid = Output("EventPid", doc="os.getpid() in execute")

    def initialize(self):
        self.pid = os.getpid()

    def execute(self, store):
        n = len(store[self.sumpt])
        store.put(self.init_pid, np.full(n, self.pid, dtype=np.int64))
        store.put(self.event_pid, np.full(n, os.getpid(), dtype=np.int64))


@hookimpl
def hepreco_register_algorithms():
    return [SumPt, SumPtFilter, HardParticles, Smear, Exploder, Crasher, Counter, Touch, Sleep, Tally, Scaled,
            Preflighted, ThreadProbe, InitProbe]


class ToyConditionsSvc(Service):
    """A constant energy scale (for tests of services used by algorithms)."""

    scale = Property(1.0, doc="factor applied by Scaled")

    def initialize(self):
        self.initialized = True


class Scaled(Algorithm):
    """SumPt times the scale of a conditions service."""

    sumpt = Input("SumPt")
    scaled = Output("ScaledSumPt")
    conditions = Property("ToyConditionsSvc", doc="name of the conditions service")

    def execute(self, store):
        store.put(self.scaled, store[self.sumpt] * self.services.get(self.conditions).scale)


@hookimpl
def hepreco_register_services():
    return [ToyConditionsSvc]


@hookimpl
def hepreco_register_sources():
    return [ToySource, ToyGenerator]
