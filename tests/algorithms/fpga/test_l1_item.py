"""The network item of the L1 menu: its per-event inputs, and its rate against a direct count on minimum bias."""
from __future__ import annotations

import json
import os

import awkward as ak
import numpy as np
import pytest

from hepreco.algorithms.fpga.l1_inputs import FIELDS, leading_jets
from hepreco.framework.io import read

from ...conftest import run_job

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CROSSING_HZ = 2544 * 11245.5


def test_leading_jets_are_sorted_by_et_and_zero_padded_per_event():
    et = np.array([10.0, 50.0, 30.0, 5.0, 7.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 9.0])
    eta = np.arange(12) * 0.1
    offsets = np.array([0, 3, 3, 12])
    top_et, top_eta = leading_jets(et, eta, offsets, n=6)
    assert top_et.tolist() == [[50.0, 30.0, 10.0, 0, 0, 0], [0] * 6, [9.0, 8.0, 7.0, 6.0, 5.0, 4.0]]
    assert np.allclose(top_eta[0, :3], [0.1, 0.2, 0.0]) and np.allclose(top_eta[2], [1.1, 1.0, 0.4, 0.9, 0.3, 0.8])
    assert len(FIELDS) == 16


def test_the_network_item_rate_on_minimum_bias_equals_a_direct_count_of_scores_above_threshold(tmp_path):
    thresholds = [-8.0, -6.0, -4.0, -2.0, 4.4]   # log-odds: about 80%, 50%, 20%, 5%, 0.3% of minimum bias
    items = "\n".join(f"  L1_NNTT{k}: {{type: NN, threshold: {t}, score: ttbar}}" for k, t in enumerate(thresholds))
    menu = tmp_path / "menu.yaml"
    menu.write_text(f"name: test_nn\nstreams: [physics]\nitems:\n{items}\n  L1_HT100: {{type: HT, threshold: 100.0}}\n")
    out = tmp_path / "job"
    report = run_job(os.path.join(ROOT, "jobs", "l1nn", "l1_rates_mu60.yaml"), "job.evt_max=30", "job.chunk_size=10",
                     f"job.output_dir={out}", "job.progress=false", f"L1Menu.menu={menu}")
    assert report["status"] == "ok"
    data = read(str(out / "L1"))
    score = ak.to_numpy(data["L1NNScores"].ttbar)
    ht = ak.to_numpy(data["L1NNEventInputs"].ht)
    assert len(score) == 30
    with open(out / "trigger_summary_L1Menu.json") as f:
        rows = {row["name"]: row for row in json.load(f)["items"]}
    counts = []
    for k, t in enumerate(thresholds):
        row = rows[f"L1_NNTT{k}"]
        direct = int(np.sum(score > t))
        counts.append(direct)
        assert row["seen"] == 30 and row["passed_before_prescale"] == row["passed_after_prescale"] == direct
        assert row["rate_hz"] == pytest.approx(direct / 30 * CROSSING_HZ, rel=1e-12)
    assert rows["L1_HT100"]["passed_before_prescale"] == int(np.sum(ht > 100.0))
    # the thresholds select: not all the same count (the scores are not constant on these events)
    assert len(set(counts)) > 1


def test_the_log_odds_network_gives_log_p1_over_p0_of_the_softmax_network():
    torch = pytest.importorskip("torch")
    from hepreco.algorithms.fpga.derive import log_odds_network, make_network

    torch.manual_seed(3)
    model = make_network(16, (8, 8), 2).eval()
    x = torch.randn(50, 16)
    with torch.no_grad():
        p = model(x)
        z = log_odds_network(model)(x)
    assert z.shape == (50, 1)
    np.testing.assert_allclose(z[:, 0].numpy(), torch.log(p[:, 1] / p[:, 0]).numpy(), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="two-class softmax network"):
        log_odds_network(make_network(16, (8,), 5))


@pytest.mark.slow
def test_the_shipped_network_of_the_item_is_bit_exact_with_hls4ml_on_its_own_inputs():
    pytest.importorskip("hls4ml")
    from hepreco.algorithms.fpga.compare import compare
    from hepreco.algorithms.fpga.derive import synthetic_dataset

    path = os.path.join(ROOT, "algorithms", "fpga", "data", "l1nn-ttbar@1.json")
    x = synthetic_dataset(5000, seed=8)[0] * 3.0     # standardised inputs, many beyond the 6 integer bits
    result = compare(path, x)
    assert result["bit_exact"] == result["inputs"] == 5000
