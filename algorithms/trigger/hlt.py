"""The high-level trigger: chain seeds, hypotheses, missing E_T, and the HLT menu (the ``TriggerDecision``).

An HLT chain is a filtered sequence of the job (``mode: and``) named after
the chain of the menu: an :class:`HLTSeed` first (the events its L1 items
accepted after the L1 prescale), then reconstruction steps (the offline
algorithms with their own configuration and output keys: topo-clusters,
anti-kt jets, :class:`MissingETMaker`, ``EgammaShowerShapes``), then
hypotheses (filters on the reconstructed objects).  Members after a failed
step see no event (early rejection), so reconstruction runs only on the
events the chain's seed accepted.  Reconstruction shared by several chains
sits in a filtered sequence of its own whose seed is the union of theirs.

:class:`HLTTriggerMenu` then reads each chain's decision (``<chain>Passed``),
applies the chain prescales and streams of the menu, and puts the
``TriggerDecision`` with the L1 and the HLT levels.
"""
from __future__ import annotations

import awkward as ak
import numpy as np

from hepreco.framework import ConfigurationError, Filter, Input, Output, Property, PropertyError
from hepreco.framework.algorithm import Algorithm
from hepreco.framework.manifest import atomic_write_json

from ..arrays import flatten_jagged
from .decision import LHC_REVOLUTION_HZ, TriggerDecisionFilter
from .menu import load_menu, prescale_accept, record_menu
from .products import records


class HLTSeed(TriggerDecisionFilter):
    """The first step of an HLT chain: the events any of ``items`` accepted at L1 (after the L1 prescale).

    Reads the L1 decision (``L1TriggerMenu`` with ``trigger_decision: L1Decision``).
    """

    trigger_decision = Input("L1Decision", doc="the L1 decision (L1TriggerMenu with trigger_decision: L1Decision)")
    items = Property([], doc="the chain's L1 seed items (e.g. [L1_J100]); required", items=str)

    def check(self, registry) -> None:
        if not self.items:
            raise PropertyError(self.name, "items", "an HLT seed needs its L1 items, e.g. items: [L1_J100]")


# -- reconstruction ---------------------------------------------------------------------------
def missing_et(px, py, offsets, selected=None):
    """Per event ``(ex, ey, sum_et)`` [GeV]: minus the vector sum of (px, py) and the scalar sum of pT of the
    objects (flat columns with int64 ``offsets``; only the ``selected`` ones when given)."""
    n = len(offsets) - 1
    event = np.repeat(np.arange(n), np.diff(offsets))
    pt = np.hypot(px, py)
    if selected is not None:
        event, px, py, pt = event[selected], px[selected], py[selected], pt[selected]
    ex = -np.bincount(event, weights=px, minlength=n)
    ey = -np.bincount(event, weights=py, minlength=n)
    return ex, ey, np.bincount(event, weights=pt, minlength=n)


class MissingETMaker(Algorithm):
    """Missing transverse energy from the clusters (or any px, py collection): one record per event.

    ``met = |-(sum px, sum py)|`` of the clusters with ``E_T > et_min`` and
    ``|eta| < eta_max``; ``sum_et`` their scalar sum.  Usable offline
    (calibrated clusters) and in the HLT (the chain's own clusters).
    """

    clusters = Input("CaloCalTopoClusters", doc="clusters: px, py, eta [GeV]")
    met = Output("MissingET", doc="per event: met, met_phi, ex, ey, sum_et [GeV]")
    et_min = Property(0.0, doc="clusters with transverse energy above this", unit="GeV", ge=0)
    eta_max = Property(5.0, doc="clusters with |eta| below this", gt=0)

    def execute(self, store):
        cols, offsets = flatten_jagged(store[self.clusters], ["px", "py", "eta"], dtype=np.float64)
        keep = (np.hypot(cols["px"], cols["py"]) > self.et_min) & (np.abs(cols["eta"]) < self.eta_max)
        ex, ey, sum_et = missing_et(cols["px"], cols["py"], offsets, keep)
        store.put(self.met, ak.Array(records({"met": np.hypot(ex, ey), "met_phi": np.arctan2(ey, ex), "ex": ex,
                                              "ey": ey, "sum_et": sum_et}, len(ex))))


# -- hypotheses -------------------------------------------------------------------------------
def count_above(values, offsets, threshold, selected=None):
    """Per event, the number of objects with ``values > threshold`` (and ``selected``)."""
    ok = values > threshold
    if selected is not None:
        ok &= selected
    event = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    return np.bincount(event[ok], minlength=len(offsets) - 1)


