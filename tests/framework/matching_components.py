"""Components whose products carry their configuration (Input ``match``, Output ``carries``)."""
from __future__ import annotations

import awkward as ak

from hepreco.framework import Algorithm, Input, Output, Property, hookimpl


class ToyClusterer(Algorithm):
    """Groups particles with a radius ``R``; the product remembers ``R`` and the input key."""

    inputs = Input("Particles", doc="particles (pt, eta, phi)")
    groups = Output("{name}Groups", doc="the particles, regrouped")
    R = Property(0.4, doc="radius", gt=0)

    def execute(self, store):
        store.put(self.groups, store[self.inputs])


class ToyScale(Algorithm):
    """Scales pt; passes on the configuration of the groups it scales."""

    groups = Input("Groups", doc="groups to scale")
    scaled = Output("{name}Groups", doc="scaled groups", carries=("groups",))
    factor = Property(1.1, doc="scale factor", gt=0)

    def execute(self, store):
        g = store[self.groups]
        store.put(self.scaled, ak.with_field(g, g.pt * self.factor, "pt"))


class ToyShape(Algorithm):
    """Needs the radius and the input collection its groups were made with."""

    groups = Input("Groups", doc="groups", match={"R": "R", "inputs": "inputs"})
    inputs = Input("Particles", doc="the collection the groups were made from")
    shape = Output("{name}", doc="number of particles per event")
    R = Property(0.4, doc="radius the groups were made with", gt=0)

    def execute(self, store):
        store.put(self.shape, ak.to_numpy(ak.num(store[self.groups], axis=1)))


@hookimpl
def hepreco_register_algorithms():
    return [ToyClusterer, ToyScale, ToyShape]
