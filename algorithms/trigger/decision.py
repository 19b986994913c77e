"""The L1 menu as a plugin (items, prescales, streams: the ``TriggerDecision``) and a filter that reads it."""
from __future__ import annotations

import time

import awkward as ak
import numpy as np

from hepreco.framework import ConfigurationError, Filter, Input, Output, Property, PropertyError
from hepreco.framework.manifest import atomic_write_json

from ..arrays import flatten_jagged
from .menu import evaluate_item, load_menu, prescale_accept, record_menu
from .products import records

#: LHC revolution frequency [Hz]
LHC_REVOLUTION_HZ = 11245.5


#: the columns of each L1 collection that items read
_FIELDS = {"L1EmTau": ["eta", "em_et", "tau_et", "em_isol", "had_core", "had_isol"], "L1Jets": ["eta", "et"]}


class L1TriggerMenu(Filter):
    """The Level-1 trigger menu: evaluates L1 items on the L1 objects, applies prescales, assigns streams.

    Puts ``TriggerDecision``, one record per event::

        {"L1": {"accept": bool,
                "before_prescale": {item: bool, ...},
                "after_prescale": {item: bool, ...},
                "prescale": {item: float, ...}},
         "streams": {stream: bool, ...}}

    ``accept`` is the L1 accept (some item passed after prescale); an event
    is in a stream when an item writing to it passed after prescale.  As a
    filter, the algorithm's own decision (``<name>Passed``) is the L1 accept,
    so output streams can ``accept: [<name>]``; ``TriggerDecisionFilter``
    selects by stream or item.  The menu file format, the thresholds and the
    prescale rule are documented in :mod:`hepreco.algorithms.trigger.menu`.
    """

    em_tau = Input("L1EmTau", doc="L1 EM/tau objects (L1CaloTrigger)")
    jets = Input("L1Jets", doc="L1 jets (L1CaloTrigger)")
    sums = Input("L1EnergySums", doc="L1 energy sums (L1CaloTrigger)")
    nn_scores = Input("L1NNScores", optional=True, doc="per-event network scores (L1NeuralNetwork), read by NN items")
    trigger_decision = Output("TriggerDecision", doc="per event: L1 accept, per item passed before/after prescale, "
                                                     "prescales, streams")
    menu = Property("l1_default", doc="menu file: a path, package:path, or the name of a menu in hepreco:jobs/menus")
    prescale_set = Property("", doc="prescale set (column) of the menu to apply (empty: the menu's default)")
    colliding_bunches = Property(2544, doc="colliding bunch pairs, for the rate column of the summary", gt=0)
    revolution_frequency = Property(LHC_REVOLUTION_HZ, doc="revolution frequency", unit="Hz", gt=0)

    def load(self):
        """The validated menu with the chosen prescale set (errors point at the menu file and line)."""
        try:
            return load_menu(self.menu, self.prescale_set)
        except ConfigurationError as exc:
            if exc.location is not None:
                raise
            raise PropertyError(self.name, "prescale_set" if "prescale set" in exc.reason else "menu",
                                exc.reason) from None

    def check(self, registry) -> None:
        record_menu(self, self.load())

    def initialize(self) -> None:
        self._menu = self.load()
        self._nn_fields = sorted({item.score for item in self._menu.items if item.type == "NN"})
        names = self._menu.item_names
        self.counts = self.accumulate("items", "sum", shape=(len(names), 3))   # seen, before, after prescale
        self.item_seconds = self.accumulate("item_seconds", "sum", shape=(len(names),))
        self.stream_counts = self.accumulate("streams", "sum", shape=(len(self._menu.streams),))
        self.events = self.accumulate("events", "counter")
        self.accepted = self.accumulate("accepted", "counter")
        self.names = self.accumulate("item_names", "set")
        self.names.update(names)

    def execute(self, store):
        menu = self._menu
        n = store.n_events
        products = {"L1EmTau": flatten_jagged(store[self.em_tau], _FIELDS["L1EmTau"], dtype=np.float64),
                    "L1Jets": flatten_jagged(store[self.jets], _FIELDS["L1Jets"], dtype=np.float64)}
        sums = store[self.sums]
        products["L1EnergySums"] = {f: ak.to_numpy(sums[f]) for f in ("met", "sum_et", "ht")}
        if self._nn_fields:
            products["L1NNScores"] = self._nn_scores(store)
        seeds = self.seeds(store)
        before, after = {}, {}
        table = np.zeros((len(menu.items), 3))
        seconds = np.zeros(len(menu.items))
        for k, item in enumerate(menu.items):
            t0 = time.perf_counter()
            before[item.name] = evaluate_item(item, products, n)
            after[item.name] = prescale_accept(before[item.name], seeds, item.name, item.prescale)
            seconds[k] = time.perf_counter() - t0
            table[k] = (n, before[item.name].sum(), after[item.name].sum())
        accept = np.zeros(n, dtype=bool)
        for item in menu.items:
            accept |= after[item.name]
        streams = {s: np.zeros(n, dtype=bool) for s in menu.streams}
        for item in menu.items:
            for s in item.streams:
                streams[s] |= after[item.name]
        self.counts.add(table[np.newaxis])  # one (items, 3) term: add() sums over its first axis
        self.item_seconds.add(seconds[np.newaxis])
        self.stream_counts.add(np.array([[streams[s].sum() for s in menu.streams]], dtype=np.float64))
        self.events.add(n)
        self.accepted.add(int(accept.sum()))
        prescale = {item.name: np.full(n, item.prescale) for item in menu.items}
        l1 = records({"accept": accept, "before_prescale": records(before, n), "after_prescale": records(after, n),
                      "prescale": records(prescale, n)}, n)
        store.put(self.trigger_decision, ak.Array(records({"L1": l1, "streams": records(streams, n)}, n)))
        return accept

    def _nn_scores(self, store) -> dict:
        """The score fields the menu's NN items read, one float64 column per event."""
        if self.nn_scores not in store:
            raise ConfigurationError(f"{self.name}: the menu {self._menu.name} has NN items "
                                     f"({', '.join(i.name for i in self._menu.items if i.type == 'NN')}) but no "
                                     f"{self.nn_scores} is produced; add an L1NeuralNetwork whose scores key is "
                                     f"{self.nn_scores} (or set {self.name}.nn_scores)")
        scores = store[self.nn_scores]
        missing = [f for f in self._nn_fields if f not in ak.fields(scores)]
        if missing or scores.ndim != 1:
            raise ConfigurationError(f"{self.name}: {self.nn_scores} must hold one record per event with the "
                                     f"field(s) {', '.join(self._nn_fields)}; it has {', '.join(ak.fields(scores))} "
                                     f"({scores.ndim} dimension(s))")
        return {f: ak.to_numpy(scores[f]).astype(np.float64) for f in self._nn_fields}

    def end_of_job(self, histograms, output_dir, accumulators=None):
        """Write ``trigger_summary_<name>.json``: the summary of :func:`.summary.menu_summary`."""
        import os

        from .summary import menu_summary

        acc = {k: v.to_json() for k, v in (accumulators or {}).items()}
        table = menu_summary(self.name, self.properties(), acc, None)
        del table["us_per_event"]  # the menu's own time needs the job's timing: it is in report.json only
        path = os.path.join(output_dir, f"trigger_summary_{self.name}.json")
        atomic_write_json(path, table, indent=1)
        return [path]


