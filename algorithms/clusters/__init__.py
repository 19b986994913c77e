"""Topological calorimeter clusters: ATLAS 4-2-0 clustering, splitting, moments.

Pure functions over numpy arrays (no framework objects, no logging) in the
kernel modules, every call handling all events of a chunk, and the thin
plugin classes around them.

Submodules
----------
:mod:`.kernels`
    The public kernels in one namespace (re-exported from the modules below);
    plugin classes import from it.
:mod:`.topo`
    :func:`~.topo.topo_cluster`: seeds, breadth-first growth and merging of
    dense ``(n_events, n_cells)`` cells into clusters (4-2-0), with
    :func:`~.topo.cell_significance`.
:mod:`.links`
    :class:`~.links.CellLinks`, the flat ``(cluster, cell, weight)`` form
    shared by all cluster outputs, and :func:`~.links.topo_links`.
:mod:`.splitting`
    :func:`~.splitting.split_clusters`: local maxima in EMB2/EMB3 (and
    secondary layers), regrowth from the maxima, shared cells with ATLAS
    weights.
:mod:`.moments`
    :func:`~.moments.cluster_moments`: energy, eta, phi, massless
    four-momentum, cell count, significance, centre depth, second moments,
    EM fraction and energy per layer.
:mod:`.cells`
    Input checks shared by the kernels (dense energies, noise, neighbour
    graph) and cached per-cell tables derived from a geometry.
:mod:`.cluster_maker`
    Plugin ``TopoClusterMaker`` (cells -> ``CaloTopoClusters``).
:mod:`.calibration`
    Local hadronic calibration: ``LocalHadronicCalibration`` and its
    ``ClusterCalibrationDeriver``; tables in ``data/``.
"""
