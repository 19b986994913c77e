"""From job options to a validated, runnable job, and the per-process runtime.

:func:`build` turns parsed :class:`~hepreco.framework.config.JobOptions` into
component instances, checking every type, name, property and data key (errors
name the job file and line).  :meth:`Job.resolved` is the fully resolved
configuration; it is what workers rebuild from and what ``--dump-config``
writes, so a dump runs again unchanged.

:class:`Processor` is one process's initialised copy of the job: it turns a
work item into an :class:`ItemResult` (outputs written, histograms, timing,
message counters and errors harvested).
"""
from __future__ import annotations

import gc
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import allocator, dataflow
from . import threads as thread_policy
from .artefacts import ArtefactSvc, artefact_properties
from .component import Component, ServiceProperty
from .config import EXECUTION_SETTINGS, JobOptions, JobSettings, Spec, options_from_dict
from .errors import ConfigurationError, HeprecoError, Location, PropertyError, StreamError, UnknownNameError
from .event_store import EventStore
from .executors import check_executor
from .io.output import OutputStream, output_folder_conflicts
from .io.source import EventSource, WorkItem
from .plugins import Registry, get_registry
from .sequence import ChunkRunner, Sequence
from .services import Services
from .services.accumulators import AccumulatorSvc
from .services.histograms import HistogramSvc
from .services.messages import MessageSvc
from .services.random import RandomSvc
from .services.timing import TimingSvc

TOP = "TopSequence"
#: what an instance name may look like: it becomes a folder or file name (output parts, summaries)
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
STANDARD_SERVICES = {"MessageSvc": MessageSvc, "HistogramSvc": HistogramSvc, "TimingSvc": TimingSvc,
                     "RandomSvc": RandomSvc, "AccumulatorSvc": AccumulatorSvc, "ArtefactSvc": ArtefactSvc}


def _configure(instance: Component, spec: Spec) -> Component:
    settable = instance.settable()
    for key, value in spec.values.items():
        if key not in settable:
            raise UnknownNameError("property", key, settable, spec.locate(key), context=f"{spec.name} ({spec.type})")
        try:
            setattr(instance, key, value)
        except PropertyError as exc:
            raise PropertyError(exc.owner, exc.prop, exc.detail, spec.locate(key)) from None
    return instance


def _make(registry: Registry, kind: str, spec: Spec) -> Component:
    cls = registry.get(kind, spec.type, spec.where)
    try:
        instance = cls(name=spec.name)
    except PropertyError as exc:
        raise PropertyError(exc.owner, exc.prop, exc.detail, spec.where) from None
    return _configure(instance, spec)


@dataclass
class Job:
    """A validated job: settings, components and services, ready to run."""

    file: str
    settings: JobSettings
    registry: Registry
    source: EventSource
    top: Sequence
    services: Services
    outputs: list[OutputStream]
    locations: dict[str, Location] = field(default_factory=dict)

    def algorithms(self) -> list:
        return self.top.leaves()

    def resolved(self) -> dict[str, Any]:
        """The fully resolved configuration as plain data (the ``--dump-config`` content)."""
        def entry(c: Component) -> dict:
            if isinstance(c, Sequence):
                return {"type": "Sequence", "name": c.name, **c.resolved(), "members": [entry(m) for m in c.members]}
            return {"type": c.type_name, "name": c.name, **c.resolved()}

        services = {}
        for svc in self.services.all():
            if isinstance(svc, (RandomSvc, TimingSvc, AccumulatorSvc, ArtefactSvc)):
                continue  # nothing configurable (the seed is job.seed, the artefact folder $HEPRECO_ARTEFACTS)
            services[svc.name] = {"type": svc.type_name, **svc.resolved()}
        return {"job": self.settings.properties(), "source": entry(self.source),
                "algorithms": [entry(m) for m in self.top.members], "services": services,
                "outputs": [entry(o) for o in self.outputs]}

    def artefacts(self) -> dict[str, Any]:
        """``{"Component.property": Artefact}`` of every artefact resolved for the job."""
        return dict(self.services.artefacts.used)

    def config_hash(self, physics_only: bool = True) -> str:
        """SHA-256 of the resolved configuration and the sha256 of its artefacts (without execution settings
        when ``physics_only``)."""
        resolved = self.resolved()
        if physics_only:
            resolved["job"] = {k: v for k, v in resolved["job"].items() if k not in EXECUTION_SETTINGS}
        artefacts = self.artefacts()
        if artefacts:
            resolved["artefacts"] = {who: art.sha256 for who, art in artefacts.items()}
        return hashlib.sha256(json.dumps(resolved, sort_keys=True, default=str).encode()).hexdigest()


