"""Unit tests of the example plugin's algorithm, on hand-made events, with hepreco.framework.testing."""
import awkward as ak
import numpy as np
import pytest

from hepreco.framework import Filter, Input, Property, testing
from hepreco_example.met import TruthMissingET


def particles(*events):
    """Jagged truth particles from (px, py, pz, pdg_id) tuples per event."""
    return ak.Array([[{"px": px, "py": py, "pz": pz, "pdg_id": pdg} for px, py, pz, pdg in event]
                     for event in events])


EVENTS = particles(
    [(10.0, 0.0, 0.0, 211), (-10.0, 0.0, 0.0, 14)],  # one visible pion, balanced by a neutrino: MET 10 GeV
    [(3.0, 4.0, 0.0, 22), (-3.0, -4.0, 0.0, 22)],  # balanced photons: MET 0
    [(0.0, 5.0, 500.0, 211)],  # a pion at eta ~ 5.3, outside the acceptance: MET 0
    [],  # an empty event
)


def test_met_of_hand_made_events():
    result = testing.run(TruthMissingET(), inputs={"TruthParticles": EVENTS})
    np.testing.assert_allclose(result["TruthMET"], [10.0, 0.0, 0.0, 0.0], atol=1e-12)
    assert result.store.provenance("TruthMET").producer == "TruthMissingET"


def test_acceptance_property_changes_the_result():
    result = testing.run(TruthMissingET(eta_max=6.0), inputs={"TruthParticles": EVENTS})
    np.testing.assert_allclose(result["TruthMET"], [10.0, 0.0, 5.0, 0.0], atol=1e-9)


def test_histogram_is_filled_once_per_event_and_chunking_changes_nothing():
    whole = testing.run(TruthMissingET(), inputs={"TruthParticles": EVENTS})
    chunked = testing.run(TruthMissingET(), inputs={"TruthParticles": EVENTS}, chunk_size=1)
    h = whole.histograms["TruthMissingET/met"]
    assert h.sum() == 4 and h[hist_bin(h, 10.0)] == 1
    assert chunked.histograms["TruthMissingET/met"] == h
    np.testing.assert_array_equal(chunked["TruthMET"], whole["TruthMET"])
    assert len(chunked.stores) == 4


def hist_bin(h, value):
    return h.axes[0].index(value)


class MetFilter(Filter):
    """Events with missing ET above a threshold (a second step to make a short chain)."""

    met = Input("TruthMET")
    threshold = Property(1.0, unit="GeV")

    def execute(self, store):
        return store[self.met] > self.threshold


def test_short_chain_with_a_filter():
    result = testing.run([TruthMissingET(), MetFilter(threshold=5.0)], inputs={"TruthParticles": EVENTS},
                         events=[100, 101, 102, 103], run=7)
    assert result["MetFilterPassed"].tolist() == [True, False, False, False]
    assert result.decision.tolist() == [True, False, False, False]
    assert result.store.event_ids["event"].tolist() == [100, 101, 102, 103]
    assert set(result.store.event_ids["run"]) == {7}


def test_missing_input_names_the_nearest_key():
    with pytest.raises(KeyError, match="no product 'TruthParticles' .*did you mean 'TruthParticle'"):
        testing.run(TruthMissingET(), inputs={"TruthParticle": EVENTS})
