"""Jet finding as a plugin: generalised kt over any four-momentum collection.

``JetFinder`` clusters a jagged collection with px, py, pz, E fields (truth
particles, calibrated clusters) with our numba kernels (or the fastjet
package, ``backend: fastjet``, for cross-checks) and puts jets as jagged
records: px, py, pz, E, pt, rapidity (y), eta, phi, m and the indices of their
constituents in the input collection.  ``AntiKtJetFinder``, ``KtJetFinder``
and ``CambridgeJetFinder`` are configurations of it, not copies.
"""
from __future__ import annotations

import awkward as ak
import numpy as np

from hepreco.framework import Algorithm, Input, Output, Property, extras

from ..arrays import flatten_jagged, flatten_values, unflatten_jagged
from .kernels import inclusive_jets, jet_kinematics

ALGORITHMS = {"antikt": -1.0, "cambridge": 0.0, "kt": 1.0}
INVISIBLE = (12, 14, 16)
#: The four-momentum fields the kernels take, in their order.
FOUR_MOMENTUM = ("px", "py", "pz", "E")


def jets_from_kernel(px, py, pz, E, jet_offsets, const_index, const_offsets):
    """Jagged jet records from the flat kernel output."""
    pt, y, phi, m = jet_kinematics(px, py, pz, E)
    p = np.sqrt(px * px + py * py + pz * pz)
    eta = np.arctanh(np.divide(pz, p, out=np.zeros_like(pz), where=p > 0))
    phi = np.where(phi > np.pi, phi - 2 * np.pi, phi)  # (-pi, pi] like the rest of hepreco
    constituents = unflatten_jagged(const_index, const_offsets)
    return unflatten_jagged({"px": px, "py": py, "pz": pz, "E": E, "pt": pt, "y": y, "eta": eta, "phi": phi, "m": m,
                             "constituents": constituents}, jet_offsets)


class JetFinder(Algorithm):
    """Generalised-kt jets (anti-kt, kt, Cambridge/Aachen) of any R, E-scheme, FastJet conventions."""

    inputs = Input("TruthParticles", doc="jagged four-momenta with px, py, pz, E [GeV]")
    jets = Output("{name}Jets", doc="jets: px, py, pz, E, pt, y, eta, phi, m, constituents (input indices)")
    algorithm = Property("antikt", doc="clustering algorithm", choices=tuple(ALGORITHMS))
    R = Property(0.4, doc="jet radius", gt=0)
    ptmin = Property(20.0, doc="inclusive jets above this pT", unit="GeV", ge=0)
    exclude_pdg = Property([], doc="drop inputs with these |pdg_id| (truth jets: [12, 14, 16, 13])", items=int)
    input_eta_max = Property(0.0, doc="drop inputs beyond this |eta| (0: keep all)", ge=0)
    backend = Property("numba", doc="our kernels, or the fastjet package (cross-checks)", choices=("numba", "fastjet"))

    def check(self, registry) -> None:
        if self.backend == "fastjet":
            extras.require("fastjet", "vector", needed_by=f"{self.name} (backend: fastjet)")

    def _selected(self, collection):
        keep = None
        if self.exclude_pdg and "pdg_id" in ak.fields(collection):
            apdg = abs(collection.pdg_id)
            keep = ak.ones_like(apdg, dtype=bool)
            for code in self.exclude_pdg:
                keep = keep & (apdg != code)
        if self.input_eta_max > 0:
            pt = np.hypot(collection.px, collection.py)
            eta_ok = abs(np.arcsinh(collection.pz / np.maximum(pt, 1e-300))) < self.input_eta_max
            keep = eta_ok if keep is None else keep & eta_ok
        if keep is None:
            return collection, None
        index = ak.local_index(collection, axis=1)[keep]
        return collection[keep], ak.to_numpy(ak.flatten(index)).astype(np.int64)

    def execute(self, store) -> None:
        collection, local = self._selected(store[self.inputs])
        momenta, offsets = flatten_jagged(collection, FOUR_MOMENTUM, dtype=np.float64)
        if self.backend == "fastjet":
            out = self._fastjet(collection)
        else:
            out = inclusive_jets(*momenta.values(), offsets, self.R, ALGORITHMS[self.algorithm], self.ptmin)
        jpx, jpy, jpz, jE, jet_offsets, const_index, const_offsets = out
        if local is not None:
            # kernel indices count the selected inputs of each event: map them to the original positions
            jet_event = np.repeat(np.arange(len(offsets) - 1), np.diff(jet_offsets))
            const_event = np.repeat(jet_event, np.diff(const_offsets))
            const_index = local[offsets[const_event] + const_index]
        store.put(self.jets, jets_from_kernel(jpx, jpy, jpz, jE, jet_offsets, const_index, const_offsets))

    def _fastjet(self, collection):
        """The same output layout, computed by the fastjet package (multi-event interface)."""
        fastjet = extras.fastjet(needed_by=f"{self.name} (backend: fastjet)")
        extras.vector(needed_by=f"{self.name} (backend: fastjet)").register_awkward()
        algos = {"antikt": fastjet.antikt_algorithm, "kt": fastjet.kt_algorithm,
                 "cambridge": fastjet.cambridge_algorithm}
        events = ak.zip({"px": collection.px, "py": collection.py, "pz": collection.pz, "E": collection.E},
                        with_name="Momentum4D")
        n = len(events)
        if n == 0 or ak.sum(ak.num(events, axis=1)) == 0:
            empty = np.zeros(0)
            return empty, empty, empty, empty, np.zeros(n + 1, np.int64), np.zeros(0, np.int64), np.zeros(1, np.int64)
        cs = fastjet.ClusterSequence(events, fastjet.JetDefinition(algos[self.algorithm], self.R))
        jets = cs.inclusive_jets(self.ptmin)
        consts = cs.constituent_index(self.ptmin)
        order = ak.argsort(np.hypot(jets.px, jets.py), axis=1, ascending=False, stable=True)
        jets, consts = jets[order], ak.sort(consts[order], axis=2)
        momenta, jet_offsets = flatten_jagged(jets, FOUR_MOMENTUM, dtype=np.float64)
        const_index, const_offsets = flatten_values(ak.flatten(consts, axis=1), dtype=np.int64)
        return (*momenta.values(), jet_offsets, const_index, const_offsets)


