"""Physics validation: boosted W/Z and top jets against QCD jets (slow)."""
import os

import numpy as np
import pytest
import uproot

from ...conftest import run_job

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def median(folder, name):
    with uproot.open(os.path.join(folder, "histograms.root")) as f:
        h = f[name].to_hist()
    cdf = np.cumsum(h.values()) / h.values().sum()
    return float(h.axes[0].centers[np.searchsorted(cdf, 0.5)])


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    out = {}
    for key in ("qcd", "wprime", "ttbar"):
        folder = str(tmp_path_factory.mktemp(key))
        run_job(os.path.join(ROOT, "jobs", f"validate_{key}.yaml"), "job.evt_max=200", f"job.output_dir={folder}",
                "job.progress=false", "HistogramSvc.png=false")
        out[key] = folder
    return out


@pytest.mark.slow
@pytest.mark.parametrize("level", ["LeadingLargeR", "LeadingLargeRTruth"])
def test_boosted_w_and_top_jets_have_their_masses_and_two_or_three_prongs(samples, level):
    m = {k: median(v, f"{level}/m") for k, v in samples.items()}
    tau21 = {k: median(v, f"{level}/tau21") for k, v in samples.items()}
    d2 = {k: median(v, f"{level}/d2") for k, v in samples.items()}
    print(level, "median mass", m, "tau21", tau21, "D2", d2)
    assert 65 < m["wprime"] < 105, m  # W and Z jets
    assert 140 < m["ttbar"] < 200, m  # top jets
    assert m["qcd"] < m["wprime"]
    assert tau21["wprime"] < tau21["qcd"] - 0.1, tau21
    assert d2["wprime"] < d2["qcd"], d2


@pytest.mark.slow
def test_jet_response_is_measured_against_truth(samples):
    import json

    with open(os.path.join(samples["qcd"], "AntiKt4EMResponse.json")) as f:
        table = json.load(f)
    response = np.array(table["response"])
    print("EM-scale anti-kt R=0.4 response", dict(zip(table["pt"], np.round(response, 3))))
    # EM-scale jets of a non-compensating calorimeter: below 1, rising with pT
    assert np.all((response > 0.5) & (response < 1.0))
