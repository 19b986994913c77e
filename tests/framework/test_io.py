"""Output streams and sources: a later job reads what an earlier job wrote."""
import awkward as ak
import numpy as np
import pytest

from hepreco.framework import ConfigurationError
from hepreco.framework.io.hdf5 import read_hdf5, write_hdf5
from hepreco.framework.event_store import make_event_ids

from ..conftest import run_job
from .outputs import hdf5_stream, root_stream

READER = """\
job: {{evt_max: -1, chunk_size: {chunk}, output_dir: {out}, progress: false, plugins: [tests.framework.components]}}
source:
  type: {source}
  files: [{files}]
algorithms:
  - {{type: Counter, particles: HardParticles}}
outputs:
  - {{type: Hdf5Output, name: Copy, collections: [HardParticles, SumPt, SmearedVector, LeadPt, NParticles]}}
"""


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    from ..conftest import TOY_JOB

    base = tmp_path_factory.mktemp("written")
    path = base / "job.yaml"
    path.write_text(TOY_JOB.format(evt_max=50, chunk_size=20, out=base / "out"))
    report = run_job(str(path))
    return str(base / "out"), report


@pytest.mark.parametrize("source,stream", [("RootSource", "Root"), ("Hdf5Source", "H5")])
def test_second_job_reads_first_jobs_output(written, tmp_path, write_job, source, stream):
    out, report = written
    files = f"{out}/{stream}"
    reader = write_job(READER.format(chunk=7, out=tmp_path / "copy", source=source, files=files))
    copy_report = run_job(reader)
    original = root_stream(out, stream) if stream == "Root" else hdf5_stream(out, stream)
    copied = hdf5_stream(str(tmp_path / "copy"), "Copy")
    n = len(original["event"])
    assert copy_report["events"]["read"] == n and n == (report["decisions"]["Selected"] if stream == "Root" else 50)
    assert copied["event"] == original["event"] and copied["run"] == original["run"]
    for key in ("HardParticles", "SumPt", "SmearedVector"):
        assert copied[key] == original[key], key
    # the per-event slow path saw the same events
    assert copied["NParticles"] == [len(p) for p in original["HardParticles"]]
    assert copied["LeadPt"] == [max((x["pt"] for x in p), default=0.0) for p in original["HardParticles"]]


def test_hdf5_round_trip_is_exact_for_any_awkward_layout(tmp_path):
    ids = make_event_ids(4, np.array([7, 8, 9]))
    data = {
        "Jets": ak.Array([[{"pt": 1.5, "c": [1, 2]}], [], [{"pt": 2.5, "c": []}, {"pt": 3.0, "c": [5]}]]),
        "Maybe": ak.Array([None, {"x": 1}, {"x": 2}]),
        "Dense": np.arange(12, dtype=np.float32).reshape(3, 4),
    }
    write_hdf5(str(tmp_path / "f.h5"), ids, data)
    back_ids, back = read_hdf5(str(tmp_path / "f.h5"), start=1, stop=3)
    assert back_ids.tolist() == ids[1:].tolist()
    assert back["Jets"].tolist() == data["Jets"][1:].tolist()
    assert back["Maybe"].tolist() == data["Maybe"][1:].tolist()
    assert back["Dense"].dtype == np.float32 and (back["Dense"] == data["Dense"][1:]).all()


def test_missing_input_files_are_a_clear_error(tmp_path, write_job):
    reader = write_job(READER.format(chunk=7, out=tmp_path / "x", source="RootSource", files=tmp_path / "none*.root"))
    with pytest.raises(ConfigurationError, match=r"RootSource: no input file matches '.*none\*\.root'"):
        run_job(reader)


@pytest.mark.parametrize("compression,expected", [("none", None), ("''", None), ("gzip", "gzip")])
def test_hdf5_output_compression_none_writes_uncompressed_datasets(tmp_path, write_job, compression, expected):
    import glob

    import h5py

    path = write_job(f"job: {{evt_max: 6, chunk_size: 6, output_dir: {tmp_path / 'out'}, progress: false, "
                     "plugins: [tests.framework.components]}\nsource: {type: ToySource}\n"
                     "algorithms:\n  - {type: SumPt}\n"
                     f"outputs:\n  - {{type: Hdf5Output, name: H5, compression: {compression}, "
                     "collections: [SumPt, Vector, Particles]}\n")
    assert run_job(path)["status"] == "ok"
    [part] = glob.glob(str(tmp_path / "out" / "H5" / "*.h5"))
    with h5py.File(part) as f:
        assert f["SumPt"].compression == expected and f["Vector"].compression == expected
        assert len(f["SumPt"]) == 6
