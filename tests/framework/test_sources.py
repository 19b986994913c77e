"""File sources: each file read once, unique event ids, and bad inputs refused with the file's name."""
import logging
import os
from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pytest
import uproot

from hepreco.framework import ConfigurationError
from hepreco.framework.cli import main
from hepreco.framework.errors import InputFileError
from hepreco.framework.event_store import make_event_ids
from hepreco.framework.io.hdf5 import write_hdf5
from hepreco.framework.io.root import RootSource

from ..conftest import build_job, run_job
from .outputs import hdf5_stream

JOB = """\
job: {{evt_max: -1, chunk_size: {chunk}, output_dir: {out}, progress: false, seed: 3,
       plugins: [tests.framework.components]}}
source:
  type: {source}
  files: [{files}]
{extra}algorithms:
  - {{type: Smear}}
outputs:
  - {{type: Hdf5Output, name: Copy, collections: [Vector, SmearedVector]}}
"""


def root_file(path, n, first=0, event_numbers=False, tree="events"):
    """A TTree with a dense Vector (n, 4), a jagged Particles collection and, optionally, run/event."""
    vector = np.arange(first * 4, (first + n) * 4, dtype=np.float64).reshape(n, 4)
    particles = ak.zip({"pt": ak.Array([[float(first + i)] * (i % 3) for i in range(n)])})
    arrays = {"Vector": vector, "Particles": particles}
    if event_numbers:
        arrays = {"run": np.full(n, 5, dtype=np.int64), "event": np.arange(first, first + n, dtype=np.int64),
                  **arrays}
    with uproot.recreate(str(path)) as f:
        t = f.mktree(tree, {k: (v.dtype, v.shape[1:]) if isinstance(v, np.ndarray) and v.ndim > 1 else
                            v.dtype if isinstance(v, np.ndarray) else v.type.content for k, v in arrays.items()})
        t.extend(arrays)
    return str(path)


def h5_file(path, n, first=0, keys=("Vector",)):
    data = {"Vector": np.arange(first * 4, (first + n) * 4, dtype=np.float64).reshape(n, 4),
            "Other": np.zeros(n)}
    write_hdf5(str(path), make_event_ids(1, np.arange(first, first + n)), {k: data[k] for k in keys})
    return str(path)


def job(write_job, tmp_path, files, source="RootSource", chunk=4, extra="", name="job.yaml"):
    listed = ", ".join(f"'{f}'" for f in files)
    return write_job(JOB.format(chunk=chunk, out=tmp_path / name.replace(".yaml", ""), source=source,
                                files=listed, extra=extra), name)


def copied(tmp_path, name="job"):
    return hdf5_stream(str(tmp_path / name), "Copy")


# -- each file once ------------------------------------------------------------
@pytest.mark.parametrize("how", ["folder and file", "overlapping globs", "symbolic link"])
def test_a_file_named_twice_is_read_once_with_a_warning(tmp_path, write_job, hepreco_log, how):
    data = tmp_path / "data"
    data.mkdir()
    a = root_file(data / "a.root", 6, event_numbers=True)
    root_file(data / "b.root", 4, first=6, event_numbers=True)
    if how == "folder and file":
        files = [str(data), a]
    elif how == "overlapping globs":
        files = [str(data / "*.root"), str(data / "a*")]
    else:
        os.symlink(a, tmp_path / "link.root")
        files = [str(data), str(tmp_path / "link.root")]
    with hepreco_log.at_level(logging.WARNING):
        report = run_job(job(write_job, tmp_path, files))
    out = copied(tmp_path)
    assert report["events"]["read"] == 10 and report["status"] == "ok"
    assert sorted(zip(out["run"], out["event"])) == [(5, e) for e in range(10)]  # unique, none missing
    warned = [r.getMessage() for r in hepreco_log.records if "named more than once" in r.getMessage()]
    assert len(warned) == 1 and ("a.root" in warned[0] or "link.root" in warned[0]), warned


# -- event ids of inputs without event numbers ---------------------------------
def test_files_without_event_numbers_get_ids_counted_across_files(tmp_path, write_job):
    files = [root_file(tmp_path / "a.root", 7), root_file(tmp_path / "b.root", 5, first=7)]
    run_job(job(write_job, tmp_path, files, chunk=3, name="small.yaml"))
    run_job(job(write_job, tmp_path, files, chunk=100, name="large.yaml"), "job.executor=processes", "job.workers=2")
    small, large = copied(tmp_path, "small"), copied(tmp_path, "large")
    assert small["event"] == list(range(12))  # not 0..6, 0..4: no id repeats across the two files
    assert small["Vector"] == np.arange(48.0).reshape(12, 4).tolist()  # event n is entry n of the list
    # stable under the chunk size and the executor, random streams included
    assert large["event"] == small["event"] and large["SmearedVector"] == small["SmearedVector"]
    smear = np.asarray(small["SmearedVector"]) - np.asarray(small["Vector"])
    assert len({tuple(row) for row in smear}) == 12  # each event its own random stream


