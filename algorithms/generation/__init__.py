"""Event generation: the Pythia 8 source and truth-level histograms.

==========================  ====================================================
module                      contents
==========================  ====================================================
``pythia_source``           PythiaSource: Pythia 8 events, re-seeded per event
``truth_histograms``        TruthHistograms: multiplicity, pT and eta of truth
==========================  ====================================================
"""
