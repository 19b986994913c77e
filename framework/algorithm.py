"""Algorithms, filters and the per-event convenience base.

An :class:`Algorithm` processes a whole chunk of events per call: it reads
its declared inputs from the store view, computes with numpy, numba kernels
or torch batches over all events at once, and puts its declared outputs.

A :class:`Filter` returns a per-event boolean decision from ``execute``; the
framework stores it as the product ``<name>Passed`` and, inside filtered
sequences, hides failing events from later members.

:class:`EventAlgorithm` is the slow path for quick studies: ``process_event``
is called once per event with plain Python values.
"""
from __future__ import annotations

import inspect
from typing import Any

import awkward as ak
import numpy as np

from .component import Component, Output, Property

ERROR_POLICIES = ("abort", "skip_event", "skip_chunk")


class Algorithm(Component):
    """Base of every algorithm.

    Life cycle: ``initialize()`` once per process after configuration and
    services are set up (book histograms, load constants here), then
    ``execute(store)`` once per chunk, then ``finalize()``.
    """

    kind = "algorithm"

    #: True where :meth:`end_of_job` only writes files from its arguments (plots, tables) and changes nothing
    #: in the process that runs it: the event loop may then run it on one of the executor's workers, next to
    #: the drawing of the histograms, while the client writes the rest.  Leave it False for anything that
    #: registers results in the client (artefacts, calibrations).
    end_of_job_on_workers = False

    on_error = Property("abort", doc="what to do when execute raises: stop the job (abort), drop the failing "
                        "events (skip_event) or the whole chunk (skip_chunk)", choices=ERROR_POLICIES)

    def initialize(self) -> None:
        """Called once per process before the first chunk."""

    def execute(self, store) -> Any:
        """Process all events of ``store`` (a :class:`~hepreco.framework.event_store.StoreView`)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement execute()")

    def finalize(self) -> None:
        """Called once per process after the last chunk."""

    def end_of_job(self, histograms: dict, output_dir: str, accumulators: dict | None = None) -> list[str]:
        """Called once after all chunks, with this algorithm's merged histograms and accumulators.

        It runs in the client, or on a worker where :attr:`end_of_job_on_workers` allows it.

        ``histograms`` maps the names given to :meth:`book` to the merged
        ``hist.Hist`` of the whole job, ``accumulators`` the names given to
        :meth:`accumulate` to the merged accumulators (passed only to an
        override that has an ``accumulators`` parameter).  Write summary
        plots or tables (fits, efficiency curves) into ``output_dir`` and
        return their paths; they are listed in the report.  No service is
        initialised here.
        """
        return []

    # -- conveniences --------------------------------------------------------
    def book(self, name: str, *axes, **options):
        """Book a histogram owned by this algorithm (see HistogramSvc.book)."""
        return self.services.histograms.book(self.name, name, *axes, **options)

    def accumulate(self, name: str, kind: str, **options):
        """Book an accumulator owned by this algorithm: ``kind`` is ``counter``, ``sum``, ``weighted_sum``,
        ``efficiency``, ``records`` or ``set`` (see :mod:`hepreco.framework.accumulators`)."""
        return self.services.accumulators.book(self.name, name, kind, **options)

    def seeds(self, store) -> np.ndarray:
        """One 64-bit seed per event of ``store``, for this algorithm (see RandomSvc)."""
        return self.services.random.seeds(store.event_ids, self.name)

    def generators(self, store) -> list[np.random.Generator]:
        """One independent numpy Generator per event of ``store`` (slow path)."""
        return self.services.random.generators(store.event_ids, self.name)


class Filter(Algorithm):
    """An algorithm whose ``execute`` returns a boolean decision per event."""

    decision = Output("{name}Passed", doc="per-event decision of this filter (bool)")


class EventAlgorithm(Algorithm):
    """Per-event convenience base: ``process_event`` is called once per event.

    This is the slow path (one Python call per event, microseconds each);
    use it for quick studies and prototypes, then port to a chunked
    ``execute`` once it works.  ``process_event(event, event_id)`` receives a
    dict mapping each declared input attribute name to that event's value
    (a numpy row or an awkward record/list) and returns a dict mapping each
    declared output attribute name to a value for this event; outputs are
    assembled into awkward arrays (or numpy arrays when the values are numbers).
    """

    def process_event(self, event: dict[str, Any], event_id: tuple[int, int]) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} does not implement process_event()")

    def execute(self, store):
        inputs = {attr: store[key] for attr, key in self.input_keys().items()}
        outputs: dict[str, list] = {attr: [] for attr in self.output_keys()}
        ids = store.event_ids
        for i in range(store.n_events):
            event = {attr: value[i] for attr, value in inputs.items()}
            result = self.process_event(event, (int(ids["run"][i]), int(ids["event"][i]))) or {}
            for attr in outputs:
                outputs[attr].append(result.get(attr))
        for attr, key in self.output_keys().items():
            values = outputs[attr]
            if values and all(isinstance(v, (bool, int, float, np.number, np.bool_)) for v in values):
                store.put(key, np.asarray(values))
            else:
                store.put(key, ak.Array(values))


def call_end_of_job(alg: Algorithm, histograms: dict, accumulators: dict, output_dir: str) -> list[str]:
    """Call ``alg.end_of_job``, passing ``accumulators`` only to overrides that take them."""
    params = inspect.signature(alg.end_of_job).parameters
    if "accumulators" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return alg.end_of_job(histograms, output_dir, accumulators=accumulators)
    return alg.end_of_job(histograms, output_dir)
