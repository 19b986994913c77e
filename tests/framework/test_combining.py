"""Output streams with a target file size: parts combined into files while the job runs."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from hepreco.framework import PropertyError
from hepreco.framework.io import read
from hepreco.framework.io.output import sha256
from hepreco.framework.manifest import CombinedFile, read_journal

from ..conftest import build_job, run_job
from .outputs import run_toy, same_events as same

TARGETS = ("H5.events_per_file=20", "Root.file_size_mb=0.000001")  # Root: every item's parts reach the size alone


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The toy job (60 events, chunks of 7) with one part per work item."""
    path, out = run_toy(tmp_path_factory.mktemp("combining"))
    return pathlib.Path(out), path


@pytest.mark.parametrize("executor", ["sequential", "processes"])
def test_combined_files_hold_the_same_events_as_the_parts(reference, tmp_path, executor):
    ref, path = reference
    out = tmp_path / "out"
    report = run_job(path, *TARGETS, f"job.output_dir={out}", f"job.executor={executor}", "job.workers=2")
    assert report["status"] == "ok"
    for stream in ("H5", "Root"):
        same(read(str(out / stream)), read(str(ref / stream)))
    h5 = sorted(os.listdir(out / "H5"))
    # 9 items of 7 events: files close once they hold 20 events or more (parts are never split)
    assert h5 == ["file-00000.h5", "file-00003.h5", "file-00006.h5"]
    manifest = json.loads((out / "manifest.json").read_text())
    files = manifest["files"]["H5"]
    assert [f["events"] for f in files] == [21, 21, 18]
    assert [f["items"] for f in files] == [["00000", "00001", "00002"], ["00003", "00004", "00005"],
                                           ["00006", "00007", "00008"]]
    assert all(sha256(str(out / f["file"])) == f["sha256"] for f in files)
    h5_row = next(o for o in report["outputs"] if o["stream"] == "H5")
    assert (h5_row["files"], h5_row["events"], h5_row["bytes"]) == (
        3, 60, sum(os.path.getsize(out / "H5" / name) for name in h5))


def test_kill_then_resume_continues_the_combining(reference, tmp_path):
    ref, _ = reference
    out = tmp_path / "killed"
    from ..conftest import TOY_JOB

    text = TOY_JOB.format(evt_max=60, chunk_size=7, out=out)
    text = text.replace("outputs:\n", "  - {type: Sleep, seconds: 0.3}\noutputs:\n")
    text = text.replace("    name: H5\n", "    name: H5\n    events_per_file: 20\n")
    path = tmp_path / "job.yaml"
    path.write_text(text)
    cmd = [sys.executable, "-m", "hepreco.framework.cli", "run", str(path), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = str(out / ".hepreco" / "journal")
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            records = read_journal(journal)[0]
            if any(isinstance(r, CombinedFile) for r in records) and len(records) >= 5:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the job ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    records = read_journal(journal)[0]
    assert any(isinstance(r, CombinedFile) for r in records)
    assert sum(not isinstance(r, CombinedFile) for r in records) < 9
    resumed = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    same(read(str(out / "H5")), read(str(ref / "H5")))
    assert sorted(os.listdir(out / "H5")) == ["file-00000.h5", "file-00003.h5", "file-00006.h5"]


def test_a_damaged_combined_file_is_made_again_on_resume(reference, tmp_path):
    ref, path = reference
    out = tmp_path / "out"
    run_job(path, "H5.events_per_file=20", f"job.output_dir={out}")
    victim = out / "H5" / "file-00003.h5"
    victim.write_bytes(victim.read_bytes()[:-100])
    report = run_job(path, "H5.events_per_file=20", f"job.output_dir={out}", resume=True)
    assert report["items"]["rerun"] == 3 and report["damaged_parts"][0]["file"] == "H5/file-00003.h5"
    same(read(str(out / "H5")), read(str(ref / "H5")))


def test_both_targets_at_once_are_refused(reference, write_job):
    _, path = reference
    with pytest.raises(PropertyError, match="H5.file_size_mb: give events_per_file or file_size_mb, not both"):
        build_job(path, "H5.events_per_file=20", "H5.file_size_mb=5")
