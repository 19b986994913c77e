"""Algorithms whose end of job records which process ran it (``end_of_job_on_workers`` off and on)."""
from __future__ import annotations

import json
import os

import hist

from hepreco.framework import Algorithm, Input, hookimpl


class SumPtSummary(Algorithm):
    """Histograms SumPt; its end of job writes ``<name>.json``: the process id and the histogram's entries."""

    sumpt = Input("SumPt")

    def initialize(self):
        self.h = self.book("sumpt", hist.axis.Regular(20, 0, 400))

    def execute(self, store):
        self.h.fill(store[self.sumpt])

    def end_of_job(self, histograms, output_dir):
        path = os.path.join(output_dir, f"{self.name}.json")
        with open(path, "w") as f:
            json.dump({"pid": os.getpid(), "entries": float(histograms["sumpt"].sum(flow=True))}, f)
        return [path]


class SumPtPlot(SumPtSummary):
    """The same, declared to write files only: the event loop may run its end of job on a worker."""

    end_of_job_on_workers = True


@hookimpl
def hepreco_register_algorithms():
    return [SumPtSummary, SumPtPlot]
