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


def test_hdf5_reads_only_the_record_fields_asked_for(tmp_path, monkeypatch):
    from hepreco.framework.io import hdf5, read

    ids = make_event_ids(1, np.arange(3))
    jets = ak.Array([[{"pt": 1.5, "c": [1, 2], "image": np.ones((2, 2))}], [],
                     [{"pt": 2.5, "c": [], "image": np.zeros((2, 2))}, {"pt": 3.0, "c": [5], "image": np.eye(2)}]])
    write_hdf5(str(tmp_path / "f.h5"), ids, {"Jets": jets, "Dense": np.arange(3.0)})
    asked = []
    original = hdf5._Buffers.__getitem__
    monkeypatch.setattr(hdf5._Buffers, "__getitem__", lambda self, name: asked.append(name) or original(self, name))
    _, back = read_hdf5(str(tmp_path / "f.h5"), ["Jets"], 1, 3, fields={"Jets": ["c", "no_such_field"]})
    assert ak.fields(back["Jets"]) == ["c"]
    assert back["Jets"].tolist() == [[], [{"c": []}, {"c": [5]}]]
    full = ak.forms.from_json(__import__("h5py").File(tmp_path / "f.h5")["Jets"].attrs["form"])
    pt_key = full.content.content("pt").form_key
    image_keys = {full.content.content("image").form_key, full.content.content("image").content.form_key}
    assert asked and not any(name.startswith((pt_key + "-", *(k + "-" for k in image_keys))) for name in asked)
    events = read(str(tmp_path / "f.h5"), ["Jets"], fields={"Jets": ["pt", "image"]})
    assert ak.fields(events.Jets) == ["pt", "image"]
    assert events.Jets.pt.tolist() == jets.pt.tolist() and events.Jets.image.tolist() == jets.image.tolist()


def test_reading_fields_a_collection_lacks_or_of_a_collection_not_read_is_a_clear_error(tmp_path):
    from hepreco.framework.io import read

    path = str(tmp_path / "f.h5")
    write_hdf5(path, make_event_ids(1, np.arange(2)), {"Jets": ak.Array([[{"m": 1.0, "tau21": 0.5}], []]),
                                                        "Dense": np.arange(2.0)})
    with pytest.raises(ConfigurationError, match=r"collection 'Jets' has no field 'mass' \(in .*f\.h5\); "
                                                 r"did you mean 'm'\?"):
        read(path, fields={"Jets": ["mass"]})
    with pytest.raises(ConfigurationError, match=r"fields names collection 'Jet', which is not read; "
                                                 r"did you mean 'Jets'\?"):
        read(path, ["Jets"], fields={"Jet": ["m"]})
    with pytest.raises(ConfigurationError, match=r"fields must map collections to lists of field names"):
        read(path, fields=["m"])
    with pytest.raises(ConfigurationError, match=r"fields must map collections to lists of field names"):
        read(path, fields={"Jets": "m"})
    with pytest.raises(ConfigurationError, match=r"collection 'Dense' has no field 'x'.*not a collection of records"):
        read(path, fields={"Dense": ["x"]})


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