def build(options: JobOptions, check_dataflow: bool = True, preflight: bool = True) -> Job:
    """Validate ``options`` and instantiate every component.

    Workers rebuild an already validated job with ``check_dataflow`` and
    ``preflight`` False: the data flow and each component's
    :meth:`~hepreco.framework.component.Component.preflight` are checked
    once, in the client.
    """
    try:
        return _build(options, check_dataflow, preflight)
    except ConfigurationError as exc:
        if not options.included:
            raise
        from .composition import placed

        raise placed(exc, options) from None


def _build(options: JobOptions, check_dataflow: bool, preflight: bool) -> Job:
    settings = _configure(JobSettings(), options.job)
    try:
        check_executor(settings.executor)
    except ConfigurationError as exc:
        raise exc.at(options.job.locate("executor")) from None
    registry = get_registry(settings.plugins)
    locations: dict[str, Location] = {}

    def claim(spec: Spec, what: str) -> None:
        if not NAME.fullmatch(spec.name) or ".." in spec.name:
            raise ConfigurationError(
                f"{what} name {spec.name!r} is not a plain name: names become file and folder names, so use "
                "letters, digits, '_', '.' and '-' only, starting with a letter or '_' (no '/', no '..')",
                spec.locate("name"))
        if spec.name in locations:
            raise ConfigurationError(f"the name {spec.name!r} ({what}) is already used at {locations[spec.name]}; "
                                     "give each component a unique 'name:'", spec.where)
        locations[spec.name] = spec.where

    # services first: the standard five always exist, plugins may add more
    given = {s.name: s for s in options.services}
    for spec in options.services:
        claim(spec, "service")
    standard = {}
    for name, cls in STANDARD_SERVICES.items():
        spec = given.pop(name, None)
        if name in ("RandomSvc", "ArtefactSvc"):
            svc = RandomSvc(seed=settings.seed) if name == "RandomSvc" else ArtefactSvc()
            if spec is not None and spec.values:
                key = next(iter(spec.values))
                why = "its seed is job.seed" if name == "RandomSvc" else "its folder is $HEPRECO_ARTEFACTS"
                raise UnknownNameError("property", key, [], spec.locate(key), context=f"{name} ({why})")
        else:
            svc = _configure(cls(), spec) if spec is not None else cls()
        standard[name] = svc
    extra = {name: _make(registry, "service", spec) for name, spec in given.items()}
    services = Services(standard["MessageSvc"], standard["HistogramSvc"], standard["RandomSvc"],
                        standard["TimingSvc"], extra, accumulators=standard["AccumulatorSvc"],
                        artefacts=standard["ArtefactSvc"])

    if options.source is None:
        raise ConfigurationError("the job options have no 'source:' section (where do the events come from?)",
                                 Location(options.file))
    claim(options.source, "source")
    source = _make(registry, "source", options.source)

    def make_member(spec: Spec) -> Component:
        claim(spec, "algorithm")
        if spec.type == "Sequence":
            seq = _configure(Sequence(spec.name), spec)
            seq.members = [make_member(m) for m in spec.members or []]
            return seq
        return _make(registry, "algorithm", spec)

    members = [make_member(s) for s in options.algorithms]
    top = Sequence(TOP, members, mode=settings.mode)
    locations.setdefault(TOP, options.job.where)

    outputs = []
    decisions = {c.name: c.decision for c in top.walk() if hasattr(c, "decision")}
    for spec in options.outputs:
        claim(spec, "output stream")
        stream = _make(registry, "output", spec)
        for prop in ("accept", "require", "veto"):
            for name in getattr(stream, prop):
                if name not in decisions:
                    raise UnknownNameError("filter or sequence", name, list(decisions), spec.locate(prop),
                                           context=f"{stream.name}.{prop}")
        stream.decision_keys = decisions
        outputs.append(stream)

    services.registry = registry
    for comp in [source, *top.walk(), *outputs, *services.all()]:
        comp.services = services
    specs = {s.name: s for s in options.components()}

    def placed(exc: ConfigurationError, comp: Component, prop: str | None = None) -> ConfigurationError:
        spec = specs.get(comp.name)
        if exc.location is not None or spec is None:
            return exc
        prop = prop or getattr(exc, "prop", None)  # a PropertyError points at its property's line
        return exc.at(spec.locate(prop) if prop else spec.where)

    def checked(comp: Component, check, *args) -> None:
        try:
            check(*args)
        except ConfigurationError as exc:
            raise placed(exc, comp) from None

    components = [*services.all(), source, *top.walk(), *outputs]
    declare_services(components, services, placed)
    for comp in [*services.all(), source, *top.walk(), *outputs]:
        check = getattr(comp, "check", None)
        if check is not None:
            checked(comp, check, registry)
    for comp in [*services.all(), source, *top.walk(), *outputs]:
        for prop in artefact_properties(comp):
            try:
                services.artefacts.resolve(comp, prop)
            except ConfigurationError as exc:
                raise placed(exc, comp, prop) from None
    if preflight:
        if source.generator and settings.evt_max < 0:
            raise ConfigurationError(f"{source.name} generates events, so job.evt_max must be a number of events "
                                     "(-1 means 'the whole input'); set job.evt_max or --evt-max N",
                                     options.job.locate("evt_max"))
        for comp in [*services.all(), source, *top.walk(), *outputs]:
            check = getattr(comp, "preflight", None)
            if check is not None:
                checked(comp, check)
    job = Job(options.file, settings, registry, source, top, services, outputs, locations)
    if check_dataflow:  # the client's build (and validate); workers rebuild a checked job without these
        try:
            source.check_inputs()
        except ConfigurationError as exc:
            spec = specs.get(source.name)
            if exc.location is not None or spec is None:
                raise
            raise exc.at(spec.locate("files")) from None

        def where(name: str) -> Location:
            return locations.get(name, Location(options.file))
        dataflow.check(source, top, outputs, where, reorder=settings.scheduling == "dataflow")
        for comp in [*services.all(), source, *top.walk(), *outputs]:
            check = getattr(comp, "check_job", None)
            if check is not None:
                checked(comp, check, job)
        for stream, reason in output_folder_conflicts(source, outputs, settings.output_dir):
            raise ConfigurationError(f"output stream {stream.name!r} {reason}; choose another job.output_dir "
                                     "(or stream name) so that the job never writes where it reads",
                                     specs[stream.name].where if stream.name in specs else None)
    return job


