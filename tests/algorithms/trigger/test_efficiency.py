"""Turn-on curves: the 99%-of-plateau point of a synthetic curve, and TriggerEfficiency's counts and files."""
import json
import math

import awkward as ak
import numpy as np
import pytest

from hepreco.algorithms.trigger.efficiency import TriggerEfficiency, fit_turn_on, point_99, turn_on
from hepreco.framework import testing


def test_point_99_of_an_error_function_turn_on():
    # erf(z / sqrt 2) = 0.98 at z = 2.3263: the curve is at 99% of its plateau there
    x99 = point_99(100.0, 10.0)
    assert x99 == pytest.approx(123.263, abs=1e-3)
    assert turn_on(x99, 0.95, 100.0, 10.0) == pytest.approx(0.99 * 0.95, rel=1e-9)


def test_fit_recovers_the_99_percent_point_of_a_synthetic_curve():
    edges = np.linspace(0.0, 400.0, 41)
    centres = 0.5 * (edges[1:] + edges[:-1])
    total = np.full(40, 100000.0)
    passed = np.round(total * turn_on(centres, 0.97, 180.0, 25.0))
    fit = fit_turn_on(centres, passed, total)
    assert fit["converged"]
    assert fit["plateau"] == pytest.approx(0.97, abs=2e-3)
    assert fit["x50"] == pytest.approx(180.0, abs=0.5)
    assert fit["sigma"] == pytest.approx(25.0, abs=0.5)
    assert fit["x99"] == pytest.approx(180.0 + 2.3263 * 25.0, abs=1.0)


def test_fit_needs_three_filled_bins():
    fit = fit_turn_on([1.0, 2.0, 3.0], [1, 0, 0], [5, 0, 0])
    assert not fit["converged"] and math.isnan(fit["x99"])


def test_trigger_efficiency_counts_and_writes_json_and_png(tmp_path):
    rng = np.random.default_rng(4)
    n = 4000
    lead = rng.uniform(0.0, 200.0, n)
    jets = ak.Array([[{"pt": float(p)}, {"pt": float(p) / 3}] for p in lead])
    passed = rng.uniform(size=n) < turn_on(lead, 1.0, 100.0, 10.0)
    decision = ak.Array([{"L1": {"after_prescale": {"L1_J50": bool(p)}},
                          "HLT": {"after_prescale": {"HLT_j100": bool(p)}}} for p in passed])
    r = testing.run([TriggerEfficiency("Eff", trigger="HLT_j100", objects="Jets", bins=[0.0, 200.0, 40])],
                    inputs={"TriggerDecision": decision, "Jets": jets}, output_dir=str(tmp_path), chunk_size=1000)
    total, accepted = r.accumulators["Eff/counts"].value
    assert total.tolist() == np.histogram(lead, np.linspace(0, 200, 41))[0].tolist()
    assert accepted.tolist() == np.histogram(lead[passed], np.linspace(0, 200, 41))[0].tolist()
    with open(tmp_path / "turn_on_Eff.json") as f:
        table = json.load(f)
    assert table["fit"]["converged"] and table["fit"]["x99"] == pytest.approx(123.3, abs=4.0)
    assert (tmp_path / "turn_on_Eff.png").stat().st_size > 0


def test_trigger_efficiency_needs_an_item_or_chain():
    with pytest.raises(Exception, match=r"Eff.trigger: expected an L1 item \(L1_...\) or HLT chain"):
        TriggerEfficiency("Eff", trigger="J50").check(None)


def test_fit_of_a_few_points_does_not_warn():
    # three filled bins and a free plateau: the covariance cannot be estimated, which the fit does not need
    fit = fit_turn_on([10.0, 20.0, 30.0], [0, 1, 1], [1, 1, 1])
    assert fit["plateau"] <= 1.0
