"""The built-in plugin: registers hepreco's own components through the same hooks as any plugin."""
from __future__ import annotations

from hepreco.framework.hookspecs import hookimpl


@hookimpl
def hepreco_register_algorithms():
    from hepreco.algorithms.generation.truth_histograms import TruthHistograms

    return [TruthHistograms]


@hookimpl
def hepreco_register_sources():
    from hepreco.algorithms.generation.pythia_source import PythiaSource
    from hepreco.framework.io.hdf5 import Hdf5Source
    from hepreco.framework.io.root import RootSource

    return [PythiaSource, RootSource, Hdf5Source]


@hookimpl
def hepreco_register_outputs():
    from hepreco.framework.io.hdf5 import Hdf5Output
    from hepreco.framework.io.root import RootOutput

    return [RootOutput, Hdf5Output]


@hookimpl
def hepreco_register_services():
    from hepreco.framework.services.histograms import HistogramSvc
    from hepreco.framework.services.messages import MessageSvc
    from hepreco.framework.services.random import RandomSvc
    from hepreco.framework.services.timing import TimingSvc

    return [MessageSvc, HistogramSvc, RandomSvc, TimingSvc]
