"""Output folders: a job writes only inside its output folder, never where it reads, never over an earlier run
unless asked, leaves only parts its manifest lists, and reports a folder it cannot write in one line."""
import errno
import glob
import hashlib
import json
import os
import re
import subprocess
import sys

import pytest

from hepreco.framework import ConfigurationError
from hepreco.framework.errors import JobAborted, OutputError
from hepreco.framework.io.hdf5 import Hdf5Output

from ..conftest import run_job
from .outputs import hdf5_stream, root_stream


def cli(*args):
    return subprocess.run([sys.executable, "-m", "hepreco.framework.cli", *args], capture_output=True, text=True,
                          timeout=300)


def files_under(folder):
    """Every file below ``folder`` (relative path -> sha256), the job's state folder left out."""
    found = {}
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d != ".hepreco"]
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return found


def listed_parts(out):
    with open(os.path.join(out, "manifest.json")) as f:
        return {p["file"] for item in json.load(f)["items"].values() for p in item["parts"]}


def on_disk_parts(out, *streams):
    return {os.path.relpath(p, out) for s in streams for p in glob.glob(os.path.join(out, s, "*"))}


COPY = """\
job: {{evt_max: -1, chunk_size: 7, output_dir: {out}, progress: false, plugins: [tests.framework.components]}}
source:
  type: Hdf5Source
  files: [{files}]
algorithms:
  - {{type: Counter, particles: HardParticles}}
outputs:
  - type: Hdf5Output
    name: {stream}
    collections: [HardParticles, NParticles]
"""


@pytest.fixture
def first_run(toy_job, tmp_path):
    out = str(tmp_path / "first")
    run_job(toy_job(out, evt_max=30, chunk_size=10))
    return out


# -- where a job writes ---------------------------------------------------------------
@pytest.mark.parametrize("files,stream,out", [
    ("{first}/H5", "H5", "{first}"),                  # the stream's folder is the source's folder
    ("{first}/H5/*.h5", "H5", "{first}"),             # ... named by a glob pattern
    ("{first}/H5/part-00000.h5", "H5", "{first}"),    # ... or by one of its files
    ("{first}", "Copy", "{first}/copy"),              # a folder read recursively holds the output folder
])
def test_stream_writing_where_the_source_reads_is_refused_before_any_file_is_touched(
        first_run, write_job, files, stream, out):
    before = files_under(first_run)
    job = write_job(COPY.format(out=out.format(first=first_run), files=files.format(first=first_run),
                                stream=stream))
    with pytest.raises(ConfigurationError, match=rf"job\.yaml:8: output stream '{stream}' would write its parts "
                                                 rf"into .*/{stream}, which source 'Hdf5Source' reads .*choose "
                                                 "another job.output_dir"):
        run_job(job)
    assert files_under(first_run) == before


def test_hepreco_validate_refuses_a_stream_writing_into_the_input(first_run, write_job):
    job = write_job(COPY.format(out=first_run, files=f"{first_run}/H5", stream="H5"))
    proc = cli("validate", job)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"hepreco: error: {job}:8: output stream 'H5' would write its parts into")


def test_reading_a_sibling_stream_of_the_same_folder_is_allowed(first_run, write_job, tmp_path):
    job = write_job(COPY.format(out=tmp_path / "copy", files=f"{first_run}/H5", stream="H5"))
    assert run_job(job)["status"] == "ok"
    assert hdf5_stream(str(tmp_path / "copy"), "H5")["event"] == list(range(30))


NAMED = """\
job: {{evt_max: 10, chunk_size: 5, output_dir: {out}, progress: false, plugins: [tests.framework.components]}}
source: {{type: ToySource}}
algorithms:
  - type: SumPt
    name: {alg}
services:
  {svc}: {{}}
outputs:
  - type: Hdf5Output
    name: {stream}
    collections: [Particles]
"""


