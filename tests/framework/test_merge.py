"""hepreco merge: a stream's parts combined into fewer files, identical in content."""
import json
import os
import pathlib

import pytest

from hepreco.framework import ConfigurationError
from hepreco.framework.cli import main
from hepreco.framework.io import read
from hepreco.framework.io.merge import merge_stream
from hepreco.framework.io.output import sha256

from .outputs import run_toy, same_events as same


@pytest.fixture(scope="module")
def toy_output(tmp_path_factory):
    _, out = run_toy(tmp_path_factory.mktemp("merge"))
    return pathlib.Path(out)


@pytest.mark.parametrize("stream", ["H5", "Root"])
def test_merged_files_hold_exactly_the_parts_events_in_order(toy_output, tmp_path, stream):
    files = merge_stream(str(toy_output / stream), str(tmp_path / "m"), events_per_file=20)
    per_part = read(str(toy_output / stream))
    merged = read(str(tmp_path / "m"))
    same(per_part, merged)
    assert sum(f["events"] for f in files) == len(per_part)
    assert all(f["events"] >= 20 for f in files[:-1])  # parts are never split, so a file may hold a few more
    listed = json.loads((tmp_path / "m" / "manifest.json").read_text())["files"]
    assert [f["file"] for f in listed] == sorted(os.listdir(tmp_path / "m"))[:-1]  # everything but the manifest
    assert all(sha256(str(tmp_path / "m" / f["file"])) == f["sha256"] for f in listed)
    assert sorted(p for f in listed for p in f["parts"]) == sorted(os.listdir(toy_output / stream))


def test_merge_by_size_and_from_the_command_line(toy_output, tmp_path, capsys):
    assert main(["merge", str(toy_output / "H5"), "-o", str(tmp_path / "big"), "--size-mb", "1000"]) == 0
    assert "into 1 file(s)" in capsys.readouterr().out
    same(read(str(toy_output / "H5")), read(str(tmp_path / "big")))


def test_merge_refuses_a_used_destination_and_missing_sizes(toy_output, tmp_path):
    with pytest.raises(ConfigurationError, match="give one of events_per_file or size_mb"):
        merge_stream(str(toy_output / "H5"), str(tmp_path / "x"))
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "f").write_text("x")
    with pytest.raises(ConfigurationError, match="is not empty; choose a new folder"):
        merge_stream(str(toy_output / "H5"), str(tmp_path / "used"), events_per_file=10)
    with pytest.raises(ConfigurationError, match="must be another folder"):
        merge_stream(str(toy_output / "H5"), str(toy_output / "H5"), events_per_file=10)
