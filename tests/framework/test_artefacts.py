"""Artefacts: search order, versions, sha256 pins, checks at build time, hashes, provenance, report, install."""
import glob
import hashlib
import json
import os

import numpy as np
import pytest

from hepreco.framework import ArtefactError, ConfigurationError, MissingArtefact, PropertyError
from hepreco.framework.artefacts import describe_file, install, read_metadata, write_metadata
from hepreco.framework.cli import main
from hepreco.framework.event_store import EventStore, make_event_ids
from hepreco.framework.io.hdf5 import read_hdf5
from hepreco.framework.job import Processor

from ..conftest import build_job, run_job
from . import artefact_plugin

PLUGIN_FILE = os.path.join(artefact_plugin.DATA, "toy-scale-up.json")
JOB = """\
job: {{evt_max: 6, chunk_size: 3, output_dir: {out}, progress: false,
       plugins: [tests.framework.components, tests.framework.artefact_plugin]}}
source: {{type: ToySource}}
algorithms:
  - type: ScaleVector{extra}
outputs:
  - {{type: Hdf5Output, name: H5, collections: [ScaledVector, Vector]}}
"""


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def toy_artefact(folder, scale, name="toy-scale-up", version=1, kind="scale", schema="toy-scale/1",
                 flavour="up", file=None):
    """Write a JSON scale artefact with its sidecar; return its path."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(str(folder), file or f"{name}-v{version}.json")
    with open(path, "w") as f:
        json.dump({"scale": scale}, f)
    write_metadata(path, {"name": name, "version": version, "kind": kind, "schema": schema, "flavour": flavour})
    return path


@pytest.fixture
def user(tmp_path, monkeypatch):
    folder = tmp_path / "user-artefacts"
    monkeypatch.setenv("HEPRECO_ARTEFACTS", str(folder))
    return folder


@pytest.fixture
def job(write_job, tmp_path, user):
    def make(extra=""):
        return write_job(JOB.format(out=tmp_path / "out", extra=extra))
    return make


def scaled(out):
    parts = sorted(glob.glob(os.path.join(str(out), "H5", "part-*.h5")))
    data = [read_hdf5(p)[1] for p in parts]
    return np.concatenate([d["ScaledVector"] for d in data]), np.concatenate([d["Vector"] for d in data])


def test_named_artefact_from_a_plugin_is_applied_and_recorded_in_the_report(job, tmp_path):
    report = run_job(job())
    art = report["artefacts"]["ScaleVector.scale"]
    assert art == {"name": "toy-scale-up", "version": 1, "kind": "scale", "schema": "toy-scale/1", "geometry": "",
                   "sha256": sha256(PLUGIN_FILE), "path": PLUGIN_FILE,
                   "origin": "plugin tests.framework.artefact_plugin"}
    out, vector = scaled(tmp_path / "out")
    np.testing.assert_array_equal(out, 2.0 * vector)
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["artefacts"]["ScaleVector.scale"]["sha256"] == sha256(PLUGIN_FILE)


def test_user_folder_comes_before_plugins_highest_version_first_and_a_path_before_all(job, user, tmp_path):
    install(toy_artefact(tmp_path / "derived", 3.0, version=1))
    install(toy_artefact(tmp_path / "derived", 5.0, version=2))
    assert sorted(os.listdir(user)) == ["toy-scale-up@1.json", "toy-scale-up@1.json.json",
                                        "toy-scale-up@2.json", "toy-scale-up@2.json.json"]
    latest = build_job(job()).artefacts()["ScaleVector.scale"]
    assert (latest.origin, latest.version, latest.path) == ("user", 2, str(user / "toy-scale-up@2.json"))
    first = build_job(job(), "ScaleVector.scale=toy-scale-up@1").artefacts()["ScaleVector.scale"]
    assert (first.origin, first.version) == ("user", 1)
    given = toy_artefact(tmp_path / "elsewhere", 7.0, version=9)
    by_path = build_job(job(), f"ScaleVector.scale={given}").artefacts()["ScaleVector.scale"]
    assert (by_path.origin, by_path.version, by_path.sha256) == ("job", 9, sha256(given))


def test_the_run_summary_says_when_an_artefact_comes_from_the_users_folder(job, user, tmp_path):
    from hepreco.framework.report import summary

    assert "artefact folder" not in summary(run_job(job()))  # the plugin's own
    install(toy_artefact(tmp_path / "derived", 3.0, version=1))  # same name and version: takes its place
    text = summary(run_job(job(), "job.output_dir=" + str(tmp_path / "again")))
    assert "  artefact toy-scale-up@1 for ScaleVector.scale from your artefact folder (hepreco artefacts list)" in text


def test_artefact_content_is_part_of_the_configuration_hash(job, tmp_path):
    plugin_hash = build_job(job()).config_hash()
    assert build_job(job()).config_hash() == plugin_hash
    install(toy_artefact(tmp_path / "derived", 3.0))  # same name and version, other content, shadows the plugin's
    assert build_job(job()).config_hash() != plugin_hash


def test_products_record_the_artefacts_of_their_producer(job, tmp_path):
    jobs = [build_job(job()), build_job(job(), f"ScaleVector.scale={toy_artefact(tmp_path / 'b', 3.0)}")]
    hashes = []
    for built in jobs:
        alg = built.algorithms()[0]
        alg.initialize()
        store = EventStore(make_event_ids(1, np.arange(3)))
        store.put("Vector", np.ones((3, 4)), "ToySource")
        alg.execute(store.view(producer=alg))
        prov = store.provenance("ScaledVector")
        art = alg.artefact("scale")
        assert prov.producer == "ScaleVector" and prov.artefacts == (("toy-scale-up@1", art.sha256),)
        assert prov.config_hash == alg.config_hash()
        hashes.append(prov.config_hash)
    assert hashes[0] != hashes[1]  # same settings, other artefact content


def test_an_artefact_is_loaded_once_per_process(write_job, tmp_path, user):
    path = toy_artefact(tmp_path / "once", 7.25)
    text = JOB.format(out=tmp_path / "out", extra=f"\n    scale: {path}")
    text = text.replace("outputs:\n", f"  - {{type: ScaleVector, name: Again, scaled: ScaledAgain, scale: {path}}}\n"
                                      "outputs:\n")
    before = artefact_plugin.LOADS.count(path)
    run_job(write_job(text))
    assert artefact_plugin.LOADS.count(path) - before == 1  # two algorithms, two chunks, one load


def test_missing_artefact_names_it_the_places_searched_and_the_command_that_derives_it(job, user):
    with pytest.raises(MissingArtefact, match=r"job.yaml:\d+: ScaleVector.scale: no artefact toy-scale-down: not found "
                                              r"in user .*user-artefacts; plugin tests.framework.artefact_plugin "
                                              r".*artefact_data; builtin .*clusters/data; builtin .*jets/data; builtin .*ml/data; did you "
                                              r"mean 'toy-scale-up'\?; derive it with "
                                              r"'hepreco run derive_scale.yaml --set job.flavour=down' and install "
                                              r"it with 'hepreco artefacts install FILE'"):
        build_job(job("\n    flavour: down"))
    with pytest.raises(MissingArtefact, match=r"no artefact toy-scale-up@3: not found"):
        build_job(job("\n    scale: toy-scale-up@3"))


def test_validate_reports_a_missing_artefact_without_processing(job, capsys):
    assert main(["validate", job("\n    scale: /nowhere/scale.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hepreco: error: ") and "job.yaml:6: ScaleVector.scale: no artefact /nowhere/scale.json: " \
        "the file '/nowhere/scale.json' does not exist" in err and "Traceback" not in err


def test_validate_lists_the_resolved_artefacts(job, capsys):
    assert main(["validate", job()]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == (f"  artefact ScaleVector.scale = toy-scale-up@1 (scale, sha256 {sha256(PLUGIN_FILE)[:12]}, "
                        f"plugin tests.framework.artefact_plugin: {PLUGIN_FILE})")


def test_corrupt_artefact_is_refused_by_its_pinned_sha256(job, tmp_path):
    path = toy_artefact(tmp_path / "pinned", 3.0)
    pin = sha256(path)
    assert build_job(job(f"\n    scale: {{path: {path}, sha256: {pin}}}")).artefacts()["ScaleVector.scale"].sha256 == pin
    with open(path, "w") as f:
        json.dump({"scale": 30.0}, f)  # changed behind the job's back
    with pytest.raises(ArtefactError, match=rf"job.yaml:\d+: ScaleVector.scale: artefact toy-scale-up@1 at .*pinned/"
                                            rf"toy-scale-up-v1.json has sha256 {sha256(path)}, but the job pins "
                                            rf"{pin}; the file is corrupt"):
        build_job(job(f"\n    scale: {{path: {path}, sha256: {pin}}}"))
    with pytest.raises(ArtefactError, match="but the job pins 0123abcd"):
        build_job(job("\n    scale: {name: toy-scale-up, version: 1, sha256: 0123ABCD}"))


def test_unreadable_artefact_or_file_without_metadata_is_refused(job, tmp_path):
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an HDF5 file at all")
    with pytest.raises(ArtefactError, match=r"job.yaml:\d+: artefact file '.*garbage.h5' cannot be read: OSError"):
        build_job(job(f"\n    scale: {garbage}"))
    bare = tmp_path / "bare.json"
    bare.write_text('{"scale": 1.0}')
    with pytest.raises(ArtefactError, match=r"'.*bare.json' is not a hepreco artefact: it has no metadata"):
        build_job(job(f"\n    scale: {bare}"))


def test_a_folder_given_as_artefact_names_the_artefact_files_inside(tmp_path):
    folder = tmp_path / "training"
    folder.mkdir()
    (folder / "loss.png").write_bytes(b"png")
    (folder / "metrics.json").write_text("{}")
    with pytest.raises(ArtefactError, match=r"'.*training' is a folder, not an artefact file; it holds no artefact"):
        describe_file(str(folder))
    weights = folder / "model@1.bin"
    weights.write_bytes(b"w")
    write_metadata(str(weights), {"name": "model", "version": 1, "kind": "scale", "schema": "s/1"})
    with pytest.raises(ArtefactError, match=r"is a folder, not an artefact file; give the artefact file inside it: "
                                            r"'.*training/model@1\.bin'$"):
        describe_file(str(folder))


def test_artefact_of_another_kind_schema_or_context_is_refused(job, tmp_path):
    cases = [(dict(kind="weights"), r"toy-scale-up@1 at .* is a 'weights' artefact; "
                                    r"ScaleVector.scale needs a 'scale' artefact"),
             (dict(schema="toy-scale/2"), r"has schema 'toy-scale/2'; this version of hepreco reads 'toy-scale/1'"),
             (dict(flavour="down"), r"toy-scale-up@1 was made for flavour 'down' \(metadata of .*\), not for 'up', "
                                    r"the flavour of this job")]
    for i, (meta, message) in enumerate(cases):
        path = toy_artefact(tmp_path / f"case{i}", 1.0, **meta)
        with pytest.raises(ArtefactError, match=r"job.yaml:6: ScaleVector.scale: .*" + message):
            build_job(job(f"\n    scale: {path}"))


def test_malformed_artefact_values_are_property_errors_at_their_line(job):
    with pytest.raises(PropertyError, match=r"job.yaml:6: ScaleVector.scale: give either 'name' or 'path'"):
        build_job(job("\n    scale: {name: a, path: b.json}"))
    with pytest.raises(PropertyError, match=r"artefact version must be a positive integer, got 'x'"):
        build_job(job("\n    scale: toy-scale-up@x"))


def test_a_worker_that_resolves_other_content_than_the_client_refuses_to_run(job, tmp_path):
    built = build_job(job())
    with pytest.raises(ConfigurationError, match=r"ScaleVector.scale: this worker \(.*\) resolved the artefact to "
                                                 r".*toy-scale-up.json \(sha256 [0-9a-f]{64}\), the client to sha256 "
                                                 r"0{64}"):
        Processor(built.resolved(), str(tmp_path / "out"), {"ScaleVector.scale": "0" * 64})


def test_install_copies_into_the_user_folder_and_refuses_to_replace_other_content(user, tmp_path):
    path = toy_artefact(tmp_path / "derived", 3.0)
    target = install(path)
    assert target == str(user / "toy-scale-up@1.json") and sha256(target) == sha256(path)
    assert read_metadata(target)["name"] == "toy-scale-up"
    assert install(path) == target  # the same content again: nothing to do
    other = toy_artefact(tmp_path / "other", 4.0)
    with pytest.raises(ConfigurationError, match=r"toy-scale-up@1.json already holds another toy-scale-up@1 "
                                                 r"\(sha256 [0-9a-f]{12}\); give the new one another version, or use "
                                                 r"--force"):
        install(other)
    assert install(other, force=True) == target and sha256(target) == sha256(other)
    assert describe_file(target).origin == "job"


def test_cli_lists_shows_and_installs_artefacts(user, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HEPRECO_PLUGINS", "tests.framework.artefact_plugin")
    derived = toy_artefact(tmp_path / "output", 3.0, version=2)
    assert main(["artefacts", "install", derived]) == 0
    assert capsys.readouterr().out == (f"installed toy-scale-up@2 (scale, sha256 {sha256(derived)[:12]}) as "
                                       f"{user / 'toy-scale-up@2.json'}\n")
    assert main(["artefacts"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == ["NAME", "VERSION", "KIND", "GEOMETRY", "SHA256", "WHERE", "PATH"]
    assert rows[1] == ["toy-scale-up", "2", "scale", "-", sha256(derived)[:12], "user", str(user / "toy-scale-up@2.json")]
    assert rows[2][:5] == ["toy-scale-up", "1", "scale", "-", sha256(PLUGIN_FILE)[:12]]
    assert rows[2][5:] == ["plugin", "tests.framework.artefact_plugin", PLUGIN_FILE]
    assert ["lcw-small", "1", "lcw", "small"] == next(r for r in rows if r[0] == "lcw-small")[:4]
    assert main(["artefacts", "show", "toy-scale-up@1"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["where"] == "plugin tests.framework.artefact_plugin" and shown["sha256"] == sha256(PLUGIN_FILE)
    assert shown["derived"] == {"job": "hand-written for the tests"} and shown["flavour"] == "up"
    assert main(["artefacts", "show", "toy-scale-up"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == 2  # the user's folder comes first
    assert main(["artefacts", "show", "toy-scale-dn"]) == 2
    assert "hepreco: error: artefacts show: no artefact toy-scale-dn: did you mean 'toy-scale-up'" in \
        capsys.readouterr().err
