"""Accumulators: filling, merging in order, merge errors, and their place in a job's report."""
import json
import math
import os

import numpy as np
import pytest

from hepreco.framework import accumulators
from hepreco.framework.accumulators import Counter, Efficiency, Records, Set, Sum, WeightedSum
from hepreco.framework.errors import AccumulatorError, MergeError, UnknownNameError

from ..conftest import run_job


def test_counter_sum_and_weighted_sum_add_and_merge():
    a, b = Counter(), Counter()
    a.add()
    a.add(4)
    b.add(2)
    assert (a + b).value == 7 and a.value == 5  # + makes a new one
    a += b
    assert a.value == 7
    s = Sum()
    s.add([1.5, 2.5])
    s.add(1)
    assert s.value == 5.0
    w = WeightedSum()
    w.add([1.0, 2.0])
    w2 = WeightedSum()
    w2.add(3.0)
    w += w2
    assert (w.n, w.sum_w, w.sum_w2) == (3, 6.0, 14.0) and w.error == pytest.approx(math.sqrt(14.0))


def test_binned_sum_adds_each_value_at_its_index():
    s = Sum(shape=(2, 3))
    s.add([1.0, 2.0, 4.0], at=([0, 1, 1], [2, 0, 0]))
    np.testing.assert_array_equal(s.value, [[0, 0, 1], [6, 0, 0]])
    t = Sum(shape=(2, 3))
    t.add(np.ones((4, 2, 3)))  # rows of the sum's shape
    np.testing.assert_array_equal((s + t).value, [[4, 4, 5], [10, 4, 4]])


def test_efficiency_value_and_binomial_error():
    e = Efficiency()
    e.add(np.array([True, False, True, True]))
    f = Efficiency()
    f.add(np.array([False] * 4))
    e += f
    assert (e.passed, e.total) == (3, 8) and e.value == 3 / 8
    assert e.error == pytest.approx(math.sqrt(3 / 8 * 5 / 8 / 8))
    assert math.isnan(Efficiency().value)
    with pytest.raises(TypeError, match="Efficiency.add needs booleans"):
        e.add(np.array([1, 0]))


def test_records_and_sets_merge_in_order():
    a, b = Records(), Records()
    a.append({"event": np.int64(3), "pt": np.float32(1.5)})
    b.extend([{"event": 1}, {"event": 2}])
    merged = a + b
    assert merged.records == [{"event": 3, "pt": 1.5}, {"event": 1}, {"event": 2}]
    assert type(merged.records[0]["event"]) is int  # plain values, ready for JSON
    s, t = Set(), Set()
    s.update(["small", "small"])
    t.update(["coarse", "small"])
    assert (s + t).values == ["small", "coarse"] and (t + s).values == ["coarse", "small"]


def test_records_beyond_the_limit_are_an_error():
    r = Records(limit=2)
    r.extend([{"i": 0}, {"i": 1}])
    with pytest.raises(AccumulatorError, match="holds more than 2 records; records are for rare entries"):
        r.append({"i": 2})


def test_incompatible_kinds_and_shapes_do_not_merge():
    with pytest.raises(MergeError, match="cannot merge a 'counter' accumulator with a 'sum' one"):
        Counter() + Sum()
    with pytest.raises(MergeError, match=r"cannot merge a 'sum' accumulator of shape \(3,\) with one of shape \(4,\)"):
        Sum(3) + Sum(4)
    with pytest.raises(MergeError, match="cannot merge a 'efficiency' accumulator with a 'int' one"):
        Efficiency() + 1
    with pytest.raises(MergeError, match="accumulator 'Alg/n': cannot merge a 'counter' accumulator with a 'set'"):
        accumulators.merge([{"Alg/n": Counter()}, {"Alg/n": Set()}])


def test_merge_keeps_item_order_and_leaves_inputs_alone():
    items = []
    for i in range(3):
        r = Records()
        r.append({"item": i})
        items.append({"A/r": r})
    merged = accumulators.merge(items)
    assert [x["item"] for x in merged["A/r"]] == [0, 1, 2]
    assert [len(item["A/r"]) for item in items] == [1, 1, 1]


def test_unknown_kind_suggests_the_nearest():
    with pytest.raises(UnknownNameError, match="unknown accumulator kind 'efficency'; did you mean 'efficiency'"):
        accumulators.make("efficency")


def test_report_and_end_of_job_get_the_merged_accumulators(toy_job, tmp_path):
    out = str(tmp_path / "tally")
    report = run_job(toy_job(out, evt_max=30, chunk_size=7, algorithms="  - {type: Tally, high: 100.0}\n"))
    with open(os.path.join(out, "report.json")) as f:
        written = json.load(f)["accumulators"]
    assert written == report["accumulators"]
    tally = written["Tally"]
    assert set(tally) == {"events", "sumpt", "binned", "weights", "above90", "high", "parity"}
    assert tally["events"] == {"kind": "counter", "value": 30}
    assert tally["weights"]["n"] == 30 and tally["weights"]["sum_w"] == 0.5 * sum(range(30))
    assert sum(tally["binned"]["value"]) == 30 and tally["binned"]["shape"] == [3]
    assert tally["parity"]["values"] == ["even", "odd"]
    assert tally["above90"]["total"] == 30
    assert "Tally.json" in " ".join(report["summaries"])
    with open(os.path.join(out, "Tally.json")) as f:
        assert json.load(f) == {"events": 30, "above90": tally["above90"]["value"]}


def test_end_of_job_without_an_accumulators_parameter_is_called_as_before(tmp_path):
    from hepreco.framework import Algorithm
    from hepreco.framework.algorithm import call_end_of_job

    class Old(Algorithm):
        def end_of_job(self, histograms, output_dir):
            return [f"{sorted(histograms)} in {output_dir}"]

    class New(Algorithm):
        def end_of_job(self, histograms, output_dir, accumulators):
            return [f"{sorted(histograms)} {sorted(accumulators)}"]

    assert call_end_of_job(Old(), {"h": 1}, {"n": Counter()}, "out") == ["['h'] in out"]
    assert call_end_of_job(New(), {"h": 1}, {"n": Counter()}, "out") == ["['h'] ['n']"]