def declare_services(components: list, services: Services, placed) -> None:
    """Create every service named by a :class:`ServiceProperty` (and the services those name), so that
    their settings and artefacts are checked with the job; an unknown service is an error."""
    queue = list(components)
    while queue:
        comp = queue.pop(0)
        for prop, descr in type(comp)._properties.items():
            if not isinstance(descr, ServiceProperty):
                continue
            name = getattr(comp, prop)
            if name in services.by_name:
                continue
            try:
                svc = services.declare(name)
            except UnknownNameError as exc:
                raise placed(UnknownNameError("service", name, exc.candidates, context=f"{comp.name}.{prop}"),
                             comp, prop) from None
            queue.append(svc)


# -- per-process runtime -------------------------------------------------------
@dataclass
class ItemResult:
    """What one work item produced, shipped from worker to client."""

    index: int
    first: int
    last: int
    n_read: int = 0
    n_accepted: int = 0
    n_failed: int = 0
    histograms: dict = field(default_factory=dict)
    accumulators: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)
    messages: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    parts: list = field(default_factory=list)
    decisions: dict = field(default_factory=dict)
    seconds: float = 0.0
    worker: str = ""
    threads: dict = field(default_factory=dict)
    malloc: str | None = None  # the allocator policy in effect in the worker (framework.allocator)


