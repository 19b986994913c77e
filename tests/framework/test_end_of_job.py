"""Where the end of job runs: in the client, or on a worker for algorithms that only write files."""
import json
import os

import pytest

from ..conftest import run_job

JOB = """\
job:
  evt_max: 40
  chunk_size: 10
  output_dir: {out}
  progress: false
  plugins: [tests.framework.components, tests.framework.end_of_job_components]
source:
  type: ToySource
algorithms:
  - type: SumPt
  - type: SumPtPlot
  - type: SumPtSummary
"""


def summaries(report):
    out = report["output_dir"]
    found = []
    for name in ("SumPtPlot.json", "SumPtSummary.json"):
        with open(os.path.join(out, name)) as f:
            found.append(json.load(f))
    return found


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_a_files_only_end_of_job_runs_on_a_worker_and_the_others_in_the_client(write_job, tmp_path, executor):
    if executor == "dask":
        pytest.importorskip("distributed")
    path = write_job(JOB.format(out=tmp_path / "out"))
    report = run_job(path, f"job.executor={executor}", "job.workers=2")
    assert report["status"] == "ok"
    plot, summary = summaries(report)
    assert plot["pid"] != os.getpid() and summary["pid"] == os.getpid()
    assert plot["entries"] == summary["entries"] == 40.0  # the merged histogram of every event reached both
    assert report["summaries"] == ["SumPtPlot.json", "SumPtSummary.json"]  # in the algorithms' order


def test_without_workers_every_end_of_job_runs_in_the_client(write_job, tmp_path):
    path = write_job(JOB.format(out=tmp_path / "out"))
    report = run_job(path)
    plot, summary = summaries(report)
    assert plot["pid"] == summary["pid"] == os.getpid()
    assert plot["entries"] == summary["entries"] == 40.0
