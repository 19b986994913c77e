"""A job killed with SIGKILL and resumed ends with the same outputs as an uninterrupted one."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ..conftest import run_job
from .outputs import hdf5_stream, histograms, root_stream


def manifest_items(out):
    """Items the journal lists as complete (what --resume will reuse)."""
    from hepreco.framework.manifest import read_journal

    return len(read_journal(os.path.join(out, ".hepreco", "journal"))[0])


def test_sigkill_then_resume_gives_identical_outputs(toy_job, tmp_path):
    ref = str(tmp_path / "ref")
    report_ref = run_job(toy_job(ref, evt_max=60, chunk_size=5, algorithms="  - {type: Tally}\n"))

    out = str(tmp_path / "killed")
    path = toy_job(out, evt_max=60, chunk_size=5, algorithms="  - {type: Sleep, seconds: 0.25}\n  - {type: Tally}\n")
    cmd = [sys.executable, "-m", "hepreco.framework.cli", "run", path, "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while manifest_items(out) < 4 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the job ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done_before = manifest_items(out)
    assert 4 <= done_before < 12

    resumed = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    assert report["items"]["resumed"] == done_before
    assert report["events"]["read"] == 60 and report["events"]["processed"] == 60 - 5 * done_before
    assert root_stream(out, "Root") == root_stream(ref, "Root")
    assert hdf5_stream(out, "H5") == hdf5_stream(ref, "H5")
    assert histograms(out) == histograms(ref)
    assert report["accumulators"]["Tally"] == report_ref["accumulators"]["Tally"]  # reused items' ones included
    assert not [f for f in os.listdir(os.path.join(out, "H5")) if ".tmp" in f]


def test_resume_refuses_another_configuration(toy_job, tmp_path):
    out = str(tmp_path / "a")
    path = toy_job(out, evt_max=20, chunk_size=10)
    run_job(path)
    from hepreco.framework import ConfigurationError

    with pytest.raises(ConfigurationError, match="cannot resume .* another configuration"):
        run_job(path, "HardParticles.cut=9.0", resume=True)


def test_overwrite_removes_stale_parts(toy_job, tmp_path):
    out = str(tmp_path / "b")
    run_job(toy_job(out, evt_max=40, chunk_size=10))
    assert len(os.listdir(os.path.join(out, "H5"))) == 4
    run_job(toy_job(out, evt_max=20, chunk_size=10), overwrite=True)
    assert sorted(os.listdir(os.path.join(out, "H5"))) == ["part-00000.h5", "part-00001.h5"]
