"""hepreco plugin module of the example package (entry point ``hepreco: example``).

It provides an algorithm, the experiment's ``coarse`` geometry and the
calibration tables derived for it (artefacts ``lcw-coarse`` and
``jes-coarse`` in ``data/``), so a job runs on ``GeometrySvc.geometry:
coarse`` with nothing else installed.
"""
import os

from hepreco.framework import hookimpl

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


@hookimpl
def hepreco_register_algorithms():
    from .met import TruthMissingET

    return [TruthMissingET]


@hookimpl
def hepreco_register_geometries():
    return {"coarse": os.path.join(DATA, "coarse.yaml")}


@hookimpl
def hepreco_register_artefacts():
    return [DATA]


@hookimpl
def hepreco_job_end(report):
    report.setdefault("plugin_notes", {})["example"] = "TruthMissingET was available"
