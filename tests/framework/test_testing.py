"""hepreco.framework.testing: algorithms and short chains on hand-made events, outside a job."""
import os
import subprocess
import sys

import awkward as ak
import numpy as np
import pytest

from hepreco.framework import ConfigurationError, testing

from .components import Exploder, HardParticles, Scaled, Smear, SumPt, SumPtFilter, Tally, Touch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "plugins", "examples", "hepreco-example-plugin")
PLUGINS = ["tests.framework.components"]


def particles(n=6):
    rng = np.random.default_rng(3)
    counts = np.arange(n) % 4 + 1
    pt = np.round(rng.uniform(0, 80, counts.sum()), 2)
    return ak.unflatten(ak.zip({"pt": pt, "eta": np.zeros(len(pt)), "phi": np.zeros(len(pt))}), counts)


def test_chain_products_histograms_and_decisions():
    parts = particles()
    result = testing.run([SumPt(), HardParticles(cut=20.0), SumPtFilter(threshold=60.0), Touch()],
                         inputs={"Particles": parts}, mode="and")
    sumpt = ak.to_numpy(ak.sum(parts.pt, axis=1))
    np.testing.assert_allclose(result["SumPt"], sumpt)
    assert result["SumPtFilterPassed"].tolist() == (sumpt > 60).tolist()
    assert result.decision.tolist() == (sumpt > 60).tolist()
    # the filtered sequence hides failing events from Touch: they get zeros
    np.testing.assert_allclose(result["TouchOut"], np.where(sumpt > 60, sumpt, 0.0))
    assert result.histograms["HardParticles/n"].sum() == 6
    assert result.histograms["HardParticles/pt"].sum(flow=True) == ak.sum(parts.pt > 20.0)
    assert result.store.provenance("Particles").producer == testing.INPUT_PRODUCER


def test_random_streams_follow_seed_and_event_numbers_not_chunking():
    vec = np.zeros((6, 4))
    a = testing.run(Smear(), inputs={"Vector": vec}, seed=5)
    b = testing.run(Smear(), inputs={"Vector": vec}, seed=5, chunk_size=4)
    c = testing.run(Smear(), inputs={"Vector": vec}, seed=6)
    d = testing.run(Smear(), inputs={"Vector": vec[:3]}, seed=5, events=[3, 4, 5])
    np.testing.assert_array_equal(a["SmearedVector"], b["SmearedVector"])
    assert not np.array_equal(a["SmearedVector"], c["SmearedVector"])
    np.testing.assert_array_equal(d["SmearedVector"], a["SmearedVector"][3:])


def test_accumulators_are_merged_and_end_of_job_writes_its_summary(tmp_path):
    parts = particles()
    sumpt = ak.to_numpy(ak.sum(parts.pt, axis=1))
    result = testing.run([Tally(high=100.0)], inputs={"Particles": parts, "SumPt": sumpt}, chunk_size=4,
                         output_dir=str(tmp_path))
    acc = result.accumulators
    assert acc["Tally/events"].value == 6 and acc["Tally/above90"].total == 6
    assert [r["event"] for r in acc["Tally/high"]] == [i for i in range(6) if round(sumpt[i] * 4) / 4 > 100]
    assert result.summaries == [str(tmp_path / "Tally.json")] and os.path.exists(result.summaries[0])


def test_services_real_from_the_registry_or_stubs():
    sumpt = np.array([1.0, 2.0])
    real = testing.run(Scaled(), inputs={"SumPt": sumpt}, plugins=PLUGINS,
                       services={"ToyConditionsSvc": {"scale": 3.0}})
    np.testing.assert_allclose(real["ScaledSumPt"], [3.0, 6.0])
    assert real.services.get("ToyConditionsSvc").initialized

    class Stub:
        scale = 0.5

    stub = testing.run(Scaled(conditions="Cond"), inputs={"SumPt": sumpt}, services={"Cond": Stub()})
    np.testing.assert_allclose(stub["ScaledSumPt"], [0.5, 1.0])
    # not given: created with its defaults on first use, as in a job
    default = testing.run(Scaled(), inputs={"SumPt": sumpt}, plugins=PLUGINS)
    np.testing.assert_allclose(default["ScaledSumPt"], sumpt)


def test_failing_algorithm_raises_its_own_exception_or_follows_its_policy():
    sumpt = np.arange(4.0)
    with pytest.raises(ValueError, match="cannot handle event 2") as info:
        testing.run(Exploder(bad_events=[2]), inputs={"SumPt": sumpt})
    assert "Exploder failed on event (run 1, event 2)" in "".join(getattr(info.value, "__notes__", []))
    result = testing.run(Exploder(bad_events=[2], on_error="skip_event"), inputs={"SumPt": sumpt})
    assert [e["events"] for e in result.errors] == [[[1, 2]]]
    assert result.decision.tolist() == [True, True, False, True]


def test_inputs_of_different_lengths_are_refused():
    with pytest.raises(ConfigurationError, match=r"inputs must all have one entry per event \(3 events\): "
                                                 r"'Vector' has 2"):
        testing.run(Smear(), inputs={"SumPt": np.zeros(3), "Vector": np.zeros((2, 4))})


def test_example_plugin_tests_pass_with_the_testing_helper():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([EXAMPLE, env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           os.path.join(EXAMPLE, "tests")], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " passed" in proc.stdout and "failed" not in proc.stdout
