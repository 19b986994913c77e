"""hepreco plugin module of the example package (entry point ``hepreco: example``)."""
from hepreco.framework import hookimpl


@hookimpl
def hepreco_register_algorithms():
    from .met import TruthMissingET

    return [TruthMissingET]


@hookimpl
def hepreco_job_end(report):
    report.setdefault("plugin_notes", {})["example"] = "TruthMissingET was available"
