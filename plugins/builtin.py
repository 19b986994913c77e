"""The built-in plugin: registers hepreco's own components through the same hooks as any plugin."""
from __future__ import annotations

from hepreco.framework.hookspecs import hookimpl


@hookimpl
def hepreco_register_algorithms():
    from hepreco.algorithms.calo.cell_chain import CaloCellBuilder, CaloDigitiser, FastCaloSim
    from hepreco.algorithms.calo.cell_histograms import CaloCellHistograms, CaloEventDisplay
    from hepreco.algorithms.calo.response import CaloResponse
    from hepreco.algorithms.clusters.calibration import ClusterCalibrationDeriver, LocalHadronicCalibration
    from hepreco.algorithms.clusters.cluster_maker import TopoClusterMaker
    from hepreco.algorithms.generation.truth_histograms import TruthHistograms
    from hepreco.algorithms.jets.calibration import JetCalibration, JetCalibrationDeriver
    from hepreco.algorithms.jets.jet_finder import (AntiKtJetFinder, CambridgeJetFinder, JetFinder,
                                                    JetTruthMatcher, KtJetFinder)
    from hepreco.algorithms.jets.jet_histograms import JetHistograms, JetResponse
    from hepreco.algorithms.jets.jet_shapes import JetImages, JetSubstructure

    return [TruthHistograms, FastCaloSim, CaloDigitiser, CaloCellBuilder, CaloCellHistograms, CaloEventDisplay,
            CaloResponse, JetFinder, AntiKtJetFinder, KtJetFinder, CambridgeJetFinder, JetTruthMatcher,
            JetSubstructure, JetImages, JetHistograms, JetResponse, TopoClusterMaker, ClusterCalibrationDeriver,
            LocalHadronicCalibration, JetCalibrationDeriver, JetCalibration]


@hookimpl
def hepreco_register_sources():
    from hepreco.algorithms.calo.sources import CaloGanSource, ParticleGunSource
    from hepreco.algorithms.generation.pythia_source import PythiaSource
    from hepreco.framework.io.hdf5 import Hdf5Source
    from hepreco.framework.io.root import RootSource

    return [PythiaSource, ParticleGunSource, CaloGanSource, RootSource, Hdf5Source]


@hookimpl
def hepreco_register_outputs():
    from hepreco.framework.io.hdf5 import Hdf5Output
    from hepreco.framework.io.root import RootOutput

    return [RootOutput, Hdf5Output]


@hookimpl
def hepreco_register_services():
    from hepreco.algorithms.calo.services import ConditionsSvc, GeometrySvc
    from hepreco.framework.services.histograms import HistogramSvc
    from hepreco.framework.services.messages import MessageSvc
    from hepreco.framework.services.random import RandomSvc
    from hepreco.framework.services.timing import TimingSvc

    return [MessageSvc, HistogramSvc, RandomSvc, TimingSvc, GeometrySvc, ConditionsSvc]


@hookimpl
def hepreco_register_geometries():
    from hepreco.algorithms.calo.geometry import data_path

    return {name: data_path(f"{name}.yaml") for name in ("atlas-like", "small", "calogan")}
