"""The built-in plugin: registers hepreco's own components through the same hooks as any plugin.

Components are given as lazy ``"module:Class"`` references: a job imports
only the algorithms it uses (and numba only when one of them needs it).
"""
from __future__ import annotations

from hepreco.framework.hookspecs import hookimpl

ALGORITHMS = {
    "hepreco.algorithms.generation.truth_histograms": ["TruthHistograms"],
    "hepreco.algorithms.generation.pileup": ["PileupOverlay"],
    "hepreco.algorithms.generation.minbias": ["MinBiasLibraryDeriver"],
    "hepreco.algorithms.calo.cell_chain": ["FastCaloSim", "CaloDigitiser", "CaloCellBuilder"],
    "hepreco.algorithms.calo.cell_histograms": ["CaloCellHistograms", "CaloEventDisplay"],
    "hepreco.algorithms.calo.response": ["CaloResponse"],
    "hepreco.algorithms.clusters.cluster_maker": ["TopoClusterMaker"],
    "hepreco.algorithms.clusters.calibration": ["ClusterCalibrationDeriver", "LocalHadronicCalibration"],
    "hepreco.algorithms.jets.jet_finder": ["JetFinder", "AntiKtJetFinder", "KtJetFinder", "CambridgeJetFinder",
                                           "JetTruthMatcher"],
    "hepreco.algorithms.jets.jet_shapes": ["JetSubstructure", "JetImages"],
    "hepreco.algorithms.jets.jet_datasets": ["JetTruthLabeller", "JetDatasetMaker"],
    "hepreco.algorithms.jets.hls4ml_dataset": ["Hls4mlJetDatasetMaker"],
    "hepreco.algorithms.jets.jet_histograms": ["JetHistograms", "JetResponse"],
    "hepreco.algorithms.jets.calibration": ["JetCalibrationDeriver", "JetCalibration"],
    "hepreco.algorithms.egamma.shower_shapes": ["EgammaShowerShapes"],
    "hepreco.algorithms.egamma.dataset": ["EgammaDatasetMaker", "RegressionDatasetMaker",
                                            "ClusterDatasetMaker"],
    "hepreco.algorithms.ml.inference": ["JetTagger", "EgammaIdentifier", "CaloEnergyRegression"],
    "hepreco.algorithms.trigger.l1calo": ["L1CaloTrigger"],
    "hepreco.algorithms.trigger.decision": ["L1TriggerMenu", "TriggerDecisionFilter"],
    "hepreco.algorithms.trigger.hlt": ["HLTSeed", "HLTTriggerMenu", "MissingETMaker", "HLTJetHypo", "HLTHTHypo",
                                       "HLTMETHypo", "HLTEgammaHypo"],
    "hepreco.algorithms.trigger.rates": ["TriggerRates"],
    "hepreco.algorithms.trigger.efficiency": ["TriggerEfficiency"],
    "hepreco.algorithms.fpga.l1nn": ["L1NeuralNetwork"],
    "hepreco.algorithms.fpga.l1_inputs": ["L1NNEventInputs"],
    "hepreco.algorithms.calogan.simulation": ["CaloGanSimulation"],
}
SOURCES = {
    "hepreco.algorithms.generation.pythia_source": ["PythiaSource"],
    "hepreco.algorithms.calo.sources": ["ParticleGunSource", "CaloGanSource"],
    "hepreco.framework.io.root": ["RootSource"],
    "hepreco.framework.io.hdf5": ["Hdf5Source"],
}
OUTPUTS = {"hepreco.framework.io.root": ["RootOutput"], "hepreco.framework.io.hdf5": ["Hdf5Output"],
           "hepreco.algorithms.calo.outputs": ["CaloGanOutput"]}
SERVICES = {
    "hepreco.framework.services.messages": ["MessageSvc"],
    "hepreco.framework.services.histograms": ["HistogramSvc"],
    "hepreco.framework.services.random": ["RandomSvc"],
    "hepreco.framework.services.timing": ["TimingSvc"],
    "hepreco.framework.services.accumulators": ["AccumulatorSvc"],
    "hepreco.framework.artefacts": ["ArtefactSvc"],
    "hepreco.algorithms.calo.services": ["GeometrySvc", "ConditionsSvc"],
}


def _references(table: dict[str, list[str]]) -> list[str]:
    return [f"{module}:{name}" for module, names in table.items() for name in names]


@hookimpl
def hepreco_register_algorithms():
    return _references(ALGORITHMS)


@hookimpl
def hepreco_register_sources():
    return _references(SOURCES)


@hookimpl
def hepreco_register_outputs():
    return _references(OUTPUTS)


@hookimpl
def hepreco_register_services():
    return _references(SERVICES)


@hookimpl
def hepreco_register_geometries():
    import importlib.util
    import os

    # the package's folder, found without importing it (and numba with it)
    calo = importlib.util.find_spec("hepreco.algorithms.calo").submodule_search_locations[0]
    return {name: os.path.join(calo, "data", f"{name}.yaml") for name in ("atlas-like", "small", "calogan")}


@hookimpl
def hepreco_register_artefacts():
    import importlib.util
    import os

    # the built-in calibration tables and models, found without importing their packages
    return [os.path.join(importlib.util.find_spec(f"hepreco.algorithms.{package}").submodule_search_locations[0],
                         "data") for package in ("calogan", "clusters", "fpga", "jets", "ml")]


@hookimpl
def hepreco_job_end(report):
    # the trigger summary (per item: seen, passed, after prescale, rate, time) of every trigger menu of the job;
    # the summary module imports neither numba nor the menu unless the job has a menu
    from hepreco.algorithms.trigger.summary import trigger_report

    summaries = trigger_report(report)
    if summaries:
        report["trigger"] = summaries
