"""The shipped models, run by their jobs on fresh gun events, identify particles by the generator's truth."""
import os

import awkward as ak
import numpy as np
import pytest

from hepreco.framework.io import read

from ...conftest import ROOT, run_job

pytest.importorskip("torch")
pytest.importorskip("safetensors")


@pytest.mark.parametrize("task, signal_pdg, minimum", [("e_pi", (11, -11), 0.95), ("gamma_pi0", (22,), 0.65)])
def test_shipped_egamma_network_identifies_gun_particles(tmp_path, task, signal_pdg, minimum):
    out = tmp_path / task
    report = run_job(os.path.join(ROOT, "jobs", "ml", f"identify_{task}.yaml"), "job.evt_max=160",
                     "job.chunk_size=80", f"job.output_dir={out}")
    assert report["status"] == "ok"
    data = read(str(out / "Identified"))
    cand = ak.flatten(data["EgammaDataset"], axis=1)
    scores = ak.flatten(data["EgammaIdScores"], axis=1)
    signal_name = ak.fields(scores)[1]  # classes [background, signal] as the job lists them
    truth = np.isin(ak.to_numpy(cand["true_pdg"]), signal_pdg)
    guessed = ak.to_numpy(scores[signal_name]) > 0.5
    assert len(truth) > 100 and 0.2 < truth.mean() < 0.8  # both particle kinds were shot
    assert np.mean(guessed == truth) >= minimum, np.mean(guessed == truth)  # test split: e/pi 100%, gamma/pi0 79%