@pytest.mark.parametrize("alg,svc,stream,line,what,bad", [
    ("SumPt", "MessageSvc", "../victim", 10, "output stream", "../victim"),
    ("SumPt", "MessageSvc", "a/b", 10, "output stream", "a/b"),
    ("SumPt", "MessageSvc", "..", 10, "output stream", ".."),
    ("../../Sum", "MessageSvc", "H5", 5, "algorithm", "../../Sum"),
    ("SumPt", "Msg/../Svc", "H5", 7, "service", "Msg/../Svc"),
])
def test_instance_names_must_be_plain_names(write_job, tmp_path, alg, svc, stream, line, what, bad):
    job = write_job(NAMED.format(out=tmp_path / "out", alg=alg, svc=svc, stream=stream))
    with pytest.raises(ConfigurationError, match=rf"job\.yaml:{line}: {what} name '{re.escape(bad)}' "
                                                 r"is not a plain name: names become file and folder names"):
        run_job(job)
    assert sorted(os.listdir(tmp_path)) == ["job.yaml"], "nothing is written"


def test_names_with_dots_and_dashes_are_accepted(write_job, tmp_path):
    job = write_job(NAMED.format(out=tmp_path / "out", alg="Sum-Pt.v2", svc="MessageSvc", stream="H5_v1.2-x"))
    run_job(job)
    assert sorted(os.listdir(tmp_path / "out" / "H5_v1.2-x")) == ["part-00000.h5", "part-00001.h5"]


# -- an earlier run in the output folder --------------------------------------------------
def test_rerun_into_a_finished_run_is_refused_and_keeps_its_files(toy_job, first_run):
    before = files_under(first_run)
    with pytest.raises(ConfigurationError, match=r"output folder .*/first already holds the output of an earlier "
                                                 r"run \(complete, 3 work item\(s\)\); rerun with --resume to "
                                                 r"continue it, or with --overwrite to replace it"):
        run_job(toy_job(first_run, evt_max=30, chunk_size=10))
    assert files_under(first_run) == before


