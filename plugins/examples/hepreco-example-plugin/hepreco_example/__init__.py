"""Example experiment plugin for hepreco: ``TruthMissingET`` (module ``met``), registered in ``plugin``."""
