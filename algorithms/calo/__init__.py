"""Calorimeter: cell geometry, fast simulation, digitisation and cell building.

Pure functions over numpy arrays (no framework objects, no logging); the
plugin classes that put them into the event loop live elsewhere.

Submodules
----------
:mod:`.geometry`
    :class:`~.geometry.Geometry` (per-cell arrays, layer tables, CSR
    neighbour graphs ``all2D`` / ``all3D``), :func:`~.geometry.load_geometry`
    from a YAML description, vectorised cell lookup.
:mod:`.kernels`
    The public kernels in one namespace (re-exported from the modules below).
:mod:`.simulation`
    :func:`~.simulation.simulate`: parametrised EM, hadronic and muon
    showers of truth particles into dense ``(n_events, n_cells)`` energies.
:mod:`.profiles`
    Longitudinal (incomplete gamma) and lateral (Gaussian cell integrals)
    shower-shape helpers.
:mod:`.digitisation`
    :func:`~.digitisation.digitise`, :func:`~.digitisation.build_cells`,
    :func:`~.digitisation.noise_cut`, :func:`~.digitisation.cell_noise`.
:mod:`.conditions`
    :func:`~.conditions.make_conditions`: toy pedestals, gains, noise, dead
    cells.
:mod:`.calibration`
    :func:`~.calibration.derive_em_scale`: the global EM-scale constant.
:mod:`.gun`
    :func:`~.gun.particle_gun`: single-particle inputs.
``data/``
    ``atlas-like.yaml`` (201,600 cells, |eta| < 2.5) and ``small.yaml``
    (4,000 cells, for tests).

Random numbers come from :mod:`hepreco.algorithms._random`: one seed per
event, so results never depend on chunking.
"""
