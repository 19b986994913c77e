"""Event generation: the Pythia 8 source, truth-level histograms and in-time pile-up.

==========================  ====================================================
module                      contents
==========================  ====================================================
``pythia_source``           PythiaSource: Pythia 8 events, re-seeded per event
``truth_histograms``        TruthHistograms: multiplicity, pT and eta of truth
``kernels``                 overlay: Poisson(mu) library interactions per event
``minbias``                 the minimum-bias library (HDF5 artefact), its
                            generation and MinBiasLibraryDeriver
``pileup``                  PileupOverlay: pile-up particles before the
                            calorimeter simulation
==========================  ====================================================
"""
