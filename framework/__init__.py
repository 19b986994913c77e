"""hepreco.framework: the event loop, store, configuration, plugins, services, executors.

It imports no physics and no numba.

================  ==============================================================
module            contents
================  ==============================================================
``component``     Component, Property, Input, Output (typed, validated settings),
                  ServiceProperty (a service the component uses)
``artefacts``     ArtefactProperty, ArtefactSvc: calibration tables, conditions,
                  weights found, checked by sha256 and recorded
``algorithm``     Algorithm, Filter, EventAlgorithm (per-event slow path)
``sequence``      Sequence (modes all / and / or, invert), ChunkRunner, error policy
``event_store``   EventStore (write-once, provenance), StoreView (masked views)
``config``        job options: YAML and Python files, --set overrides, dumps
``composition``   include: of other job files (override, insert, remove), package:path names
``dataflow``      data-flow checks, ordering and graphs
``job``           build (validation), Job, Processor (per-process runtime)
``accumulators``  mergeable results: counters, sums, efficiencies, records, sets
``event_loop``    run_job: dispatch, merge, manifest, report
``executors``     sequential, processes, dask
``manifest``      completed work items, resume
``plugins``       pluggy plugin manager and the component registry
``hookspecs``     hook specifications (``hepreco_*``)
``services``      MessageSvc, HistogramSvc, RandomSvc, TimingSvc, AccumulatorSvc
``testing``       run algorithms on hand-made events outside a job (unit tests)
``io``            EventSource, WorkItem, ROOT and HDF5 sources and output streams
``cli``           the ``hepreco`` command
``errors``        exceptions with locations and suggestions
``extras``        optional dependencies: import helpers that say what to install
================  ==============================================================
"""
from .algorithm import Algorithm, EventAlgorithm, Filter
from .artefacts import ArtefactProperty
from .component import Component, Input, Output, Property, ServiceProperty
from .errors import (AlgorithmError, ArtefactError, ConfigurationError, DataFlowError, DuplicateProduct, HeprecoError,
                     JobAborted, MissingArtefact, MissingDependency, MissingProduct, PropertyError, UnknownNameError)
from .hookspecs import hookimpl
from .io.output import OutputStream
from .io.source import EventSource, WorkItem
from .sequence import Sequence
from .services import Service

__all__ = ["Algorithm", "EventAlgorithm", "Filter", "Component", "Input", "Output", "Property", "ServiceProperty",
           "ArtefactProperty", "ArtefactError", "MissingArtefact", "Sequence",
           "Service", "EventSource", "WorkItem", "OutputStream", "hookimpl", "AlgorithmError",
           "ConfigurationError", "DataFlowError", "DuplicateProduct", "HeprecoError", "JobAborted",
           "MissingDependency", "MissingProduct", "PropertyError", "UnknownNameError"]
