"""Checks of a component that need the whole built job (``Component.check_job``)."""
import os
import re

import pytest

from hepreco.framework import ConfigurationError

from ..conftest import build_job, run_job

JOB = """\
job:
  evt_max: 20
  chunk_size: 5
  output_dir: {out}
  progress: false
  plugins: [tests.framework.components, tests.framework.job_check_components]
source:
  type: ToySource
algorithms:
  - type: SumPt
  - {{type: AfterSequence, log: {log}}}
  - type: Sequence
    name: Selected
    mode: and
    members:
      - {{type: SumPtFilter, threshold: 90.0}}
"""


def test_a_job_check_sees_the_sequences_and_its_error_names_the_component_line(write_job, tmp_path):
    path = write_job(JOB.format(out=tmp_path / "out", log=tmp_path / "log"))
    with pytest.raises(ConfigurationError, match=re.escape(f"{path}:11: AfterSequence: no sequence 'Selected' runs "
                                                           "before it; add one")):
        build_job(path)
    assert build_job(path, "AfterSequence.sequence=SumPt").algorithms()[1].name == "AfterSequence"


def test_a_job_check_runs_once_in_the_client_not_in_workers(write_job, tmp_path):
    log = tmp_path / "log"
    path = write_job(JOB.format(out=tmp_path / "out", log=log))
    report = run_job(path, "AfterSequence.sequence=SumPt", "job.executor=processes", "job.workers=2")
    assert report["status"] == "ok" and report["items"]["completed"] == 4
    assert log.read_text() == f"{os.getpid()}\n"
