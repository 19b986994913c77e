"""Physics validation: boosted W/Z and top jets against QCD jets (slow)."""
import os

import numpy as np
import pytest
import uproot

from ...conftest import run_job

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def histogram(folder, name):
    with uproot.open(os.path.join(folder, "histograms.root")) as f:
        return f[name].to_hist()


def median(folder, name):
    h = histogram(folder, name)
    cdf = np.cumsum(h.values()) / h.values().sum()
    return float(h.axes[0].centers[np.searchsorted(cdf, 0.5)])


def peak(folder, name):
    """Centre of the most populated 3-bin window (the mass peak)."""
    h = histogram(folder, name)
    return float(h.axes[0].centers[np.convolve(h.values(), np.ones(3), "same").argmax()])


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
def test_groomed_mass_peaks_at_the_w_z_and_top_masses(samples):
    truth = {k: peak(v, "LeadingLargeRTruth/sd_m") for k, v in samples.items()}
    reco = {k: peak(v, "LeadingLargeR/sd_m") for k, v in samples.items()}
    print("soft-drop mass peak, truth", truth, "reco (EM scale)", reco)
    assert 75 < truth["wprime"] < 100, truth  # W (80.4) and Z (91.2)
    assert 160 < truth["ttbar"] < 190, truth  # top (172.5)
    assert median(samples["qcd"], "LeadingLargeRTruth/sd_m") < 60
    # reco jets are at the EM scale of a non-compensating calorimeter: the peaks sit lower by its response
    for key in ("wprime", "ttbar"):
        assert 0.6 < reco[key] / truth[key] < 0.95, (reco, truth)


@pytest.mark.slow
@pytest.mark.parametrize("level", ["LeadingLargeR", "LeadingLargeRTruth"])
def test_w_jets_have_two_prongs_and_qcd_jets_do_not(samples, level):
    tau21 = {k: median(v, f"{level}/tau21") for k, v in samples.items()}
    d2 = {k: median(v, f"{level}/d2") for k, v in samples.items()}
    print(level, "median tau21", tau21, "D2", d2)
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
