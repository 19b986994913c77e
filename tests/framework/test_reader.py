"""hepreco.framework.io.read: output streams back as awkward arrays, all parts in event order."""
import os
import pathlib

import awkward as ak
import numpy as np
import pytest

from hepreco.framework import ConfigurationError
from hepreco.framework.io import read
from hepreco.framework.io.source import WorkItem

from ..conftest import build_job
from .outputs import run_toy


@pytest.fixture(scope="module")
def toy_output(tmp_path_factory):
    """The toy job (60 events, chunks of 7: 9 parts per stream) and its source's events read directly."""
    path, out = run_toy(tmp_path_factory.mktemp("reader"))
    ids, data = build_job(path).source.read(WorkItem(0, "ToySource", None, 0, 60, 1))
    return pathlib.Path(out), ids, data


@pytest.mark.parametrize("stream", ["H5", "Root"])
def test_read_returns_every_part_in_event_order_with_the_sources_values(toy_output, stream):
    out, ids, data = toy_output
    events = read(str(out / stream))
    hard = data["Particles"][data["Particles"].pt > 4.0]
    if stream == "H5":
        chosen = np.arange(60)
    else:  # the ROOT stream keeps events that passed the 'Selected' sequence
        chosen = ak.to_numpy(events.event)
        assert 0 < len(chosen) < 60
    assert np.array_equal(ak.to_numpy(events.event), ids["event"][chosen])
    assert np.array_equal(ak.to_numpy(events.run), ids["run"][chosen])
    assert np.array_equal(ak.to_numpy(events.Vector), data["Vector"][chosen])
    assert ak.to_list(events.HardParticles.pt) == ak.to_list(hard.pt[chosen])
    assert ak.to_list(events.HardParticles.eta) == ak.to_list(hard.eta[chosen])


def test_read_selected_collections_and_single_part(toy_output):
    out, ids, _ = toy_output
    events = read(str(out / "H5"), ["SumPt"])
    assert ak.fields(events) == ["run", "event", "SumPt"]
    first = read(str(out / "H5" / "part-00000.h5"))
    assert np.array_equal(ak.to_numpy(first.event), ids["event"][:7])


def test_parts_not_listed_in_the_manifest_are_not_read(toy_output, tmp_path):
    out, _, _ = toy_output
    import shutil

    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    shutil.copy(copy / "H5" / "part-00000.h5", copy / "H5" / "part-99999.h5")  # e.g. left by a crashed job
    assert len(read(str(copy / "H5"))) == 60
    os.remove(copy / "manifest.json")  # without a manifest: every part, sorted by name
    assert len(read(str(copy / "H5"))) == 67


def test_read_errors_name_the_path(tmp_path):
    with pytest.raises(ConfigurationError, match="'/no/such' does not exist"):
        read("/no/such")
    with pytest.raises(ConfigurationError, match="no part files"):
        read(str(tmp_path))
