"""Electron and photon candidates from clusters: shower shapes and cell windows for identification.

Submodules
----------
:mod:`.kernels`
    The public kernels in one namespace; plugin classes import from it.
:mod:`.shapes`
    :func:`~.shapes.shower_shapes`: R_had, R_eta, R_phi, w_eta2, f1, f3,
    w_stot, E_ratio on the layers of a hepreco geometry (the mapping is in
    the module docstring).
:mod:`.windows`
    :func:`~.windows.cell_windows`: a layer's cells in a fixed window around
    a direction, at the layer's own granularity.
:mod:`.matching`
    :func:`~.matching.phi_at_radius` and :func:`~.matching.leading_matched`:
    the cluster of a single (gun) particle.
:mod:`.shower_shapes`
    Plugin ``EgammaShowerShapes`` (cells + clusters -> shapes per cluster).
:mod:`.dataset`
    Plugins ``EgammaDatasetMaker`` and ``RegressionDatasetMaker`` (one record
    per gun particle's cluster) and ``ClusterDatasetMaker`` (every energetic
    cluster, e.g. of QCD jets) for training (the ML dataset format).
"""
