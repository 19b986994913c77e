"""Trigger rates: a direct count times the crossing rate, the weighted combination of minimum bias and pT-hat
slices against a hand computation, the luminosity, unique rates and overlaps, and the rates command."""
import json
import math
import os

import numpy as np
import pytest

from hepreco.algorithms.trigger.rates import (TriggerRates, combine, crossing_rate, luminosity, main,
                                              sample_from_records)

from .test_hlt import menu_path, run_hlt_job  # noqa: F401 (fixture)

CROSSING = 2544 * 11245.5


def test_luminosity_and_crossing_rate_at_mu_60():
    assert crossing_rate() == pytest.approx(28_608_552.0)  # 2,544 x 11,245.5 Hz
    # mu x crossing rate / sigma_inel: 60 x 2.861e7 Hz / 80 mb (8e-26 cm^2)
    assert luminosity(60.0, 80.0) == pytest.approx(60 * CROSSING / 80e-27)
    assert luminosity(60.0, 80.0) == pytest.approx(2.1456e34, rel=1e-4)


def test_rate_equals_a_direct_count_of_accepted_events_times_the_crossing_rate(tmp_path, menu_path):  # noqa: F811
    report, decision = run_hlt_job(tmp_path, menu_path)
    records = report["accumulators"]["Rates"]["events"]["records"]
    assert len(records) == 120 and all(r["pthat"] == 0.0 for r in records)  # no TruthPtHat: all minimum bias
    levels = {"L1": ["L1_J30", "L1_XE20"], "HLT": ["HLT_j40", "HLT_xe30"]}
    sample = {**sample_from_records(records, levels), "kind": "minbias", "boundary": math.inf}
    table = combine([sample], levels, 60.0, 80.0, CROSSING)
    import awkward as ak

    for level, record in (("L1", decision.L1), ("HLT", decision.HLT)):
        accepted = {n: ak.to_numpy(record.after_prescale[n]).astype(bool) for n in levels[level]}
        for name, mask in accepted.items():
            row = table[level]["items"][name]
            assert row["events"] == int(mask.sum())
            assert row["rate_hz"] == pytest.approx(mask.sum() / 120 * CROSSING)
            assert row["rate_error_hz"] == pytest.approx(math.sqrt(mask.sum()) * CROSSING / 120)
            others = [m for n, m in accepted.items() if n != name]
            only = mask & ~np.any(others, axis=0)
            assert row["unique_hz"] == pytest.approx(only.sum() / 120 * CROSSING)
        both = accepted[levels[level][0]] & accepted[levels[level][1]]
        assert table[level]["overlap_hz"][levels[level][0]][levels[level][1]] == pytest.approx(
            both.sum() / 120 * CROSSING)
        assert table[level]["total_hz"] == pytest.approx(int(ak.sum(record.accept)) / 120 * CROSSING)
    # the same rate as the trigger summary's column (the L1 summary counts the same events)
    for row in report["trigger"]["L1Menu"]["items"]:
        assert table["L1"]["items"][row["name"]]["rate_hz"] == pytest.approx(row["rate_hz"])


def test_weighted_combination_of_minimum_bias_and_slices_equals_a_hand_computation():
    minbias = {"kind": "minbias", "boundary": 30.0, "pthat": [5.0, 10.0, 40.0, 20.0],
               "passed": {"A": [1, 0, 1, 1], "B": [1, 1, 0, 0]}, "accept": {"L1": [1, 1, 1, 1]}}
    low = {"kind": "slice", "range": [30.0, 100.0], "sigma_mb": 0.01, "pthat": [35.0, 50.0],
           "passed": {"A": [1, 0], "B": [1, 1]}, "accept": {"L1": [1, 1]}}
    high = {"kind": "slice", "range": [100.0, -1.0], "sigma_mb": 0.001, "pthat": [150.0, 99.0],
            "passed": {"A": [1, 1], "B": [0, 1]}, "accept": {"L1": [1, 1]}}
    table = combine([minbias, low, high], {"L1": ["A", "B"]}, mu=60.0, sigma_inel_mb=80.0, crossing_hz=CROSSING)
    w_mb = CROSSING / 4                      # minimum bias below 30 GeV: events 0, 1, 3 (event 2 is above)
    lumi_mb = 60.0 * CROSSING / 80.0         # L x 1 mb [Hz]
    w_low = lumi_mb * 0.01 / 2
    w_high = lumi_mb * 0.001 / 2             # event 1 of 'high' (pT-hat 99) is outside its slice: weight 0
    a = table["L1"]["items"]["A"]
    assert a["rate_hz"] == pytest.approx(2 * w_mb + w_low + w_high)
    assert a["rate_error_hz"] == pytest.approx(math.sqrt(2 * w_mb ** 2 + w_low ** 2 + w_high ** 2))
    b = table["L1"]["items"]["B"]
    assert b["rate_hz"] == pytest.approx(2 * w_mb + 2 * w_low)
    # unique: A alone in minbias event 3 and high event 0; B alone in minbias event 1 and low event 1
    assert a["unique_hz"] == pytest.approx(w_mb + w_high)
    assert b["unique_hz"] == pytest.approx(w_mb + w_low)
    assert table["L1"]["overlap_hz"]["A"]["B"] == pytest.approx(w_mb + w_low)
    assert table["L1"]["total_hz"] == pytest.approx(3 * w_mb + 2 * w_low + w_high)


@pytest.mark.parametrize("slices", [[[30.0, 70.0], [80.0, -1.0]], [[30.0, -1.0], [70.0, 100.0]], [[50.0, 20.0]],
                                    []])
def test_slices_must_be_contiguous_ranges(slices):
    with pytest.raises(Exception, match=r"Rates.slices: expected contiguous \[min, max\) pT-hat ranges"):
        TriggerRates("Rates", slices=slices).check(None)


def test_one_number_of_events_per_slice():
    with pytest.raises(Exception, match=r"Rates.slice_events: expected one number of events \(>= 1\) per slice "
                                        r"\(2\), got \[10\]"):
        TriggerRates("Rates", slices=[[30.0, 70.0], [70.0, -1.0]], slice_events=[10]).check(None)


def test_rates_command_combines_minimum_bias_and_slices(tmp_path, capsys):
    out = tmp_path / "rates"
    code = main(["jobs/trigger_rates.yaml", "--minbias-events", "4", "--slice-events", "2", "-o", str(out),
                 "--set", "TriggerRates.slices=[[100.0, 300.0], [300.0, -1.0]]",
                 "--set", "TriggerRates.slice_events=[2, 2]",
                 "--set", "TriggerRates.cross_section_events=200", "--set", "job.chunk_size=2"])
    assert code == 0
    text = capsys.readouterr().out
    assert "L = 2.15e+34 cm^-2 s^-1" in text and "total L1" in text and "total HLT" in text
    with open(out / "rates.json") as f:
        result = json.load(f)
    assert [s["kind"] for s in result["samples"]] == ["minbias", "slice", "slice"]
    assert [s["events"] for s in result["samples"]] == [4, 2, 2]
    assert result["samples"][1]["range_gev"] == [100.0, 300.0] and result["samples"][1]["sigma_mb"] > 0
    assert result["luminosity_cm2s"] == pytest.approx(luminosity(60.0, 80.0))
    assert set(result["levels"]) == {"L1", "HLT"}
    assert os.path.getsize(out / "rates.png") > 0
    for k in range(2):
        with open(out / f"slice{k}" / "report.json") as f:
            assert json.load(f)["events"]["read"] == 2
