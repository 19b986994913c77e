"""A plugin module for artefact tests: an algorithm reading a JSON artefact, and the folder it ships."""
from __future__ import annotations

import json
import os

from hepreco.framework import Algorithm, ArtefactProperty, Input, Output, Property, hookimpl

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "artefact_data")
#: paths read by ScaleVector in this process (to count loads)
LOADS: list[str] = []


def read_scale(path: str) -> float:
    LOADS.append(path)
    with open(path) as f:
        return float(json.load(f)["scale"])


class ScaleVector(Algorithm):
    """Multiplies the dense Vector by the scale of its artefact."""

    vector = Input("Vector")
    scaled = Output("ScaledVector")
    flavour = Property("up", doc="which scale artefact fits the job")
    scale = ArtefactProperty("scale", "toy-scale-{flavour}", doc="the scale", schema="toy-scale/1",
                             derive="hepreco run derive_scale.yaml --set job.flavour={flavour}")

    def artefact_context(self):
        return {"flavour": self.flavour}

    def initialize(self):
        self.factor = self.services.artefacts.load(self.artefact("scale"), read_scale)

    def execute(self, store):
        store.put(self.scaled, store[self.vector] * self.factor)


@hookimpl
def hepreco_register_algorithms():
    return [ScaleVector]


@hookimpl
def hepreco_register_artefacts():
    return [DATA]
