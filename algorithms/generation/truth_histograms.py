"""Histograms of truth particles: multiplicity, transverse momentum, pseudorapidity."""
from __future__ import annotations

import awkward as ak
import hist
import numpy as np

from hepreco.framework import Algorithm, Input, Property


class TruthHistograms(Algorithm):
    """Fill multiplicity, pT and eta histograms of truth particles (weighted by the event weight)."""

    particles = Input("TruthParticles", doc="truth particles with px, py, pz [GeV] and charge")
    weights = Input("EventWeights", doc="event weights")
    charged_only = Property(False, doc="histogram charged particles only")

    def initialize(self) -> None:
        w = hist.storage.Weight()
        self.h_mult = self.book("multiplicity", hist.axis.Regular(60, 0, 1200, label="particles per event"),
                                title="particle multiplicity", storage=w)
        self.h_pt = self.book("pt", hist.axis.Regular(60, 0.1, 500, transform=hist.axis.transform.log,
                                                      label="particle $p_T$ [GeV]"),
                              title="particle transverse momentum", storage=w)
        self.h_eta = self.book("eta", hist.axis.Regular(80, -8, 8, label=r"particle $\eta$"),
                               title="particle pseudorapidity", storage=w)

    def execute(self, store) -> None:
        parts = store[self.particles]
        weights = store[self.weights]
        if self.charged_only:
            parts = parts[parts.charge != 0]
        px, py, pz = parts.px, parts.py, parts.pz
        pt = np.sqrt(px * px + py * py)
        eta = np.arcsinh(pz / np.maximum(pt, 1e-12))
        counts = ak.to_numpy(ak.num(parts, axis=1))
        per_particle = np.repeat(weights, counts)
        self.h_mult.fill(counts, weight=weights)
        self.h_pt.fill(ak.to_numpy(ak.flatten(pt)), weight=per_particle)
        self.h_eta.fill(ak.to_numpy(ak.flatten(eta)), weight=per_particle)
