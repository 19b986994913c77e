"""Plugin classes for jet substructure and jet images.

Both read a jet collection made by :class:`~.jet_finder.JetFinder` (whose
``constituents`` are indices into the input collection of each event) and
that input collection, gather the constituents of all jets of the chunk into
flat arrays, and call the kernels of :mod:`~.substructure` and :mod:`~.images`.
"""
from __future__ import annotations

import awkward as ak
import numpy as np

from hepreco.framework import Algorithm, Input, Output, Property

from ..arrays import flatten_jagged, flatten_values
from .jet_finder import FOUR_MOMENTUM
from .kernels import jet_images, jet_substructure


def gather_constituents(jets, inputs) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Flat constituent four-momenta of every jet, per-jet offsets and per-event jet counts."""
    flat_inputs, in_offsets = flatten_jagged(inputs, FOUR_MOMENTUM, dtype=np.float64)
    columns, jet_offsets = flatten_jagged(jets, ("constituents",))
    n_jets = np.diff(jet_offsets)
    local_index, const_offsets = flatten_values(columns["constituents"], dtype=np.int64)
    event_of_jet = np.repeat(np.arange(len(n_jets)), n_jets)
    event_of_const = np.repeat(event_of_jet, np.diff(const_offsets))
    flat_index = in_offsets[event_of_const] + local_index
    momenta = {f: values[flat_index] for f, values in flat_inputs.items()}
    return momenta, const_offsets, n_jets


class JetSubstructure(Algorithm):
    """Mass, N-subjettiness (tau1-3, beta 1, exclusive-kt axes), ECFs e2, e3, C2, D2 (beta 1), soft-drop mass."""

    jets = Input("AntiKt10Jets", doc="jets with constituent indices", match={"R": "R", "inputs": "inputs"})
    inputs = Input("TruthParticles", doc="the collection the jets were made from (px, py, pz, E)")
    substructure = Output("{name}", doc="per jet: m, tau1, tau2, tau3, tau21, tau32, e2, e3, c2, d2, "
                          "sd_m, sd_pt, zg, rg [GeV]")
    R = Property(1.0, doc="jet radius (normalises tau_N, soft-drop R0)", gt=0)
    zcut = Property(0.1, doc="soft-drop z_cut", gt=0, lt=0.5)
    sd_beta = Property(0.0, doc="soft-drop beta (0: modified mass-drop)", ge=0)

    def execute(self, store) -> None:
        jets = store[self.jets]
        momenta, const_offsets, n_jets = gather_constituents(jets, store[self.inputs])
        s = jet_substructure(momenta["px"], momenta["py"], momenta["pz"], momenta["E"], const_offsets, self.R,
                             zcut=self.zcut, sd_beta=self.sd_beta)
        record = ak.zip({"m": s.mass, "tau1": s.tau1, "tau2": s.tau2, "tau3": s.tau3, "tau21": s.tau21,
                         "tau32": s.tau32, "e2": s.e2, "e3": s.e3, "c2": s.c2, "d2": s.d2, "sd_m": s.sd_mass,
                         "sd_pt": s.sd_pt, "zg": s.sd_zg, "rg": s.sd_rg})
        store.put(self.substructure, ak.unflatten(record, n_jets))


def _odd(value: int) -> None:
    if value % 2 == 0:
        raise ValueError(f"must be odd, got {value}")


class JetImages(Algorithm):
    """25 x 25 images of 0.1 x 0.1 (eta, phi) around jets: centred, rotated, flipped, unit L2 norm."""

    jets = Input("AntiKt10Jets", doc="jets with constituent indices", match={"inputs": "inputs"})
    inputs = Input("TruthParticles", doc="the collection the jets were made from (px, py, pz, E)")
    images = Output("{name}", doc="per jet a float32 25 x 25 image [row phi', column eta']")
    n_pixels = Property(25, doc="pixels per side (odd, so that a pixel is centred on the jet)", ge=1,
                        validator=_odd)
    pixel_size = Property(0.1, doc="pixel side in eta and phi", gt=0)
    subjet_R = Property(0.3, doc="radius of the kt subjets fixing centre and rotation", gt=0)
    pt_min = Property(200.0, doc="image only jets above this pT (others get an all-zero image)", unit="GeV", ge=0)

    def execute(self, store) -> None:
        jets = store[self.jets]
        momenta, const_offsets, n_jets = gather_constituents(jets, store[self.inputs])
        pt = np.hypot(momenta["px"], momenta["py"])
        p = np.sqrt(pt ** 2 + momenta["pz"] ** 2)
        eta = np.arctanh(np.divide(momenta["pz"], p, out=np.zeros_like(p), where=p > 0))
        phi = np.arctan2(momenta["py"], momenta["px"])
        images = jet_images(pt, eta, phi, const_offsets, n_pixels=self.n_pixels, pixel_size=self.pixel_size,
                            subjet_R=self.subjet_R)
        images[ak.to_numpy(ak.flatten(jets.pt)) < self.pt_min] = 0.0
        store.put(self.images, ak.unflatten(ak.from_numpy(images, regulararray=True), n_jets))
