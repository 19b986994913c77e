"""Configuration that travels with data: consumers refuse products made with other settings."""
import re

import awkward as ak
import numpy as np
import pytest

from hepreco.framework import DataFlowError
from hepreco.framework.event_store import EventStore, make_event_ids

from ..conftest import build_job

HEAD = """\
job:
  evt_max: 10
  plugins: [tests.framework.components, tests.framework.matching_components]
source:
  type: ToySource
algorithms:
  - {type: ToyClusterer, name: Wide, R: 1.0}
  - {type: ToyClusterer, name: Narrow, R: 0.4}
  - {type: ToyScale, name: WideScaled, groups: WideGroups}
"""


def test_consumer_with_the_producers_settings_is_accepted(write_job):
    job = build_job(write_job(HEAD + "  - {type: ToyShape, groups: WideGroups, R: 1.0}\n"))
    assert [a.name for a in job.algorithms()][-1] == "ToyShape"


def test_radius_mismatch_is_refused_naming_both_sides(write_job):
    path = write_job(HEAD + "  - {type: ToyShape, groups: WideGroups, R: 0.4}\n")
    with pytest.raises(DataFlowError, match=re.escape(
            f"{path}:10: ToyShape.R = 0.4, but its input 'WideGroups' (groups) was made by 'Wide' with R = 1.0; "
            "set ToyShape.R: 1.0")):
        build_job(path)


def test_settings_travel_through_an_algorithm_that_carries_them(write_job):
    build_job(write_job(HEAD + "  - {type: ToyShape, groups: WideScaledGroups, R: 1.0}\n"))
    path = write_job(HEAD + "  - {type: ToyShape, groups: WideScaledGroups, R: 0.4}\n")
    with pytest.raises(DataFlowError, match=r"input 'WideScaledGroups' \(groups\) was made by 'Wide' with R = 1.0"):
        build_job(path)


def test_a_data_key_can_be_required_to_match(write_job):
    path = write_job(HEAD + "  - {type: ToyShape, groups: NarrowGroups, inputs: Vector}\n")
    with pytest.raises(DataFlowError, match=r"ToyShape.inputs = 'Vector', but its input 'NarrowGroups' \(groups\) "
                                            r"was made by 'Narrow' with inputs = 'Particles'"):
        build_job(path)


def test_products_record_the_settings_of_their_producer(write_job):
    job = build_job(write_job(HEAD))
    wide = next(a for a in job.algorithms() if a.name == "Wide")
    store = EventStore(make_event_ids(1, np.arange(3)))
    store.put("Particles", ak.Array([[{"pt": 1.0, "eta": 0.0, "phi": 0.0}], [], []]), "ToySource")
    wide.execute(store.view(producer=wide))
    prov = store.provenance("WideGroups")
    assert prov.producer == "Wide"
    assert prov.settings["R"] == 1.0 and prov.settings["inputs"] == "Particles"
    assert prov.config_hash == wide.config_hash()


def test_describe_shows_what_an_input_must_match():
    from tests.framework.matching_components import ToyShape

    assert "must match its producer's R, inputs" in ToyShape.__doc__
