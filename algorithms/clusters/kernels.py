"""The clustering kernels in one namespace: pure functions, arrays in, arrays out.

Plugin classes import from here; the implementations live in one module per
idea:

=========================  ==================================================
:func:`topo_cluster`       dense cells -> 4-2-0 topological clusters
                           (:mod:`.topo`)
:func:`cell_significance`  ``|E| / sigma`` as the clustering sees it
:class:`CellLinks`         weighted (cluster, cell, weight) links, flat with
                           per-event offsets (:mod:`.links`)
:func:`topo_links`         4-2-0 labels -> :class:`CellLinks` (weights 1)
:func:`split_clusters`     split clusters at local maxima, shared cells
                           weighted (:mod:`.splitting`)
:func:`cluster_moments`    energy, eta, phi, four-momentum, significance,
                           depth, second moments, EM fraction, energy per
                           layer (:mod:`.moments`)
=========================  ==================================================
"""
from .links import CellLinks, cluster_offsets, topo_links
from .moments import MOMENT_NAMES, cluster_moments
from .splitting import PRIMARY_LAYERS, SECONDARY_LAYERS, split_clusters
from .topo import cell_significance, topo_cluster

__all__ = [
    "MOMENT_NAMES",
    "PRIMARY_LAYERS",
    "SECONDARY_LAYERS",
    "CellLinks",
    "cell_significance",
    "cluster_moments",
    "cluster_offsets",
    "split_clusters",
    "topo_cluster",
    "topo_links",
]
