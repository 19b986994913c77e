"""A test geometry for the Level-1 trigger and a source of random cells on it (job.plugins module)."""
from __future__ import annotations

import math
import os

import awkward as ak
import numpy as np

from hepreco.framework import Algorithm, EventSource, Input, Output, Property, hookimpl
from hepreco.framework.event_store import make_event_ids
from hepreco.framework.io.source import split_range
from hepreco.framework.services.random import event_seeds

#: the test geometry: 0.05 x 2pi/128 EM cells, 0.1 x 2pi/64 hadronic cells, |eta| < 0.8 (16 x 64 towers)
GEOMETRY_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "l1test.yaml")
DPHI_TOWER = 2 * math.pi / 64


def geometry_path() -> str:
    return GEOMETRY_PATH


def geometry():
    from hepreco.algorithms.calo.geometry import load_geometry

    return load_geometry(geometry_path())


def deposit(cells, geom, layer: str, eta: float, phi: float, et: float) -> int:
    """Add transverse energy ``et`` [GeV] to the cell of ``layer`` at (eta, phi); return the cell id."""
    cell = int(geom.find_cell(geom.layer_index(layer), eta, phi))
    cells[..., cell] += et * math.cosh(geom.eta[cell])
    return cell


def tower_centre(ieta: int, iphi: int) -> tuple[float, float]:
    """(eta, phi) of the centre of tower (ieta, iphi) of the l1test grid."""
    return -0.8 + (ieta + 0.5) * 0.1, -math.pi + (iphi + 0.5) * DPHI_TOWER


class RandomCellSource(EventSource):
    """Cells of the l1test geometry: Gaussian noise plus a few energetic deposits, seeded per event."""

    cells = Output("CaloCells", doc="dense float32 (event, cell) [GeV]")

    def work_items(self, evt_max, chunk_size, run):
        return split_range(self.name, None, evt_max if evt_max >= 0 else 100, chunk_size, run)

    def read(self, item):
        geom = geometry()
        ids = make_event_ids(item.run, np.arange(item.first, item.last))
        seeds = event_seeds(self.services.random.seed, ids["run"], ids["event"], self.name)
        out = np.zeros((len(seeds), geom.n_cells), dtype=np.float32)
        for k, s in enumerate(seeds):
            rng = np.random.Generator(np.random.Philox(key=int(s)))
            out[k] = rng.normal(0.0, 0.2, geom.n_cells)
            for _ in range(rng.poisson(4)):
                cell = rng.integers(geom.n_cells)
                out[k, cell] += rng.exponential(20.0)
        return ids, {self.cells: out}


@hookimpl
def hepreco_register_sources():
    return [RandomCellSource]


class L1JetsAsJets(Algorithm):
    """Test HLT step: the L1 jets as jets (pt = et), counting the events it processes (accumulator ``seen``)."""

    l1_jets = Input("L1Jets", doc="L1 jets: et [GeV], eta")
    jets = Output("{name}Jets", doc="jets: pt [GeV], eta")

    def initialize(self):
        self.seen = self.accumulate("seen", "counter")

    def execute(self, store):
        self.seen.add(store.n_events)
        jets = store[self.l1_jets]
        store.put(self.jets, ak.zip({"pt": jets.et, "eta": jets.eta}))


@hookimpl
def hepreco_register_algorithms():
    return [L1JetsAsJets]