def test_cli_refuses_a_rerun_and_overwrite_replaces_it(toy_job, first_run):
    job = toy_job(first_run, evt_max=20, chunk_size=10)
    proc = cli("run", job, "--quiet")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("hepreco: error: output folder") and "--resume" in proc.stderr \
        and "--overwrite" in proc.stderr
    proc = cli("run", job, "--quiet", "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(os.path.join(first_run, "H5"))) == ["part-00000.h5", "part-00001.h5"]
    assert listed_parts(first_run) == on_disk_parts(first_run, "H5", "Root")
    proc = cli("run", job, "--resume", "--overwrite")
    assert proc.returncode == 2 and "not allowed with argument" in proc.stderr


def test_overwrite_never_deletes_files_the_job_did_not_write(toy_job, first_run):
    mine = os.path.join(first_run, "H5", "my-own.h5")
    with open(mine, "w") as f:
        f.write("not a part")
    before = files_under(first_run)
    with pytest.raises(ConfigurationError, match=r"output folder .*/first/H5 holds files this job did not write "
                                                 r"\(my-own\.h5\).*move them away or choose another --output-dir"):
        run_job(toy_job(first_run, evt_max=30, chunk_size=10), overwrite=True)
    assert files_under(first_run) == before


def test_fresh_folder_with_foreign_files_in_a_stream_folder_is_refused(toy_job, tmp_path):
    out = tmp_path / "fresh"
    (out / "Root").mkdir(parents=True)
    (out / "Root" / "part-00000.root").write_text("someone else's")
    with pytest.raises(ConfigurationError, match=r"Root holds files this job did not write \(part-00000\.root\)"):
        run_job(toy_job(str(out), evt_max=20, chunk_size=10))
    assert (out / "Root" / "part-00000.root").read_text() == "someone else's"


# -- aborted jobs leave only listed parts ----------------------------------------------------
@pytest.mark.parametrize("executor", ["sequential", "processes"])
def test_aborted_job_leaves_only_parts_its_manifest_lists(toy_job, tmp_path, executor):
    out = str(tmp_path / "abort")
    algs = ("  - {type: Exploder, bad_events: [27], on_error: abort}\n"
            "  - {type: Sleep, seconds: 0.3}\n")
    with pytest.raises(JobAborted):
        run_job(toy_job(out, evt_max=40, chunk_size=5, algorithms=algs), f"job.executor={executor}",
                "job.workers=2")
    listed = listed_parts(out)
    assert on_disk_parts(out, "H5", "Root") == listed
    assert "H5/part-00000.h5" in listed and "H5/part-00005.h5" not in listed
    # a reader of the folder sees exactly the recorded items' events (with two workers the recorded
    # items need not be a prefix: one worker may finish item 3 while the other is still on item 2)
    items = sorted(int(f[len("H5/part-"):-len(".h5")]) for f in listed if f.startswith("H5/"))
    assert hdf5_stream(out, "H5")["event"] == [e for i in items for e in range(5 * i, 5 * i + 5)]


# -- resume checks what it reuses ------------------------------------------------------------
def test_resume_reruns_items_whose_parts_are_missing_or_damaged(toy_job, tmp_path, capsys):
    ref = str(tmp_path / "ref")
    run_job(toy_job(ref, evt_max=40, chunk_size=10))
    out = str(tmp_path / "out")
    job = toy_job(out, evt_max=40, chunk_size=10)
    run_job(job)
    os.remove(os.path.join(out, "H5", "part-00001.h5"))
    truncated = os.path.join(out, "Root", "part-00002.root")
    size = os.path.getsize(truncated)
    with open(truncated, "r+b") as f:
        f.truncate(size // 2)
    flipped = os.path.join(out, "H5", "part-00003.h5")
    with open(flipped, "r+b") as f:
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last[0] ^ 0xFF]))
    capsys.readouterr()

    report = run_job(job, resume=True)
    err = capsys.readouterr().err
    assert (f"hepreco: resume: 3 part(s) of earlier items are missing or damaged (H5/part-00001.h5: missing; "
            f"Root/part-00002.root: {size // 2} bytes instead of {size}; H5/part-00003.h5: checksum differs); "
            "running their 3 work item(s) again") in err
    assert report["status"] == "ok"
    assert report["items"]["resumed"] == 1 and report["items"]["rerun"] == 3
    assert report["events"]["processed"] == 30
    assert {d["file"] for d in report["damaged_parts"]} == {"H5/part-00001.h5", "Root/part-00002.root",
                                                            "H5/part-00003.h5"}
    assert root_stream(out, "Root") == root_stream(ref, "Root")
    assert hdf5_stream(out, "H5") == hdf5_stream(ref, "H5")
    with open(os.path.join(out, "manifest.json")) as f:
        listed = [p for item in json.load(f)["items"].values() for p in item["parts"]]
    assert len(listed) == 8 and [o["files"] for o in report["outputs"]] == [4, 4]
    for part in listed:  # the manifest's checksums are those of the files now on disk
        with open(os.path.join(out, part["file"]), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == part["sha256"], part["file"]
    # a second resume finds everything intact
    again = run_job(job, resume=True)
    assert again["items"]["resumed"] == 4 and again["items"]["rerun"] == 0 and again["damaged_parts"] == []


# -- output folders that cannot be written -----------------------------------------------------
def test_a_file_where_the_output_folder_should_be_is_one_clear_line(toy_job, tmp_path):
    out = tmp_path / "out"
    out.write_text("in the way")
    proc = cli("run", toy_job(str(out), evt_max=10, chunk_size=5), "--quiet")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr  # an input/output failure, not a usage error
    assert proc.stderr.strip().splitlines() == [
        f"hepreco: error: cannot write output folder {out}: File exists ({out}); a file is in the way where a "
        "folder should be: remove it or choose another --output-dir"]
    assert out.read_text() == "in the way"


def test_a_file_where_a_stream_folder_should_be_is_refused_before_processing(toy_job, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "H5").write_text("in the way")
    with pytest.raises(OutputError, match=r"cannot write output folder .*/out: File exists \(.*/out/H5\); a file "
                                          "is in the way") as info:
        run_job(toy_job(str(out), evt_max=10, chunk_size=5))
    assert info.value.errno == errno.EEXIST
    assert not (out / "Root").exists() or os.listdir(out / "Root") == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_output_folder_without_write_permission_is_one_clear_line(toy_job, tmp_path):
    out = tmp_path / "locked"
    out.mkdir()
    out.chmod(0o500)
    try:
        proc = cli("run", toy_job(str(out), evt_max=10, chunk_size=5), "--quiet")
    finally:
        out.chmod(0o700)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"hepreco: error: cannot write output folder {out}: Permission denied")


