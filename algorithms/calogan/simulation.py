"""Plugin ``CaloGanSimulation``: showers from a trained generator instead of ``FastCaloSim``."""
from __future__ import annotations

import awkward as ak
import numpy as np

from hepreco.framework import Algorithm, ConfigurationError, Input, Output, Property, ServiceProperty, extras
from hepreco.framework.artefacts import ArtefactProperty

from .noise import latent_normals
from .train import KIND, SCHEMA




class CaloGanSimulation(Algorithm):
    """Generative calorimeter simulation of single particles in the ``calogan`` geometry.

    Reads the same truth particles as ``FastCaloSim`` (one particle per
    event, as from ``ParticleGunSource``; events without particles get no
    energy) and puts the same dense ``CaloHits``.  The generator, conditioned
    on the particle's energy and type, was trained on particles entering
    perpendicular at the centre; it ignores the direction.  The chunk's
    showers are generated in batches of ``batch_size`` under
    ``torch.inference_mode()``; the latent noise of each event comes from its
    own counter-based random stream, so an event gets the same shower under
    any chunking or executor.
    """

    particles = Input("TruthParticles", doc="truth particles: pdg_id, E [GeV] (one per event)")
    hits = Output("CaloHits", doc="visible energy per cell, dense float32 (event, 504 cells) [GeV]")
    weights = ArtefactProperty(KIND, "calogan-gan", doc="trained generator (safetensors + JSON metadata)",
                               schema=SCHEMA, derive="python -m hepreco.algorithms.calogan.train "
                               "jobs/ml/calogan.yaml")
    batch_size = Property(1024, doc="showers per generator call", gt=0)
    geometry_svc = ServiceProperty("GeometrySvc", doc="name of the geometry service")

    def check(self, registry) -> None:
        extras.require("torch", needed_by=self.name)

    def artefact_context(self) -> dict[str, str]:
        return {"geometry": self.services.declare(self.geometry_svc).geometry_name}

    def initialize(self) -> None:
        from ..ml import runtime  # noqa: F401  (registers torch with the job's thread policy, job.threads)
        from .generator import load

        geometry = self.services.get(self.geometry_svc).geom
        if geometry.n_cells != 504:
            raise ConfigurationError(f"{self.name}: the generator makes showers of the calogan geometry "
                                     f"(504 cells), the job's geometry has {geometry.n_cells}")
        self.generator = self.services.artefacts.load(self.artefact("weights"), load)

    def execute(self, store) -> None:
        particles = store[self.particles]
        n = len(particles)
        counts = ak.to_numpy(ak.num(particles))
        if (counts > 1).any():
            raise ValueError(f"{self.name}: events with {int(counts.max())} particles; the generator "
                             "simulates one particle per event")
        hits = np.zeros((n, 504), dtype=np.float32)
        rows = np.flatnonzero(counts == 1)
        if len(rows):
            first = ak.firsts(particles[rows])
            noise = latent_normals(self.seeds(store)[rows], self.generator.latent)
            hits[rows] = self.generator.generate(ak.to_numpy(first["E"]), ak.to_numpy(first["pdg_id"]), noise,
                                                 self.batch_size)
        store.put(self.hits, hits)
