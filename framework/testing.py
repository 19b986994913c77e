"""Run an algorithm, or a short chain, on hand-made events: for unit tests and notebooks.

::

    from hepreco.framework import testing

    result = testing.run(TruthMissingET(eta_max=2.5), inputs={"TruthParticles": particles},
                         services={"GeometrySvc": {"geometry": "small"}}, seed=1)
    result["TruthMET"]                  # a product (all events, in order)
    result.histograms["TruthMissingET/met"]
    result.accumulators                 # merged accumulators, "owner/name" keys

:func:`run` does what a job does in one process, without job options, an
event source or output streams: it gives the algorithms real services
(messages, histograms, random numbers seeded from ``seed``, timing,
accumulators, and any service of the registry on first use, e.g. the
geometry), initialises them, runs them as a sequence over the events of
``inputs`` (in chunks when ``chunk_size`` is given), finalises them, and
merges histograms and accumulators as the client of a job does.  A service can
be replaced by a stub: any object with the attributes the algorithm uses.

The module lives in the framework package (``hepreco.framework.testing``);
it imports no test framework, so it works under pytest, unittest or a
notebook alike.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import awkward as ak
import numpy as np

from . import accumulators as _accumulators
from .algorithm import Algorithm, call_end_of_job
from .component import Component
from .errors import AlgorithmError, ConfigurationError
from .event_store import EventStore, make_event_ids
from .plugins import get_registry
from .sequence import ChunkRunner, Sequence
from .services import Services
from .services.accumulators import AccumulatorSvc
from .services.histograms import HistogramSvc
from .services.messages import MessageSvc
from .services.random import RandomSvc
from .services.timing import TimingSvc

#: producer recorded in the provenance of the hand-made inputs
INPUT_PRODUCER = "testing.inputs"


@dataclass
class Result:
    """What :func:`run` produced."""

    #: every product (inputs, outputs, decisions), all events in order: numpy or awkward arrays
    products: dict[str, Any]
    #: the event store of each chunk
    stores: list[EventStore]
    #: merged histograms, ``"<algorithm>/<name>"`` to ``hist.Hist``
    histograms: dict
    #: merged accumulators, ``"<algorithm>/<name>"`` to an :class:`~hepreco.framework.accumulators.Accumulator`
    accumulators: dict
    #: decision of the whole chain per event (False for failed events)
    decision: np.ndarray
    #: failures recorded under ``on_error: skip_event`` / ``skip_chunk`` (as in ``report.json``)
    errors: list[dict]
    #: the services the algorithms used
    services: Services
    #: files written by ``end_of_job`` (when ``output_dir`` was given)
    summaries: list[str] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        if key not in self.products:
            from .errors import MissingProduct

            raise MissingProduct(key, list(self.products))
        return self.products[key]

    @property
    def store(self) -> EventStore:
        """The event store, when the events ran as one chunk."""
        if len(self.stores) != 1:
            raise ValueError(f"the events ran in {len(self.stores)} chunks; use .stores or .products")
        return self.stores[0]


def make_services(services: Mapping[str, Any] | None = None, seed: int = 12345,
                  plugins: Iterable[str] = ()) -> Services:
    """The standard services plus ``services`` (name to instance, stub, or dict of property values).

    A dict value creates the registered service type ``value.get("type", name)``
    with the other entries as properties; the standard services
    (``MessageSvc``, ``HistogramSvc``, ``RandomSvc``, ``TimingSvc``,
    ``AccumulatorSvc``) can be replaced by an instance of the same name.
    Services not given are created from the registry on first use, as in a job.
    """
    given = dict(services or {})
    registry = get_registry(tuple(plugins))
    standard = {"MessageSvc": MessageSvc(), "HistogramSvc": HistogramSvc(png=False, file=""),
                "RandomSvc": RandomSvc(seed=seed), "TimingSvc": TimingSvc(), "AccumulatorSvc": AccumulatorSvc()}
    for name in standard:
        if name in given:
            standard[name] = given.pop(name)
    extra = {}
    for name, value in given.items():
        if isinstance(value, Mapping):
            values = dict(value)
            cls = registry.get("service", values.pop("type", name))
            value = cls(name=name, **values)
        extra[name] = value
    svc = Services(standard["MessageSvc"], standard["HistogramSvc"], standard["RandomSvc"], standard["TimingSvc"],
                   extra, accumulators=standard["AccumulatorSvc"])
    svc.registry = registry
    for s in svc.all():
        if isinstance(s, Component):
            s.services = svc
    return svc


def _length(name: str, value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        raise ConfigurationError(f"input {name!r} must be event-aligned (one entry per event), "
                                 f"got {type(value).__name__}") from None


def _concatenate(parts: list) -> Any:
    if len(parts) == 1:
        return parts[0]
    if all(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate(parts)
    return ak.concatenate(parts)


def run(algorithms: Algorithm | Sequence | list, inputs: Mapping[str, Any] | None = None, *,
        services: Mapping[str, Any] | Services | None = None, seed: int = 12345, run: int = 1,
        events: Iterable[int] | None = None, chunk_size: int | None = None, mode: str = "all",
        plugins: Iterable[str] = (), output_dir: str | None = None) -> Result:
    """Run ``algorithms`` over the events of ``inputs``; return the products, histograms and accumulators.

    Parameters
    ----------
    algorithms
        One algorithm, a list run in order as a sequence (filters hide failing
        events from later members when ``mode`` is ``"and"``), or a
        :class:`~hepreco.framework.sequence.Sequence`.
    inputs
        Store key to an event-aligned numpy or awkward array (lists become
        awkward arrays); all of the same length, the number of events.
    services
        Extra or replacement services: name to an instance, a stub object,
        or a dict of property values (see :func:`make_services`); or a
        ready :class:`~hepreco.framework.services.Services`.
    seed, run
        The job's global seed (random streams) and the run number of the events.
    events
        Event numbers (default ``0 .. n-1``); without inputs, they set the
        number of events.
    chunk_size
        Run the events in chunks of this size (default: one chunk), to check
        that results do not depend on chunking.
    mode
        Sequence mode when ``algorithms`` is a list: ``all``, ``and`` or ``or``.
    plugins
        Extra plugin modules for the registry (services created on first use).
    output_dir
        When given, each algorithm's ``end_of_job`` runs with the merged
        histograms and accumulators and writes there (``Result.summaries``).

    An algorithm with ``on_error: abort`` (the default) that raises makes
    :func:`run` raise that same exception (with a note naming the algorithm
    and events); with ``skip_event`` / ``skip_chunk`` the failure is in
    ``Result.errors`` instead, as in a job.
    """
    inputs = {k: (ak.Array(v) if isinstance(v, list) else v) for k, v in (inputs or {}).items()}
    lengths = {k: _length(k, v) for k, v in inputs.items()}
    if events is not None:
        events = np.asarray(list(events), dtype=np.int64)
    n = len(events) if events is not None else next(iter(lengths.values()), 0)
    bad = {k: m for k, m in lengths.items() if m != n}
    if bad:
        raise ConfigurationError(f"inputs must all have one entry per event ({n} events): "
                                 + ", ".join(f"{k!r} has {m}" for k, m in bad.items()))
    if events is None:
        events = np.arange(n, dtype=np.int64)
    if chunk_size is not None and chunk_size < 1:
        raise ConfigurationError(f"chunk_size must be >= 1, got {chunk_size}")
    if isinstance(algorithms, Sequence):
        top = algorithms
    else:
        members = list(algorithms) if isinstance(algorithms, (list, tuple)) else [algorithms]
        top = Sequence("TopSequence", members, mode=mode)
    names = [c.name for c in top.walk()]
    twice = sorted({x for x in names if names.count(x) > 1})
    if twice:
        raise ConfigurationError(f"component names must be unique, {', '.join(map(repr, twice))} is used twice; "
                                 "give each one a name=")
    svc = services if isinstance(services, Services) else make_services(services, seed, plugins)
    for comp in top.walk():
        comp.services = svc
    algs = top.leaves()
    for s in svc.all():
        getattr(s, "initialize", _nothing)()
    for alg in algs:
        alg.initialize()

    runner = ChunkRunner(svc.timing, svc.histograms, svc.accumulators)
    step = chunk_size or max(n, 1)
    stores, decisions, errors, hists, accs = [], [], [], [], []
    try:
        for first in range(0, max(n, 1), step):
            last = min(first + step, n)
            store = EventStore(make_event_ids(run, events[first:last]))
            for key, value in inputs.items():
                store.put(key, value[first:last], INPUT_PRODUCER)
            try:
                decision, chunk_errors = runner.run(top, store)
            except AlgorithmError as exc:
                cause = exc.__cause__ or exc
                if cause is not exc and hasattr(cause, "add_note"):
                    cause.add_note(str(exc))
                raise cause from None
            stores.append(store)
            decisions.append(decision)
            errors += chunk_errors.records
            hists.append(svc.histograms.harvest())
            accs.append(svc.accumulators.harvest())
    finally:
        for alg in algs:
            alg.finalize()
        for s in svc.all():
            getattr(s, "finalize", _nothing)()
    products = {key: _concatenate([s[key] for s in stores]) for key in (stores[0].keys() if stores else [])}
    result = Result(products, stores, HistogramSvc.merge(hists), _accumulators.merge(accs),
                    np.concatenate(decisions) if decisions else np.zeros(0, dtype=bool), errors, svc)
    if output_dir is not None:
        for alg in algs:
            result.summaries += call_end_of_job(alg, *_owned(result, alg.name), output_dir)
    return result


def _nothing() -> None:
    """Life-cycle call of a stub service that has none."""


def _owned(result: Result, name: str) -> tuple[dict, dict]:
    prefix = name + "/"
    return ({k[len(prefix):]: h for k, h in result.histograms.items() if k.startswith(prefix)},
            {k[len(prefix):]: a for k, a in result.accumulators.items() if k.startswith(prefix)})
