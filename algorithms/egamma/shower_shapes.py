"""Plugin ``EgammaShowerShapes``: the ATLAS shower shapes of every cluster."""
from __future__ import annotations

import awkward as ak
import numpy as np

from hepreco.framework import Algorithm, ConfigurationError, Input, Output, Property, ServiceProperty

from ..arrays import flatten_jagged
from .kernels import SHAPE_NAMES, shower_shapes


def _window(value: list) -> None:
    if len(value) != 2 or min(value) < 1:
        raise ValueError(f"expected [cells in eta, cells in phi], both >= 1, got {value}")


def _odd(value: int) -> None:
    if value < 1 or value % 2 == 0:
        raise ValueError(f"expected an odd number of strips >= 1, got {value}")


def resolve_layers(component, geometry, names: dict[str, str]) -> dict[str, int]:
    """Layer indices of ``{property: layer name}``, or a ConfigurationError naming the geometry's layers."""
    out = {}
    for prop, name in names.items():
        if name not in geometry.layer_names:
            raise ConfigurationError(f"{component.name}: {prop} {name!r} is not a layer of geometry "
                                     f"{geometry.name!r}; its layers are {list(geometry.layer_names)}")
        out[prop] = geometry.layer_names.index(name)
    return out


class EgammaShowerShapes(Algorithm):
    """ATLAS electron/photon shower shapes of every cluster, from the cells around it.

    R_had, R_eta, R_phi, w_eta2, f1, f3, w_stot and E_ratio (see
    :mod:`hepreco.algorithms.egamma.shapes` for the definitions on this
    project's layers), one record per cluster, in the clusters' order.
    """

    cells = Input("CaloCells", doc="calibrated cells, dense (event, cell) [GeV]")
    clusters = Input("CaloTopoClusters", doc="clusters: E, eta, phi, layer_energy")
    shapes = Output("EgammaShowerShapes", doc="jagged records per cluster: " + ", ".join(SHAPE_NAMES))
    strip_layer = Property("EMB1", doc="the EM layer of fine eta strips (ATLAS EMB1)")
    middle_layer = Property("EMB2", doc="the EM layer of the shower maximum (ATLAS EMB2)")
    back_layer = Property("EMB3", doc="the last EM layer (ATLAS EMB3)")
    had_layer = Property("TileBar0", doc="the first hadronic layer (ATLAS Tile 0)")
    strip_window = Property(41, doc="strips (eta) of the profile searched for maxima", ge=3)
    strip_phi = Property(2, doc="phi cells of the strip layer summed into the profile", ge=1)
    wstot_strips = Property(21, doc="strips around the hottest one over which w_stot runs (odd)", validator=_odd)
    strip_threshold = Property(0.1, doc="strips of the profile below this count as empty (atlas-like: ~3 sigma of "
                               "the noise of two strips)", unit="GeV", ge=0)
    had_window = Property([3, 3], doc="cells (eta, phi) of the hadronic layer summed for R_had", items=int,
                          validator=_window)
    geometry_svc = ServiceProperty("GeometrySvc", doc="name of the geometry service")

    def preflight(self) -> None:
        self.resolve(self.services.declare(self.geometry_svc).geom)  # layer names checked by validate

    def initialize(self) -> None:
        self.geometry = self.services.get(self.geometry_svc).geom
        self.layers = self.resolve(self.geometry)

    def resolve(self, geometry) -> dict[str, int]:
        """Indices of the four layers in ``geometry``; ConfigurationError if one is missing or too narrow."""
        layers = resolve_layers(self, geometry, {
            "strip_layer": self.strip_layer, "middle_layer": self.middle_layer,
            "back_layer": self.back_layer, "had_layer": self.had_layer})
        for prop, layer, width in (("middle_layer", "middle_layer", 7), ("strip_phi", "strip_layer", self.strip_phi),
                                   ("had_window", "had_layer", self.had_window[1])):
            n_phi = int(geometry.layer_n_phi[layers[layer]])
            if width > n_phi:
                raise ConfigurationError(f"{self.name}: {prop} needs {width} phi cells but layer "
                                         f"{getattr(self, layer)!r} has {n_phi}")
        return layers

    def compute(self, cells: np.ndarray, clusters) -> tuple[dict, np.ndarray]:
        """Flat shapes of the clusters of a chunk and the clusters' per-event offsets."""
        c, offsets = flatten_jagged(clusters, ("E", "eta", "phi", "layer_energy"))
        event = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        layer_energy = np.asarray(ak.to_numpy(c["layer_energy"]) if not isinstance(c["layer_energy"], np.ndarray)
                                  else c["layer_energy"]).reshape(len(event), self.geometry.n_layers)
        L = self.layers
        shapes = shower_shapes(cells, event, c["eta"], c["phi"], c["E"], layer_energy, self.geometry,
                               L["strip_layer"], L["middle_layer"], L["back_layer"], L["had_layer"],
                               strip_window=self.strip_window, strip_phi=self.strip_phi,
                               wstot_strips=self.wstot_strips, strip_threshold=self.strip_threshold,
                               had_window=tuple(self.had_window))
        return shapes, offsets

    def execute(self, store) -> None:
        shapes, offsets = self.compute(store[self.cells], store[self.clusters])
        store.put(self.shapes, ak.unflatten(ak.zip(shapes, depth_limit=1), np.diff(offsets)))
