"""Tests of hepreco.algorithms.calo."""
