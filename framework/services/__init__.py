"""Per-process services shared by all components of a job.

=================  ===========================================================
module             service
=================  ===========================================================
``messages``       MessageSvc: stdlib logging, level per component, counters
``histograms``     HistogramSvc: ``hist`` histograms booked per algorithm,
                   merged across chunks and workers, written to ROOT and PNG
``random``         RandomSvc: counter-based per-event random streams
``timing``         TimingSvc: per-algorithm time, total and per event
``accumulators``   AccumulatorSvc: counters, sums, efficiencies, records
                   booked per algorithm, merged like histograms
``..artefacts``    ArtefactSvc: calibration tables, conditions, weights
                   (found, checked by sha256, loaded once per process)
=================  ===========================================================

Every algorithm gets a :class:`Services` object as ``self.services``; the
standard services are attributes, services added by plugins are found
with :meth:`Services.get`.
"""
from __future__ import annotations

from typing import Any

from ..component import Component
from ..errors import UnknownNameError


class Service(Component):
    """Base of services: configured in the ``services:`` section of job options."""

    kind = "service"

    services: Any = None

    def initialize(self) -> None:
        """Called once per process after configuration, before algorithms initialise."""

    def finalize(self) -> None:
        """Called once per process at the end."""

    def harvest(self) -> Any:
        """Return what was accumulated since the last call (merged by the client), and reset."""
        return None


class Services:
    """The services of one process, by role and by name."""

    def __init__(self, messages, histograms, random, timing, extra: dict[str, Service] | None = None,
                 accumulators=None, artefacts=None):
        if accumulators is None:
            from .accumulators import AccumulatorSvc

            accumulators = AccumulatorSvc()
        if artefacts is None:
            from ..artefacts import ArtefactSvc

            artefacts = ArtefactSvc()
        self.messages = messages
        self.histograms = histograms
        self.random = random
        self.timing = timing
        self.accumulators = accumulators
        self.artefacts = artefacts
        artefacts.services = self
        self.by_name: dict[str, Service] = {s.name: s for s in (messages, histograms, random, timing, accumulators,
                                                                 artefacts)}
        self.by_name.update(extra or {})
        #: the plugin registry of the job (geometries and other named resources)
        self.registry = None

    def get(self, name: str) -> Service:
        """The service called ``name``; a registered service type not configured in the job is created
        with its defaults (and initialised) on first use."""
        if name in self.by_name:
            return self.by_name[name]
        svc = self.declare(name)
        self.artefacts.resolve_all(svc)
        svc.initialize()
        return svc

    def declare(self, name: str) -> Service:
        """The service called ``name``, created with its defaults (not initialised) when the job has none."""
        if name in self.by_name:
            return self.by_name[name]
        known = self.registry.entries["service"] if self.registry is not None else {}
        if name not in known:
            raise UnknownNameError("service", name, [*self.by_name, *known])
        svc = self.registry.get("service", name)(name=name)
        svc.services = self
        self.by_name[name] = svc
        return svc

    def all(self) -> list[Service]:
        return list(self.by_name.values())