class Processor:
    """One process's initialised job; :meth:`process` runs one work item."""

    def __init__(self, resolved: dict, output_dir: str, artefacts: dict[str, str] | None = None):
        self.job = build(options_from_dict(resolved, "<resolved configuration>"), check_dataflow=False,
                         preflight=False)
        self.output_dir = output_dir
        job = self.job
        for who, sha in (artefacts or {}).items():
            art = job.artefacts().get(who)
            if art is None or art.sha256 != sha:
                found = f"{art.path} (sha256 {art.sha256})" if art is not None else "nothing"
                raise ConfigurationError(f"{who}: this worker ({os.uname().nodename}:{os.getpid()}) resolved the "
                                         f"artefact to {found}, the client to sha256 {sha}; give every worker the "
                                         "same artefacts ($HEPRECO_ARTEFACTS, plugin packages)")
        for svc in job.services.all():
            svc.initialize()
        job.source.initialize()
        for alg in job.algorithms():
            alg.initialize()
        for stream in job.outputs:
            stream.initialize()
        self.runner = ChunkRunner(job.services.timing, job.services.histograms, job.services.accumulators)

    def process(self, item: WorkItem) -> ItemResult:
        t0 = time.perf_counter()
        job = self.job
        try:
            event_ids, data = job.source.read(item)
        except HeprecoError:
            raise
        except Exception as exc:
            raise StreamError(f"source {job.source.name} failed to read events {item.first}..{item.last - 1}"
                              f"{' of ' + item.input if item.input else ''}: {type(exc).__name__}: {exc}") from exc
        store = EventStore(event_ids)
        for key, value in data.items():
            store.put(key, value, job.source.name, job.source.config_hash(), job.source.artefact_digests())
        job.services.timing.add(job.source.name, time.perf_counter() - t0, store.n_events)
        decision, errors = self.runner.run(job.top, store)
        parts = []
        if store.alive.any():
            for stream in job.outputs:
                mask = stream.selected(store)
                try:
                    parts.append(stream.write(item, store, mask, self.output_dir))
                except HeprecoError:
                    raise
                except Exception as exc:
                    raise StreamError(f"output {stream.name} failed to write events {item.first}..{item.last - 1}: "
                                      f"{type(exc).__name__}: {exc}") from exc
        services = job.services
        return ItemResult(
            index=item.index, first=item.first, last=item.last, n_read=store.n_events,
            n_accepted=int(decision.sum()), n_failed=int((~store.alive).sum()),
            histograms=services.histograms.harvest(), accumulators=services.accumulators.harvest(),
            timing=services.timing.harvest(),
            messages=services.messages.harvest(), errors=errors.records, parts=parts,
            decisions={c.name: int(np.count_nonzero(store[c.decision] & store.alive))
                       for c in job.top.walk() if hasattr(c, "decision") and c.decision in store},
            seconds=time.perf_counter() - t0, worker=f"{os.uname().nodename}:{os.getpid()}",
            threads=thread_policy.state(), malloc=allocator.state())

    def finalize(self) -> None:
        job = self.job
        for alg in job.algorithms():
            alg.finalize()
        for stream in job.outputs:
            stream.finalize()
        job.source.finalize()
        for svc in job.services.all():
            svc.finalize()


_PROCESSORS: dict[str, Processor] = {}

#: Set in processes that exist to run jobs (the command line, worker processes); see :func:`prepare`.
freeze_after_build = False


def process_item(resolved: dict, output_dir: str, key: str, item: WorkItem,
                 artefacts: dict[str, str] | None = None, threads: int = 0) -> ItemResult:
    """Worker entry point: build (once per process and ``key``) and run one work item.

    ``artefacts`` (``{"Component.property": sha256}``, as the client resolved
    them) must be what this process resolves too.  ``threads`` (> 0) is the
    job's threads per process, applied in the calling thread before anything
    is built (:mod:`~hepreco.framework.threads`).
    """
    return prepare(resolved, output_dir, key, artefacts, threads).process(item)


def prepare(resolved: dict, output_dir: str, key: str, artefacts: dict[str, str] | None = None,
            threads: int = 0, start_pools: bool = True) -> Processor:
    """This process's :class:`Processor` for ``key``: built and initialised the first time.

    In a process that exists to run jobs (:data:`freeze_after_build`), the
    objects alive after the build (modules, geometry, models: ~600,000) are
    then frozen (``gc.freeze``): the collector's full passes during the event
    loop look at the objects of the events only.  The ``processes`` executor
    calls this in the client before it forks its workers, which then start
    with the job built; it passes ``start_pools=False`` (see
    :func:`hepreco.framework.threads.apply`).
    """
    if threads > 0:
        thread_policy.apply(threads, start_pools)
    allocator.apply(resolved.get("job", {}).get("malloc", allocator.DEFAULT))
    proc = _PROCESSORS.get(key)
    if proc is None:
        proc = _PROCESSORS[key] = Processor(resolved, output_dir, artefacts)
        if freeze_after_build:
            gc.freeze()
    return proc


def end_of_job_task(resolved: dict, output_dir: str, key: str, task: tuple, artefacts: dict[str, str] | None = None,
                    threads: int = 0) -> list[str]:
    """Worker entry point after the event loop: ``task = (algorithm name, histograms, accumulators)``.

    Runs that algorithm's ``end_of_job`` on this process's job (see
    :attr:`~hepreco.framework.algorithm.Algorithm.end_of_job_on_workers`) and
    returns the paths it wrote.
    """
    from .algorithm import call_end_of_job

    name, histograms, accumulators = task
    job = prepare(resolved, output_dir, key, artefacts, threads).job
    alg = next(a for a in job.algorithms() if a.name == name)
    return call_end_of_job(alg, histograms, accumulators, output_dir)


def finalize_processors() -> None:
    """Finalise every job built in this process (end of job in that worker)."""
    while _PROCESSORS:
        _, proc = _PROCESSORS.popitem()
        proc.finalize()
