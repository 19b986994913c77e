"""The shipped generator against fresh FastCaloSim reference showers: the validation goals (slow)."""
import os

import numpy as np
import pytest

pytest.importorskip("torch")

from hepreco.algorithms.calogan.validate import AUC_GOAL, find_weights, validate  # noqa: E402

from ...conftest import run_job  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.mark.slow
def test_shipped_generator_meets_the_validation_goals(tmp_path):
    weights = find_weights("calogan-gan")
    assert os.path.dirname(weights).endswith(os.path.join("calogan", "data"))  # the built-in artefact
    assert os.path.getsize(weights) < 2e6
    reference = tmp_path / "reference"
    # another seed than the training showers (job.seed 12345)
    run_job(os.path.join(ROOT, "jobs", "calogan_reference.yaml"), "job.evt_max=9000", "job.seed=77",
            f"job.output_dir={reference}")
    results = validate("calogan-gan", str(reference), str(tmp_path / "validation"), plots=False,
                       log=lambda *a: None)
    particles = results["particles"]
    for name in ("eplus", "gamma"):
        assert particles[name]["auc"] < AUC_GOAL, (name, particles[name]["auc"])
    assert 0.5 <= particles["piplus"]["auc"] < 1.0  # reported, no goal (pion showers are not modelled well yet)
    for name in ("eplus", "gamma"):
        p = particles[name]
        w1 = p["w1_over_sigma"]["all"]
        # energies, fractions and depth within a fifth of the reference spread
        for var in ("E_tot", "E_0", "E_1", "E_2", "f_0", "f_1", "f_2", "s_d"):
            assert w1[var] < 0.2, (name, var, w1[var])
        resp = p["response"]
        np.testing.assert_allclose(resp["generated"]["response"], resp["reference"]["response"], rtol=0.02)