def sum_above(values, offsets, threshold, selected=None):
    """Per event, the sum of ``values`` of the objects with ``values > threshold`` (and ``selected``)."""
    ok = values > threshold
    if selected is not None:
        ok &= selected
    event = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    return np.bincount(event[ok], weights=values[ok], minlength=len(offsets) - 1)


class HLTJetHypo(Filter):
    """At least ``multiplicity`` jets with ``pt > threshold`` and ``|eta| < eta_max``."""

    jets = Input("HLTAntiKt4Jets", doc="jets: pt [GeV], eta")
    threshold = Property(100.0, doc="jet pT threshold (pt > threshold)", unit="GeV", ge=0)
    multiplicity = Property(1, doc="jets needed above threshold", ge=1)
    eta_max = Property(3.2, doc="jets with |eta| below this", gt=0)

    def execute(self, store):
        cols, offsets = flatten_jagged(store[self.jets], ["pt", "eta"], dtype=np.float64)
        return count_above(cols["pt"], offsets, self.threshold, np.abs(cols["eta"]) < self.eta_max) \
            >= self.multiplicity


class HLTHTHypo(Filter):
    """HT = scalar sum of jet pT above ``jet_pt_min`` within ``|eta| < eta_max``; passes when HT > threshold."""

    jets = Input("HLTAntiKt4Jets", doc="jets: pt [GeV], eta")
    threshold = Property(1000.0, doc="HT threshold", unit="GeV", ge=0)
    jet_pt_min = Property(30.0, doc="jets above this pT enter HT", unit="GeV", ge=0)
    eta_max = Property(3.2, doc="jets with |eta| below this", gt=0)

    def execute(self, store):
        cols, offsets = flatten_jagged(store[self.jets], ["pt", "eta"], dtype=np.float64)
        return sum_above(cols["pt"], offsets, self.jet_pt_min, np.abs(cols["eta"]) < self.eta_max) > self.threshold


class HLTMETHypo(Filter):
    """Missing E_T (a :class:`MissingETMaker` product) above ``threshold``."""

    met = Input("HLTMissingET", doc="per event: met [GeV] (MissingETMaker)")
    threshold = Property(100.0, doc="missing E_T threshold (met > threshold)", unit="GeV", ge=0)

    def execute(self, store):
        return ak.to_numpy(store[self.met].met).astype(np.float64) > self.threshold


class HLTEgammaHypo(Filter):
    """At least ``multiplicity`` EM clusters passing E_T and shower-shape cuts.

    A cluster passes with ``E_T = E / cosh(eta) > threshold`` (EM scale),
    ``|eta| < eta_max``, ``R_had < r_had_max``, ``R_eta > r_eta_min`` and
    ``w_eta2 < w_eta2_max`` (``EgammaShowerShapes`` of the same clusters; the
    defaults keep ~all of the 20 GeV electrons and photons of the shower-shape
    study and reject most charged pions by ``R_had``).
    """

    clusters = Input("HLTTopoClusters", doc="EM-scale clusters: E [GeV], eta")
    shapes = Input("HLTEgammaShowerShapes", doc="shower shapes of the same clusters (EgammaShowerShapes)")
    threshold = Property(26.0, doc="cluster E_T threshold", unit="GeV", ge=0)
    multiplicity = Property(1, doc="clusters needed", ge=1)
    eta_max = Property(1.4, doc="clusters with |eta| below this (the barrel of the shower shapes)", gt=0)
    r_had_max = Property(0.06, doc="largest hadronic leakage R_had", gt=0)
    r_eta_min = Property(0.90, doc="smallest R_eta (E 3x7 / E 7x7)", ge=0)
    w_eta2_max = Property(0.014, doc="largest middle-layer width w_eta2", gt=0)

    def execute(self, store):
        cols, offsets = flatten_jagged(store[self.clusters], ["E", "eta"], dtype=np.float64)
        shapes, shape_offsets = flatten_jagged(store[self.shapes], ["R_had", "R_eta", "w_eta2"], dtype=np.float64)
        if not np.array_equal(offsets, shape_offsets):
            raise ValueError(f"{self.name}: {self.shapes} has not one record per cluster of {self.clusters}")
        et = cols["E"] / np.cosh(cols["eta"])
        ok = ((np.abs(cols["eta"]) < self.eta_max) & (shapes["R_had"] < self.r_had_max)
              & (shapes["R_eta"] > self.r_eta_min) & (shapes["w_eta2"] < self.w_eta2_max))
        return count_above(et, offsets, self.threshold, ok) >= self.multiplicity