class TriggerDecisionFilter(Filter):
    """Events in any of ``streams`` or accepted (after prescale) by any of ``items`` of a ``TriggerDecision``.

    With both lists empty, the events with an L1 accept.  ``items`` may name
    HLT chains (``HLT_...``, after the chain prescale) of a decision with an
    HLT level (:class:`.hlt.HLTTriggerMenu`).  Use it to fill an output stream
    per trigger stream (``accept: [ExpressFilter]``); the L1 seed of a chain
    is :class:`.hlt.HLTSeed`.
    """

    trigger_decision = Input("TriggerDecision", doc="the trigger decision (L1TriggerMenu)")
    streams = Property([], doc="trigger streams to select (e.g. [express])", items=str)
    items = Property([], doc="L1 items or HLT chains to select, after prescale (e.g. [L1_J100, HLT_j400])",
                     items=str)

    def execute(self, store):
        decision = store[self.trigger_decision]
        n = store.n_events
        if not self.streams and not self.items:
            return ak.to_numpy(decision.L1.accept).astype(bool)
        passed = np.zeros(n, dtype=bool)
        l1_items = [i for i in self.items if not i.startswith("HLT_")]
        chains = [i for i in self.items if i.startswith("HLT_")]
        if chains and "HLT" not in ak.fields(decision):
            from hepreco.framework import UnknownNameError

            raise UnknownNameError("item", chains[0], ak.fields(decision.L1.after_prescale),
                                   context=f"{self.name} ({self.trigger_decision} has no HLT level)")
        for what, names, record in (("stream", self.streams, lambda: decision.streams),
                                    ("item", l1_items, lambda: decision.L1.after_prescale),
                                    ("chain", chains, lambda: decision.HLT.after_prescale)):
            if not names:
                continue
            record = record()
            fields = ak.fields(record)
            for name in names:
                if name not in fields:
                    from hepreco.framework import UnknownNameError

                    raise UnknownNameError(what, name, fields, context=f"{self.name} ({self.trigger_decision})")
                passed |= ak.to_numpy(record[name]).astype(bool)
        return passed
