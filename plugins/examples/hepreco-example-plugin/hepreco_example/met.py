"""Missing transverse momentum from truth particles (invisible = neutrinos)."""
from __future__ import annotations

import awkward as ak
import hist
import numpy as np

from hepreco.framework import Algorithm, Input, Output, Property

NEUTRINOS = (12, 14, 16)


class TruthMissingET(Algorithm):
    """Missing transverse momentum: minus the vector sum of visible truth particles within |eta| < eta_max."""

    particles = Input("TruthParticles", doc="truth particles (px, py, pz [GeV], pdg_id)")
    met = Output("TruthMET", doc="missing transverse momentum per event [GeV]")
    eta_max = Property(4.9, doc="acceptance of the visible particles", gt=0)

    def initialize(self):
        self.h = self.book("met", hist.axis.Regular(50, 0, 100, label="truth $E_T^{miss}$ [GeV]"))

    def execute(self, store):
        p = store[self.particles]
        pt = np.sqrt(p.px ** 2 + p.py ** 2)
        eta = np.arcsinh(p.pz / np.maximum(pt, 1e-12))
        invisible = (abs(p.pdg_id) == NEUTRINOS[0]) | (abs(p.pdg_id) == NEUTRINOS[1]) | (abs(p.pdg_id) == NEUTRINOS[2])
        visible = p[(abs(eta) < self.eta_max) & ~invisible]
        mex = -ak.to_numpy(ak.sum(visible.px, axis=1))
        mey = -ak.to_numpy(ak.sum(visible.py, axis=1))
        met = np.hypot(mex, mey)
        self.h.fill(met)
        store.put(self.met, met)