# -- the HLT menu -----------------------------------------------------------------------------
class HLTTriggerMenu(Filter):
    """The HLT level of a trigger menu: chain decisions, chain prescales, streams; puts the ``TriggerDecision``.

    For every chain of the menu (``chains:``, :mod:`.menu`) it reads the
    decision of the job's filtered sequence of the same name
    (``<chain>Passed``): the chain passed before prescale.  ``seeded`` is
    whether any of the chain's seed items accepted the event at L1; a chain
    that passed an event its seed did not accept is an error (its sequence
    must start with an :class:`HLTSeed` of those items, in ``mode: and``;
    :meth:`check_job` checks this when the job is built).  The chain
    prescale is applied to the events that passed (the rule of the L1
    prescales, from this algorithm's per-event seed and the chain name).
    ``end_of_job`` writes ``trigger_summary_<name>.json`` (the counts).

    Puts ``TriggerDecision``, one record per event::

        {"L1": {...the L1 decision...},
         "HLT": {"accept": bool, "seeded": {chain: bool}, "before_prescale": {chain: bool},
                 "after_prescale": {chain: bool}, "prescale": {chain: float}},
         "streams": {stream: bool}}

    ``HLT.accept`` is the HLT accept (some chain after prescale); an event is
    in a stream when a chain writing to it accepted it.  As a filter, the
    algorithm's decision is the HLT accept.
    """

    l1_decision = Input("L1Decision", doc="the L1 decision (L1TriggerMenu with trigger_decision: L1Decision)")
    trigger_decision = Output("TriggerDecision", doc="per event: the L1 decision, per chain seeded, passed "
                                                     "before/after prescale, prescales, HLT accept, streams")
    menu = Property("physics", doc="menu file: a path, package:path, or the name of a menu in hepreco:jobs/menus")
    prescale_set = Property("", doc="prescale set (column) of the menu to apply (empty: the menu's default)")
    sequence = Property("HLT", doc="the sequence holding the HLT (its algorithms' time is the HLT cost in the "
                                   "trigger summary)")
    colliding_bunches = Property(2544, doc="colliding bunch pairs, for the rate column of the summary", gt=0)
    revolution_frequency = Property(LHC_REVOLUTION_HZ, doc="revolution frequency", unit="Hz", gt=0)

    def load(self):
        """The validated menu with the chosen prescale set; it must have chains."""
        try:
            menu = load_menu(self.menu, self.prescale_set)
        except ConfigurationError as exc:
            if exc.location is not None:
                raise
            raise PropertyError(self.name, "prescale_set" if "prescale set" in exc.reason else "menu",
                                exc.reason) from None
        if not menu.chains:
            raise PropertyError(self.name, "menu", f"menu {menu.path} has no HLT chains ('chains:')")
        return menu

    def check(self, registry) -> None:
        record_menu(self, self.load())

    def extra_inputs(self) -> dict[str, str]:
        """The decision of each chain of the menu (its filtered sequence's ``<chain>Passed``)."""
        return {f"chain {c.name}": f"{c.name}Passed" for c in self.load().chains}

    def check_job(self, job) -> None:
        """Each chain of the menu must be a filtered sequence of the job, before this algorithm, starting with
        an :class:`HLTSeed` of the chain's L1 items that reads this algorithm's L1 decision."""
        menu = self.load()
        order = list(job.top.walk())
        position = {c.name: k for k, c in enumerate(order)}
        for chain in menu.chains:
            seq = order[position[chain.name]] if chain.name in position else None
            problem = self._chain_problem(chain, seq, position)
            if problem:
                where = job.locations.get(chain.name) if seq is not None else None  # else: this algorithm's line
                raise ConfigurationError(f"{self.name}: chain {chain.name} of menu {menu.path}: {problem}", where)

    def _chain_problem(self, chain, seq, position) -> str:
        """What is wrong with the job's sequence ``seq`` of ``chain`` (empty: nothing)."""
        from hepreco.framework.sequence import Sequence

        seeds = list(chain.seeds)
        start = f"starting with HLTSeed items {seeds}"
        if seq is None:
            return (f"the job has no sequence {chain.name}; add a filtered sequence named {chain.name} (mode: and, "
                    f"{start}) before {self.name}")
        if not isinstance(seq, Sequence):
            return (f"{chain.name} is a {seq.type_name}, not a filtered sequence; make it a Sequence "
                    f"(mode: and, {start})")
        if position[chain.name] > position[self.name]:
            return f"its sequence {chain.name} runs after {self.name}; move it before {self.name}"
        must = f"its sequence must start with HLTSeed items {seeds} in mode 'and'"
        if seq.mode != "and" or seq.invert:
            return f"{must} (it has mode {seq.mode!r}{', invert: true' if seq.invert else ''})"
        first = seq.members[0] if seq.members else None
        if not isinstance(first, HLTSeed):
            return f"{must} (it starts with {f'{first.name} ({first.type_name})' if first else 'no member'})"
        if set(first.items) != set(seeds):
            return f"{must} (its HLTSeed {first.name} has items {list(first.items)})"
        if first.trigger_decision != self.l1_decision:
            return (f"its HLTSeed {first.name} reads {first.trigger_decision!r}, {self.name} reads "
                    f"{self.l1_decision!r}; set {first.name}.trigger_decision: {self.l1_decision}")
        return ""

    def initialize(self) -> None:
        self._menu = self.load()
        names = self._menu.chain_names
        self.counts = self.accumulate("chains", "sum", shape=(len(names), 4))  # seen, seeded, passed, after PS
        self.stream_counts = self.accumulate("streams", "sum", shape=(len(self._menu.streams),))
        self.events = self.accumulate("events", "counter")
        self.l1_accepted = self.accumulate("l1_accepted", "counter")
        self.accepted = self.accumulate("accepted", "counter")

    def execute(self, store):
        menu = self._menu
        n = store.n_events
        l1 = store[self.l1_decision]
        l1_after = l1.L1.after_prescale
        seeds = self.seeds(store)
        seeded, before, after = {}, {}, {}
        table = np.zeros((len(menu.chains), 4))
        for k, chain in enumerate(menu.chains):
            seeded[chain.name] = np.zeros(n, dtype=bool)
            for item in chain.seeds:
                seeded[chain.name] |= ak.to_numpy(l1_after[item]).astype(bool)
            key = f"{chain.name}Passed"
            if key not in store:
                raise ConfigurationError(f"{self.name}: chain {chain.name} of menu {menu.path} has no decision "
                                         f"{key!r}: add a filtered sequence named {chain.name} (mode: and, starting "
                                         f"with HLTSeed items {list(chain.seeds)}) before {self.name}")
            passed = np.asarray(store[key], dtype=bool)
            if np.any(passed & ~seeded[chain.name]):
                raise ConfigurationError(f"{self.name}: chain {chain.name} passed events its seed {list(chain.seeds)} "
                                         f"did not accept at L1: its sequence must start with HLTSeed items "
                                         f"{list(chain.seeds)} in mode 'and'")
            before[chain.name] = passed
            after[chain.name] = prescale_accept(passed, seeds, chain.name, chain.prescale)
            table[k] = (n, seeded[chain.name].sum(), passed.sum(), after[chain.name].sum())
        accept = np.zeros(n, dtype=bool)
        streams = {s: np.zeros(n, dtype=bool) for s in menu.streams}
        for chain in menu.chains:
            accept |= after[chain.name]
            for s in chain.streams:
                streams[s] |= after[chain.name]
        self.counts.add(table[np.newaxis])
        self.stream_counts.add(np.array([[streams[s].sum() for s in menu.streams]], dtype=np.float64))
        self.events.add(n)
        self.l1_accepted.add(int(ak.sum(l1.L1.accept)))
        self.accepted.add(int(accept.sum()))
        prescale = {c.name: np.full(n, c.prescale) for c in menu.chains}
        hlt = records({"accept": accept, "seeded": records(seeded, n), "before_prescale": records(before, n),
                       "after_prescale": records(after, n), "prescale": records(prescale, n)}, n)
        l1_layout = ak.to_layout(l1).content("L1")
        store.put(self.trigger_decision, ak.Array(records({"L1": l1_layout, "HLT": hlt,
                                                           "streams": records(streams, n)}, n)))
        return accept

    def end_of_job(self, histograms, output_dir, accumulators=None):
        """Write ``trigger_summary_<name>.json``: the counts of :func:`.summary.hlt_counts` (per chain seen,
        seeded, passed before and after prescale; per stream; the prescale set)."""
        import os

        from .summary import hlt_counts

        acc = {k: v.to_json() for k, v in (accumulators or {}).items()}
        path = os.path.join(output_dir, f"trigger_summary_{self.name}.json")
        atomic_write_json(path, hlt_counts(self.name, self.properties(), acc), indent=1)
        return [path]
