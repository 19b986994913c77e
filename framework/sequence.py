"""Sequences of algorithms with Gaudi's modes, and chunk execution.

A :class:`Sequence` runs its members in order over the events it is given.

=========  =================================================================
mode       behaviour
=========  =================================================================
``all``    every member sees every event; the decision is the AND of the
           members' decisions (members that are no filters pass every event)
``and``    short-circuit AND: a member sees only events that passed every
           earlier member; the decision is "passed all" (a filtered sequence,
           e.g. a trigger chain)
``or``     short-circuit OR: a member sees only events no earlier member
           accepted; the decision is "passed any"
=========  =================================================================

``invert`` flips the decision.  Members run even when no event is left for
them (with an empty view), so that every product exists in every chunk;
``execute`` must accept zero events.  Each sequence stores its decision as
``<name>Passed`` like a filter.

:class:`ChunkRunner` executes a tree of sequences on one chunk: timing,
decisions, and the per-algorithm error policy (``abort``, ``skip_event``,
``skip_chunk``).
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .algorithm import Algorithm, Filter
from .component import Component, Output, Property
from .errors import AlgorithmError
from .event_store import EventStore, ScratchView

MODES = ("all", "and", "or")


class Sequence(Component):
    """An ordered list of algorithms and sequences run with a Gaudi mode.

    In job options: ``{type: Sequence, name: ..., mode: all|and|or, invert: false,
    members: [...]}``; ``members`` are algorithm or sequence entries.  Mode ``all``
    runs every member on every event; ``and`` runs a member only on events that
    passed every earlier one (a filtered sequence, e.g. a trigger chain); ``or``
    only on events no earlier member accepted.  The decision is stored as
    ``<name>Passed``; outputs select events with ``accept``/``require``/``veto``.
    """

    kind = "sequence"

    mode = Property("all", doc="all | and (short-circuit AND, filtered) | or (short-circuit OR)", choices=MODES)
    invert = Property(False, doc="invert the sequence's decision")
    decision = Output("{name}Passed", doc="per-event decision of this sequence (bool)")

    def __init__(self, name: str | None = None, members: list | None = None, **values: Any):
        super().__init__(name, **values)
        self.members: list[Component] = list(members or [])

    def leaves(self) -> list[Algorithm]:
        """All algorithms below this sequence, in execution order."""
        out: list[Algorithm] = []
        for m in self.members:
            out.extend(m.leaves() if isinstance(m, Sequence) else [m])
        return out

    def walk(self):
        """This sequence, its sub-sequences and algorithms, depth first."""
        yield self
        for m in self.members:
            if isinstance(m, Sequence):
                yield from m.walk()
            else:
                yield m


class ChunkSkipped(Exception):
    """Raised inside a chunk when an algorithm with ``on_error: skip_chunk`` fails."""


@dataclass
class ChunkErrors:
    """Failures recorded while processing one chunk."""

    records: list[dict] = field(default_factory=list)

    def add(self, algorithm: str, policy: str, event_ids: np.ndarray, exc: BaseException) -> None:
        self.records.append({
            "algorithm": algorithm, "policy": policy,
            "events": [[int(r), int(e)] for r, e in zip(event_ids["run"], event_ids["event"])],
            "exception": type(exc).__name__, "message": str(exc),
            "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-3)),
        })


class ChunkRunner:
    """Runs a top sequence over one :class:`EventStore`.

    ``timing`` is anything with ``add(name, seconds, n_events)``;
    ``histograms`` and ``accumulators`` anything with ``snapshot(owner)`` /
    ``restore(owner, snap)`` (what a failing algorithm filled is rolled back).
    """

    def __init__(self, timing=None, histograms=None, accumulators=None):
        self.timing = timing
        self.histograms = histograms
        self.accumulators = accumulators

    def _snapshot(self, owner: str):
        return [(svc, svc.snapshot(owner)) for svc in (self.histograms, self.accumulators) if svc is not None]

    @staticmethod
    def _restore(owner: str, snaps) -> None:
        for svc, snap in snaps or ():
            svc.restore(owner, snap)

    def run(self, top: Sequence, store: EventStore) -> tuple[np.ndarray, ChunkErrors]:
        """Process the chunk; return the top decision (False for failed events) and the errors."""
        errors = ChunkErrors()
        try:
            decision = self._sequence(top, store, np.arange(store.n_events), errors)
        except ChunkSkipped:
            store.alive[:] = False
            decision = np.zeros(store.n_events, dtype=bool)
        full = np.zeros(store.n_events, dtype=bool)
        full[:] = decision
        return full & store.alive, errors

    # -- internals -----------------------------------------------------------
    def _sequence(self, seq: Sequence, store: EventStore, index: np.ndarray, errors: ChunkErrors) -> np.ndarray:
        mode = seq.mode
        passed = np.zeros(len(index), dtype=bool) if mode == "or" else np.ones(len(index), dtype=bool)
        for member in seq.members:
            alive = store.alive[index]
            if mode == "and":
                sel = passed & alive
            elif mode == "or":
                sel = ~passed & alive
            else:
                sel = alive
            sub = index[sel]  # may be empty: members still run, so that their products exist
            if isinstance(member, Sequence):
                d = self._sequence(member, store, sub, errors)
            else:
                d = self._algorithm(member, store, sub, errors)
            # events that died inside the member count as failed for the decision too
            d = d & store.alive[sub]
            if mode == "or":
                passed[sel] |= d
            else:
                passed[sel] &= d
        passed &= store.alive[index]
        if seq.invert:
            passed = ~passed & store.alive[index]
        store.view(index, seq).put(seq.decision, passed)
        return passed

    def _call(self, alg: Algorithm, view) -> np.ndarray:
        result = alg.execute(view)
        if isinstance(alg, Filter):
            decision = np.asarray(result)
            if decision.dtype != bool or decision.shape != (view.n_events,):
                raise TypeError(f"filter {alg.name} must return a bool array of shape ({view.n_events},), "
                                f"got {decision.dtype} {decision.shape}")
            view.put(alg.decision, decision)
            return decision
        return np.ones(view.n_events, dtype=bool)

    def _algorithm(self, alg: Algorithm, store: EventStore, index: np.ndarray, errors: ChunkErrors) -> np.ndarray:
        policy = alg.on_error
        snap = self._snapshot(alg.name) if policy != "abort" else None
        t0 = time.perf_counter()
        try:
            return self._call(alg, store.view(index, alg))
        except Exception as exc:
            store.discard(alg.name)
            self._restore(alg.name, snap)
            failing = self._find_failing(alg, store, index)
            ids = store.event_ids[failing] if len(failing) else store.event_ids[index]
            if policy == "abort":
                raise AlgorithmError(alg.name, [(int(r), int(e)) for r, e in ids], exc) from exc
            if policy == "skip_chunk" or len(failing) == 0:
                errors.add(alg.name, "skip_chunk", ids, exc)
                raise ChunkSkipped() from exc
            errors.add(alg.name, "skip_event", ids, exc)
            store.alive[failing] = False
            good = index[store.alive[index]]
            self._restore(alg.name, snap)
            decision = np.zeros(len(index), dtype=bool)
            if len(good):
                try:
                    decision[store.alive[index]] = self._call(alg, store.view(good, alg))
                except Exception as again:  # fails only on the whole set: give up on the chunk
                    store.discard(alg.name)
                    errors.add(alg.name, "skip_chunk", store.event_ids[good], again)
                    raise ChunkSkipped() from again
            return decision
        finally:
            if self.timing is not None:
                self.timing.add(alg.name, time.perf_counter() - t0, len(index))

    def _find_failing(self, alg: Algorithm, store: EventStore, index: np.ndarray) -> np.ndarray:
        """Events of ``index`` on which ``alg`` raises when run alone (trial runs, outputs discarded)."""
        snap = self._snapshot(alg.name)
        bad = []
        for i in index:
            try:
                alg.execute(ScratchView(store, np.array([i]), alg))
            except Exception:
                bad.append(i)
        self._restore(alg.name, snap)
        return np.asarray(bad, dtype=np.int64)
