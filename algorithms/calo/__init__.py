"""Calorimeter: cell geometry, fast simulation, digitisation and cell building.

Pure functions over numpy arrays (no framework objects, no logging) in the
kernel modules, and thin plugin classes that put them into the event loop.

Submodules
----------
:mod:`.geometry`
    :class:`~.geometry.Geometry` (per-cell arrays, layer tables, CSR
    neighbour graphs ``all2D`` / ``all3D``), :func:`~.geometry.load_geometry`
    from a YAML description, vectorised cell lookup.
:mod:`.kernels`
    The public kernels in one namespace (re-exported from the modules below);
    plugin classes import from it.
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
    :func:`~.gun.particle_gun`: single-particle inputs; the masses and
    charges of the particles it knows (``MASS``, ``CHARGE``).
:mod:`.resolution`
    Cone sums and the sigma/E = a/sqrt(E) (+) b/E (+) c fit.
:mod:`.services`
    Plugins: ``GeometrySvc``, ``ConditionsSvc`` (HDF5 conditions with run IOVs).
:mod:`.sources`
    Plugins: ``ParticleGunSource``, ``CaloGanSource``.
:mod:`.cell_chain`
    Plugins: ``FastCaloSim``, ``CaloDigitiser``, ``CaloCellBuilder``.
:mod:`.response`
    Plugin ``CaloResponse``.
:mod:`.cell_histograms`
    Plugins ``CaloCellHistograms``, ``CaloEventDisplay``.
``data/``
    ``atlas-like.yaml`` (201,600 cells, |eta| < 2.5), ``small.yaml``
    (4,000 cells, for tests) and ``calogan.yaml`` (CaloGAN images).

Random numbers come from :mod:`hepreco.algorithms._random`: one seed per
event, so results never depend on chunking.  Jagged inputs (truth particles)
become flat arrays through :mod:`hepreco.algorithms.arrays`.
"""
