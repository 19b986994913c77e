"""Topological clustering as a plugin: cells in, jagged clusters with moments out."""
from __future__ import annotations

import awkward as ak
import numpy as np

from hepreco.framework import Algorithm, Input, Output, Property, ServiceProperty

from .kernels import MOMENT_NAMES, cluster_moments, split_clusters, topo_cluster, topo_links


def clusters_from_moments(moments: dict, n_clusters: np.ndarray) -> ak.Array:
    """Jagged cluster records (per event) from the flat moment arrays."""
    fields = {name: np.asarray(moments[name]) for name in MOMENT_NAMES if name != "layer_energy"}
    fields["E"] = fields.pop("energy")
    fields["layer_energy"] = ak.from_numpy(np.asarray(moments["layer_energy"], dtype=np.float64), regulararray=True)
    return ak.unflatten(ak.zip(fields, depth_limit=1), np.asarray(n_clusters, dtype=np.int64))


class TopoClusterMaker(Algorithm):
    """Group calorimeter cells into topological clusters (ATLAS 4-2-0), optionally split at local maxima.

    Clusters are jagged records per event, ordered by decreasing energy:
    E, eta, phi, px, py, pz (massless, GeV), n_cells, significance,
    center_lambda, second_r, second_lambda (mm, mm^2), em_fraction and the
    energy per layer (layer_energy).
    """

    cells = Input("CaloCells", doc="calibrated cells, dense (event, cell) [GeV]")
    clusters = Output("CaloTopoClusters", doc="jagged clusters with kinematics and moments")
    seed_sigma = Property(4.0, doc="seed threshold |E|/sigma_noise", gt=0)
    grow_sigma = Property(2.0, doc="growth threshold", ge=0)
    cell_sigma = Property(0.0, doc="perimeter threshold", ge=0)
    absolute = Property(True, doc="thresholds on |E| (True) or on E (False)")
    neighbours = Property("all3D", doc="neighbour relation", choices=("all2D", "all3D"))
    split = Property(True, doc="split clusters at local maxima (ATLAS splitter)")
    local_max_energy = Property(0.5, doc="minimum energy of a local maximum", unit="GeV", gt=0)
    min_neighbours = Property(4, doc="neighbours in the cluster a local maximum needs", ge=0)
    geometry_svc = ServiceProperty("GeometrySvc", doc="name of the geometry service")
    conditions_svc = ServiceProperty("ConditionsSvc", doc="name of the conditions service (cell noise, dead cells)")

    def check(self, registry) -> None:
        if not self.seed_sigma >= self.grow_sigma >= self.cell_sigma:
            from hepreco.framework import ConfigurationError

            raise ConfigurationError(f"{self.name}: thresholds must satisfy seed_sigma >= grow_sigma >= cell_sigma, "
                                     f"got {self.seed_sigma}, {self.grow_sigma}, {self.cell_sigma}")

    def initialize(self) -> None:
        self.geometry = self.services.get(self.geometry_svc).geom
        self.graph = self.geometry.neighbours(self.neighbours)
        self.conditions = self.services.get(self.conditions_svc)

    def _conditions(self, store) -> dict:
        groups = self.conditions.runs_of(store)
        first = self.conditions.for_run(groups[0][0])
        for run, _ in groups[1:]:
            if self.conditions.for_run(run) is not first:
                raise ValueError(f"{self.name}: a chunk spans runs with different conditions; "
                                 "use chunks within one interval of validity")
        return first

    def execute(self, store) -> None:
        energy = store[self.cells]
        cond = self._conditions(store)
        noise = cond["cell_noise"]
        cell_cluster, n_clusters = topo_cluster(energy, noise, *self.graph, seed_sigma=self.seed_sigma,
                                                grow_sigma=self.grow_sigma, cell_sigma=self.cell_sigma,
                                                absolute=self.absolute, dead_mask=cond["dead_mask"])
        if self.split:
            links = split_clusters(energy, cell_cluster, n_clusters, self.geometry, *self.graph,
                                   local_max_energy=self.local_max_energy, min_neighbours=self.min_neighbours)
        else:
            links = topo_links(cell_cluster, n_clusters)
        moments = cluster_moments(energy, noise, links, self.geometry)
        store.put(self.clusters, clusters_from_moments(moments, links.n_clusters))