def test_root_output_writes_lists_inside_records_as_counts_and_flattened_values(tmp_path, hepreco_log):
    import uproot

    from hepreco.framework.io.root import RootOutput, RootSource

    ids = make_event_ids(3, np.array([10, 11, 12, 13]))
    jets = ak.Array([[{"pt": 50.0, "constituents": [0, 2, 5]}, {"pt": 20.0, "constituents": [1]}], [],
                     [{"pt": 30.0, "constituents": []}], [{"pt": 9.0, "constituents": [3, 4]}]])
    layers = ak.from_numpy(np.arange(16, dtype=np.float64).reshape(4, 4), regulararray=True)
    clusters = ak.zip({"e": ak.unflatten(np.array([1.0, 2.0, 3.0, 4.0]), [1, 0, 3, 0]),
                       "layer_energy": ak.unflatten(layers, [1, 0, 3, 0])}, depth_limit=2)
    data = {"Jets": jets, "Clusters": clusters, "Weight": np.array([1.0, 0.5, 2.0, 1.5])}
    out = RootOutput(name="Ntuple")
    with hepreco_log.at_level("WARNING"):
        out.write_part(str(tmp_path / "part-00000.root"), ids, data)
        out.write_part(str(tmp_path / "part-00001.root"), ids[:0], {k: v[:0] for k, v in data.items()})
    assert not hepreco_log.records, "nothing is dropped"

    with uproot.open(tmp_path / "part-00000.root") as f:
        tree = f["events"]
        assert tree.typenames()["Jets_nconstituents"] == "int32_t[]"
        assert tree.typenames()["Jets_constituents"] == "int64_t[]"
        assert tree["Jets_constituents"].array().tolist() == [[0, 2, 5, 1], [], [], [3, 4]]
        assert tree["Jets_nconstituents"].array().tolist() == [[3, 1], [], [0], [2]]
        assert tree["Clusters_nlayer_energy"].array().tolist() == [[4], [], [4, 4, 4], []]

    source = RootSource(name="Reader", files=[str(tmp_path)])
    assert sorted(k for k in source.provides() if not k.startswith("n")) == ["Clusters", "Jets", "Weight"]
    items = source.work_items(-1, 10, 1)
    assert [(it.first, it.last) for it in items] == [(0, 4)]
    back_ids, back = source.read(items[0])
    assert back_ids.tolist() == ids.tolist()
    assert back["Jets"].tolist() == jets.tolist()
    assert ak.fields(back["Jets"]) == ["pt", "constituents"]
    assert back["Clusters"].tolist() == clusters.tolist()
    assert back["Weight"].tolist() == data["Weight"].tolist()
    # fields of ROOT parts: the collection cut to them, or the field it lacks named
    from hepreco.framework.io import read

    cut = read(str(tmp_path / "part-00000.root"), ["Jets"], fields={"Jets": ["constituents"]})
    assert cut.Jets.tolist() == jets[["constituents"]].tolist()
    with pytest.raises(ConfigurationError, match=r"collection 'Jets' has no field 'ptt' .*did you mean 'pt'\?"):
        read(str(tmp_path / "part-00000.root"), ["Jets"], fields={"Jets": ["ptt"]})


def test_root_output_writes_records_of_records_per_event_as_flat_branches(tmp_path, hepreco_log):
    import uproot

    from hepreco.framework.io.root import RootOutput

    ids = make_event_ids(1, np.array([1, 2]))
    decision = ak.Array([{"L1": {"accept": True, "after_prescale": {"L1_J100": True, "L1_XE50": False},
                                 "prescale": {"L1_J100": 1.0, "L1_XE50": 2.5}}, "streams": {"physics": True}},
                         {"L1": {"accept": False, "after_prescale": {"L1_J100": False, "L1_XE50": False},
                                 "prescale": {"L1_J100": 1.0, "L1_XE50": 2.5}}, "streams": {"physics": False}}])
    with hepreco_log.at_level("WARNING"):
        RootOutput(name="Trig").write_part(str(tmp_path / "a.root"), ids, {"TriggerDecision": decision})
    assert not hepreco_log.records
    with uproot.open(tmp_path / "a.root") as f:
        tree = f["events"]
        assert sorted(k for k in tree.keys() if k.startswith("TriggerDecision")) == [
            "TriggerDecision_L1_accept", "TriggerDecision_L1_after_prescale_L1_J100",
            "TriggerDecision_L1_after_prescale_L1_XE50", "TriggerDecision_L1_prescale_L1_J100",
            "TriggerDecision_L1_prescale_L1_XE50", "TriggerDecision_streams_physics"]
        assert tree["TriggerDecision_L1_after_prescale_L1_J100"].array().tolist() == [True, False]
        assert tree["TriggerDecision_L1_prescale_L1_XE50"].array().tolist() == [2.5, 2.5]


def test_root_output_still_warns_once_about_fields_nested_deeper(tmp_path, hepreco_log):
    from hepreco.framework.io.root import RootOutput

    ids = make_event_ids(1, np.array([1, 2]))
    deep = ak.Array([[{"pt": 1.0, "hits": [[1], [2, 3]]}], []])
    out = RootOutput(name="Deep")
    with hepreco_log.at_level("WARNING"):
        out.write_part(str(tmp_path / "a.root"), ids, {"Tracks": deep})
        out.write_part(str(tmp_path / "b.root"), ids, {"Tracks": deep})
    assert [r.getMessage() for r in hepreco_log.records] == [
        "RootOutput: fields ['hits'] of 'Tracks' are nested deeper than a list per object, which a TTree cannot "
        "hold; not written (Hdf5Output keeps them)"]
