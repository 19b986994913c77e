"""hepreco.algorithms.jets: jet finding, substructure and jet images.

======================  =========================================================
module                  contents
======================  =========================================================
``kernels``             generalised-kt clustering (anti-kt, kt, Cambridge/Aachen) of
                        flat four-momenta with per-event offsets, numba-compiled and
                        identical to FastJet 3.5: ``inclusive_jets``,
                        ``exclusive_jets``, ``jet_kinematics``, ``best_strategy``;
                        also the one namespace of all jet kernels (re-exports those
                        of ``substructure`` and ``images``)
``jet_finder``          the ``JetFinder`` plugin and its anti-kt, kt and C/A
                        configurations, around ``kernels``; ``JetTruthMatcher``
``substructure``        substructure observables of clustered jets (numba kernels)
``images``              jet images with the standard preprocessing (numba kernels)
``tagging_features``    kt splitting scales, KtDR, z_cut, Q_w, planar flow,
                        angularity, aplanarity, Fox-Wolfram R2 (numba kernels)
``labelling``           truth labels W / Z / top / QCD by containment; gluon / light
                        quark by the nearest hard-scattering parton
``hls4ml_features``     the 16 features of hls4ml's jet dataset (numba kernels)
``hls4ml_dataset``      plugin ``Hls4mlJetDatasetMaker`` (g, q, W, Z, top records)
``constituent_sets``    padded, pT-ordered constituent sets relative to the jet axis
``jet_datasets``        plugins ``JetTruthLabeller`` and ``JetDatasetMaker`` (ML
                        datasets), ``pt_flat_weights``
``jet_shapes``          plugins ``JetSubstructure`` and ``JetImages``
``calibration``         jet energy scale by numerical inversion: ``JetCalibration``,
                        ``JetCalibrationDeriver``; tables in ``data/``
``jet_histograms``      plugins ``JetHistograms`` and ``JetResponse``
======================  =========================================================
"""
