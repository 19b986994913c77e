"""Every job options file in jobs/l1nn runs with a few events and writes its records."""
from __future__ import annotations

import glob
import os

import awkward as ak
import numpy as np
import pytest

from hepreco.framework.io import read

from ...conftest import run_job

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
JOBS = sorted(glob.glob(os.path.join(ROOT, "jobs", "l1nn", "*.yaml")))
STREAMS = {"jets_qcd": "Hls4mlJetDataset", "jets_wz": "Hls4mlJetDataset", "jets_top": "Hls4mlJetDataset",
           "l1_minbias_mu60": "L1Inputs", "l1_ttbar_mu60": "L1Inputs", "l1_rates_mu60": "L1"}


def test_every_l1nn_job_is_known():
    assert sorted(os.path.basename(j)[:-5] for j in JOBS) == sorted(STREAMS)


@pytest.mark.parametrize("job", JOBS, ids=[os.path.basename(j) for j in JOBS])
def test_l1nn_job_runs_with_few_events(job, tmp_path):
    n = 6
    report = run_job(job, f"job.evt_max={n}", "job.chunk_size=3", f"job.output_dir={tmp_path}", "job.progress=false")
    assert report["status"] == "ok" and report["events"]["read"] == n
    stream = STREAMS[os.path.basename(job)[:-5]]
    data = read(str(tmp_path / stream))
    assert len(data) == n
    if stream == "L1":
        score = ak.to_numpy(data["L1NNScores"].ttbar)     # log-odds on the 16-bit output grid
        assert np.all(np.isfinite(score)) and np.all(score * 1024 == np.round(score * 1024))
        assert "L1_NNTT" in ak.fields(data["TriggerDecision"].L1.before_prescale)