def failing_writes(monkeypatch, fail_from: int, code: int):
    """Make Hdf5Output's part writes fail with ``code`` from the ``fail_from``-th call on (half a file written)."""
    original = Hdf5Output.write_part
    calls = []

    def write_part(self, path, event_ids, data):
        calls.append(path)
        if len(calls) >= fail_from:
            with open(path, "wb") as f:
                f.write(b"\0" * 100)
            raise OSError(code, os.strerror(code), path)
        original(self, path, event_ids, data)

    monkeypatch.setattr(Hdf5Output, "write_part", write_part)
    return calls


def test_no_permission_while_writing_a_part_is_one_clear_error(toy_job, tmp_path, monkeypatch):
    failing_writes(monkeypatch, 1, errno.EACCES)
    out = tmp_path / "out"
    with pytest.raises(OutputError, match=r"cannot write output folder .*/out: Permission denied "
                                          r"\(.*/out/H5/part-00000\.h5\.tmp\d+\); no permission to write there"):
        run_job(toy_job(str(out), evt_max=10, chunk_size=5))
    assert on_disk_parts(str(out), "H5", "Root") == set()


def test_full_disk_leaves_nothing_stray_and_resume_continues(toy_job, tmp_path, monkeypatch):
    ref = str(tmp_path / "ref")
    run_job(toy_job(ref, evt_max=40, chunk_size=10))
    out = str(tmp_path / "out")
    job = toy_job(out, evt_max=40, chunk_size=10)
    failing_writes(monkeypatch, 3, errno.ENOSPC)
    with pytest.raises(OutputError, match=r"cannot write output folder .*/out: No space left on device .*the disk "
                                          r"is full: free some space, then rerun with --resume to continue"):
        run_job(job)
    assert not [f for f in files_under(out) if ".tmp" in f]
    assert listed_parts(out) == on_disk_parts(out, "H5", "Root") and len(listed_parts(out)) == 4

    monkeypatch.undo()  # space is back
    report = run_job(job, resume=True)
    assert report["status"] == "ok" and report["items"]["resumed"] == 2
    assert root_stream(out, "Root") == root_stream(ref, "Root")
    assert hdf5_stream(out, "H5") == hdf5_stream(ref, "H5")


def test_full_disk_while_saving_the_manifest_leaves_no_temporary_file(toy_job, tmp_path, monkeypatch):
    import hepreco.framework.manifest as manifest

    original = os.replace

    def replace(src, dst, *args, **kwargs):
        if str(dst).endswith("manifest.json"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src))
        return original(src, dst, *args, **kwargs)

    monkeypatch.setattr(manifest.os, "replace", replace)
    out = str(tmp_path / "out")
    job = toy_job(out, evt_max=20, chunk_size=10)
    with pytest.raises(OutputError, match="No space left on device"):
        run_job(job)
    assert not [f for f in files_under(out) if ".tmp" in f]
    monkeypatch.undo()
    report = run_job(job, resume=True)
    assert report["status"] == "ok" and report["events"]["read"] == 20


@pytest.mark.parametrize("code,hint", [
    (errno.ENOSPC, "the disk is full: free some space, then rerun with --resume to continue"),
    (errno.EROFS, "the file system is read-only: choose another --output-dir"),
    (errno.EACCES, "no permission to write there: fix the folder's permissions or choose another --output-dir"),
    (errno.ENOTDIR, "a file is in the way where a folder should be: remove it or choose another --output-dir"),
])
def test_output_error_says_what_to_do_and_crosses_process_boundaries(code, hint):
    import pickle

    err = OutputError.from_os_error("/data/out", OSError(code, os.strerror(code), "/data/out/H5/part-00000.h5"))
    again = pickle.loads(pickle.dumps(err))
    for e in (err, again):
        assert isinstance(e, OSError) and e.errno == code
        assert str(e) == (f"cannot write output folder /data/out: {os.strerror(code)} "
                          f"(/data/out/H5/part-00000.h5); {hint}")