class AntiKtJetFinder(JetFinder):
    """Anti-kt jets (a configuration of JetFinder)."""

    algorithm = Property("antikt", doc="clustering algorithm", choices=tuple(ALGORITHMS))


class KtJetFinder(JetFinder):
    """kt jets (a configuration of JetFinder)."""

    algorithm = Property("kt", doc="clustering algorithm", choices=tuple(ALGORITHMS))


class CambridgeJetFinder(JetFinder):
    """Cambridge/Aachen jets (a configuration of JetFinder)."""

    algorithm = Property("cambridge", doc="clustering algorithm", choices=tuple(ALGORITHMS))


def match_jets(eta_a, phi_a, offsets_a, eta_b, phi_b, offsets_b, max_dr: float) -> tuple[np.ndarray, np.ndarray]:
    """For each jet of collection A, the index (within its event) of the closest jet of B within
    ``max_dr`` (-1: none) and that Delta R (inf: none).  Plain numpy, per event."""
    n = len(eta_a)
    match = np.full(n, -1, dtype=np.int64)
    dr = np.full(n, np.inf)
    for e in range(len(offsets_a) - 1):
        a0, a1, b0, b1 = offsets_a[e], offsets_a[e + 1], offsets_b[e], offsets_b[e + 1]
        if a1 == a0 or b1 == b0:
            continue
        deta = eta_a[a0:a1, None] - eta_b[None, b0:b1]
        dphi = np.angle(np.exp(1j * (phi_a[a0:a1, None] - phi_b[None, b0:b1])))
        d = np.hypot(deta, dphi)
        best = d.argmin(axis=1)
        close = d[np.arange(a1 - a0), best] < max_dr
        match[a0:a1] = np.where(close, best, -1)
        dr[a0:a1] = np.where(close, d[np.arange(a1 - a0), best], np.inf)
    return match, dr


class JetTruthMatcher(Algorithm):
    """Matches each reco jet to the closest truth jet within Delta R (eta-phi)."""

    jets = Input("RecoJets", doc="reco jets (eta, phi)")
    truth = Input("TruthJets", doc="truth jets (eta, phi)")
    matched = Output("{name}Match", doc="per reco jet: index of the matched truth jet (-1: none) and Delta R")
    max_dr = Property(0.3, doc="largest Delta R of a match", gt=0)

    def execute(self, store) -> None:
        reco, ro = flatten_jagged(store[self.jets], ("eta", "phi"))
        truth, to = flatten_jagged(store[self.truth], ("eta", "phi"))
        idx, dr = match_jets(reco["eta"], reco["phi"], ro, truth["eta"], truth["phi"], to, self.max_dr)
        store.put(self.matched, unflatten_jagged({"index": idx, "dr": dr}, ro))
