"""In-time pile-up: minimum-bias interactions from a library overlaid on every event.

:class:`PileupOverlay` reads the hard-scatter truth particles, draws
``Poisson(mu)`` interactions per event from the minimum-bias library
(:mod:`~hepreco.algorithms.generation.minbias`) with the event's own random
stream, and puts a new collection with every particle and its ``pileup``
index (0: hard scatter, ``k``: the ``k``-th pile-up interaction).  The
hard-scatter collection is left as it is.  Point ``FastCaloSim.particles``
at the combined collection to simulate the calorimeter with pile-up.
"""
from __future__ import annotations

import os

from hepreco.framework import Algorithm, Input, Output, Property, PropertyError
from hepreco.framework.artefacts import ArtefactProperty

from ..arrays import flatten_jagged, unflatten_jagged
from . import kernels
from .minbias import KIND, NON_DIFFRACTIVE, SCHEMA, default_library_path, make_library, read_library


def _packed_library(path: str):
    library = read_library(path)
    return kernels.pack(library.columns), library.offsets


class PileupOverlay(Algorithm):
    """Overlays Poisson(mu) minimum-bias interactions from a library on the truth particles of every event.

    Draws per event from the event's seed only (results do not depend on
    chunks, workers or executor), with replacement from the library.  No
    vertex spread: every interaction comes from the nominal vertex.  In-time
    pile-up only (no neighbouring bunch crossings).
    """

    particles = Input("TruthParticles", doc="hard-scatter truth particles: pdg_id, charge, px, py, pz, E [GeV]")
    combined = Output("TruthParticlesWithPileup",
                      doc="hard scatter then pile-up particles: pdg_id, charge, px, py, pz, E [GeV], "
                          "pileup (0: hard scatter, k: k-th pile-up interaction)")
    interactions = Output("PileupInteractions", doc="pile-up interactions overlaid per event (int32)")
    mu = Property(60.0, doc="mean number of in-time pile-up interactions per bunch crossing (Poisson mean)", ge=0)
    library = ArtefactProperty(KIND, "", doc="minimum-bias library (name[@version] or path); empty: made from "
                               "library_seed (library_events interactions) and cached", schema=SCHEMA,
                               derive="hepreco run jobs/minbias_library.yaml")
    library_events = Property(1000, doc="interactions in the generated library (when 'library' is empty)", ge=1)
    library_seed = Property(20240901, doc="seed of the generated library", ge=0)
    library_settings = Property(list(NON_DIFFRACTIVE), doc="Pythia settings of the generated library", items=str)
    beam_energy = Property(6800.0, doc="beam energy of the generated library", unit="GeV", gt=0)

    def generate_artefact(self, prop: str) -> str:
        """Make (once, cached under ``$HEPRECO_CACHE/minbias``) the library from the ``library_*`` properties."""
        settings = list(self.library_settings)
        if not os.path.exists(default_library_path(self.library_events, self.library_seed, settings,
                                                   self.beam_energy)):
            self.log.info("generating the minimum-bias library: %d interactions from seed %d (once, then cached)",
                          self.library_events, self.library_seed)
        try:
            return make_library(self.library_events, self.library_seed, settings, self.beam_energy)
        except PropertyError as exc:  # Pythia refused a setting: point at this component's property
            raise PropertyError(self.name, "library_settings", exc.detail) from None

    def initialize(self) -> None:
        (self._library, self._offsets) = self.services.artefacts.load(self.artefact("library"), _packed_library)

    def execute(self, store) -> None:
        hs, offsets = flatten_jagged(store[self.particles], kernels.COLUMNS)
        columns, out_offsets, n_pileup, _ = kernels.overlay(hs, offsets, self._library, self._offsets,
                                                            self.seeds(store), self.mu)
        store.put(self.combined, unflatten_jagged(columns, out_offsets))
        store.put(self.interactions, n_pileup)

