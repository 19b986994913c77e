"""Every job options file in jobs/ runs with a few events."""
import glob
import json
import os

import pytest

from .conftest import run_job

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOBS = sorted(glob.glob(os.path.join(ROOT, "jobs", "*.yaml")) + glob.glob(os.path.join(ROOT, "jobs", "*.py")))


def test_there_are_jobs():
    assert any(j.endswith("generate.yaml") for j in JOBS)


@pytest.mark.parametrize("job", JOBS, ids=[os.path.basename(j) for j in JOBS])
def test_job_runs_with_few_events(job, tmp_path):
    report = run_job(job, "job.evt_max=4", "job.chunk_size=2", f"job.output_dir={tmp_path}", "job.progress=false")
    assert report["status"] == "ok" and report["events"]["read"] == 4
    with open(tmp_path / "report.json") as f:
        assert json.load(f)["events"]["read"] == 4
    for name in report["histograms"] + report["summaries"]:  # PNGs, summary tables, the event display
        assert os.path.getsize(tmp_path / name) > 0