def test_an_empty_file_in_the_list_does_not_end_the_input(tmp_path, write_job):
    files = [h5_file(tmp_path / "a.h5", 3), h5_file(tmp_path / "b.h5", 0), h5_file(tmp_path / "c.h5", 4, first=3)]
    report = run_job(job(write_job, tmp_path, files, source="Hdf5Source"))
    assert report["events"]["read"] == 7 and copied(tmp_path)["event"] == list(range(7))


def test_files_with_and_without_event_numbers_are_refused(tmp_path, write_job):
    files = [root_file(tmp_path / "a.root", 3, event_numbers=True), root_file(tmp_path / "b.root", 3)]
    with pytest.raises(ConfigurationError, match=r"'.*a\.root' carries event numbers but '.*b\.root' does not"):
        build_job(job(write_job, tmp_path, files))


# -- unreadable inputs -----------------------------------------------------------
def damaged(tmp_path, kind):
    if kind == "empty":
        path = tmp_path / "x.root"
        path.write_bytes(b"")
    elif kind == "truncated":
        whole = Path(root_file(tmp_path / "whole.root", 50)).read_bytes()
        path = tmp_path / "x.root"
        path.write_bytes(whole[:len(whole) // 2])
    elif kind == "hdf5":
        path = tmp_path / "x.root"
        h5_file(path, 3)
    elif kind == "rntuple":
        path = tmp_path / "x.root"
        with uproot.recreate(str(path)) as f:
            f.mkrntuple("events", {"Vector": np.zeros(3)})
    elif kind == "text":
        path = tmp_path / "x.root"
        path.write_text("run,event\n1,2\n")
    return str(path)


@pytest.mark.parametrize("kind,message", [
    ("empty", r"x\.root: not a ROOT file \(zero bytes\)"),
    ("truncated", r"x\.root: truncated ROOT file \(\d+ of \d+ bytes"),
    ("hdf5", r"x\.root: not a ROOT file \(it is an HDF5 file: read it with Hdf5Source\)"),
    ("rntuple", r"x\.root: 'events' is an RNTuple \(ROOT::RNTuple\), which RootSource does not read: it reads "
                r"TTrees"),
    ("text", r"x\.root: not a ROOT file \(unknown format\)"),
])
def test_unreadable_root_input_is_refused_when_the_job_is_built(tmp_path, write_job, capsys, kind, message):
    good = root_file(tmp_path / "good.root", 3)
    path = job(write_job, tmp_path, [good, damaged(tmp_path, kind)])
    with pytest.raises(InputFileError, match=r"job\.yaml:\d+: RootSource: .*" + message) as err:
        build_job(path)
    assert err.value.path.endswith("x.root")
    assert main(["validate", path]) == 2  # validate refuses it too, in one line
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hepreco: error: ") and "x.root" in lines[0]


def test_missing_tree_names_the_file_and_the_trees_it_has(tmp_path, write_job):
    path = job(write_job, tmp_path, [root_file(tmp_path / "x.root", 3, tree="Events")])
    with pytest.raises(InputFileError, match=r"x\.root: no tree 'events'; did you mean 'Events'\?"):
        build_job(path)


@pytest.mark.parametrize("kind,message", [
    ("root", r"x\.h5: not an HDF5 file \(it is a ROOT file: read it with RootSource\)"),
    ("foreign", r"x\.h5: HDF5 file not written by Hdf5Output \(no 'format' attribute 'hepreco-hdf5/1'; "
                r"it holds 'layer_0'\); other layouts need their own source"),
    ("empty", r"x\.h5: not an HDF5 file \(zero bytes\)"),
    ("truncated", r"x\.h5: damaged or truncated HDF5 file \(truncated file: eof = \d+"),
])
def test_unreadable_hdf5_input_is_refused_when_the_job_is_built(tmp_path, write_job, kind, message):
    path = str(tmp_path / "x.h5")
    if kind == "root":
        root_file(path, 3)
    elif kind == "foreign":
        with h5py.File(path, "w") as f:
            f.create_dataset("layer_0", data=np.zeros((3, 3, 96)))
    elif kind == "empty":
        open(path, "wb").close()
    else:
        whole = Path(h5_file(tmp_path / "whole.h5", 500)).read_bytes()
        Path(path).write_bytes(whole[:len(whole) // 2])
    with pytest.raises(InputFileError, match=r"Hdf5Source: .*" + message):
        build_job(job(write_job, tmp_path, [path], source="Hdf5Source"))


# -- every file carries what is asked for --------------------------------------
def test_a_collection_missing_from_a_later_file_is_named_with_the_file(tmp_path, write_job):
    files = [h5_file(tmp_path / "a.h5", 3, keys=("Vector", "Other")), h5_file(tmp_path / "b.h5", 3, first=3)]
    with pytest.raises(ConfigurationError, match=r"Hdf5Source: collection 'Other' of the first input file "
                       r"'.*a\.h5' \(which sets what this source provides\) is not in '.*b\.h5'; "
                       r"list the ones every file has in 'collections'"):
        build_job(job(write_job, tmp_path, files, source="Hdf5Source"))
    # asking for what every file has reads both
    report = run_job(job(write_job, tmp_path, files, source="Hdf5Source", extra="  collections: [Vector]\n"))
    assert report["events"]["read"] == 6 and copied(tmp_path)["event"] == list(range(6))


def test_a_requested_collection_not_in_the_files_is_refused_with_the_nearest_names(tmp_path, write_job):
    files = [h5_file(tmp_path / "a.h5", 3), h5_file(tmp_path / "b.h5", 3, first=3, keys=("Vector", "Other"))]
    path = job(write_job, tmp_path, files, source="Hdf5Source", extra="  collections: [Vector, Other]\n")
    with pytest.raises(ConfigurationError, match=r"Hdf5Source: collection 'Other' is not in '.*a\.h5' "
                       r"\(the other 1 input file has it\); valid names: 'Vector'"):
        build_job(path)
    path = job(write_job, tmp_path, files, source="Hdf5Source", extra="  collections: [Vectr, Othr]\n")
    with pytest.raises(ConfigurationError, match=r"'Vectr' is not in any of the 2 input files \('.*a\.h5', "
                       r"'.*b\.h5'\); did you mean 'Vector'\?; collection 'Othr' .*did you mean 'Other'\?"):
        build_job(path)


def test_a_branch_missing_from_one_root_file_is_named_with_the_file(tmp_path, write_job):
    a = root_file(tmp_path / "a.root", 3)
    with uproot.recreate(str(tmp_path / "b.root")) as f:
        f.mktree("events", {"Vectors": (np.float64, (4,))}).extend({"Vectors": np.zeros((2, 4))})
    extra = "  branches: {Vector: Vector}\n"
    path = job(write_job, tmp_path, [a, str(tmp_path / "b.root")], extra=extra)
    with pytest.raises(ConfigurationError, match=r"RootSource: branch 'Vector' is not in '.*b\.root' "
                       r"\(the other 1 input file has it\); did you mean 'Vectors'\?"):
        build_job(path)


def test_root_source_scans_each_file_once_and_workers_skip_the_scan(tmp_path, monkeypatch):
    files = [root_file(tmp_path / f"{k}.root", 3, first=3 * k) for k in range(3)]
    seen = []
    inspect = RootSource.inspect
    monkeypatch.setattr(RootSource, "inspect", lambda self, p: seen.append(p) or inspect(self, p))
    source = RootSource(files=files)
    source.check_inputs()
    items = source.work_items(-1, 2, run=1)
    assert source.provides() == ["Vector", "nParticles", "Particles"] and seen == files
    assert [(i.input, i.first, i.event_offset) for i in items][:3] == [(files[0], 0, 0), (files[0], 2, 0),
                                                                       (files[1], 0, 3)]
    worker = RootSource(files=files)  # a worker opens only the first file, for the key list
    ids, data = worker.read(items[-1])
    assert ids["event"].tolist() == [8] and data["Vector"].tolist() == [[32.0, 33.0, 34.0, 35.0]]
    assert seen == files + files[:1]


def _items_as_list(source, counts, evt_max, chunk, run):
    """The work items as a plain list, built independently of WorkItems (the reference)."""
    from hepreco.framework.io.source import WorkItem

    out, remaining, before = [], evt_max if evt_max >= 0 else sum(n for _, n in counts), 0
    for path, n in counts:
        take = min(n, max(remaining, 0))
        for first in range(0, take, chunk):
            out.append(WorkItem(len(out), source, path, first, min(first + chunk, take), run, before))
        remaining -= take
        before += n
    return out


@pytest.mark.parametrize("evt_max", [-1, 0, 1, 23, 31, 1000])
def test_work_items_are_computed_on_demand_and_equal_the_list_of_chunks(evt_max):
    from hepreco.framework.io.source import items_over_files

    counts = [("a.root", 10), ("empty.root", 0), ("b.root", 7), ("c.root", 14)]
    items = items_over_files("S", counts, evt_max, 4, run=3)
    ref = _items_as_list("S", counts, evt_max, 4, 3)
    assert len(items) == len(ref) and list(items) == ref
    assert [items[k] for k in range(len(ref))] == ref and items[::-1] == ref[::-1] and items[1:3] == ref[1:3]
    if ref:
        assert items[-1] == ref[-1]
    with pytest.raises(IndexError):
        items[len(ref)]


def test_completed_items_are_a_bitmap_of_indices():
    from hepreco.framework.manifest import CompletedItems

    done = CompletedItems()
    for key in ("00003", "00000", "12345", "00003"):
        done.add(key)
    assert len(done) == 3 and "00003" in done and 12345 in done and "00004" not in done and "99999" not in done
    done.discard("00000")
    assert list(done) == ["00003", "12345"] and len(done) == 2
