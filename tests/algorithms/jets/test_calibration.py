"""Jet energy scale by numerical inversion: exactness on a known response, file round trip, closure."""
import json
import os

import numpy as np
import pytest

from hepreco.algorithms.jets.calibration import (JESTable, inversion_table, jes_factors, read_table,
                                                 response_means, shipped_table, write_table)

from ...conftest import run_job

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
JOBS = os.path.join(ROOT, "jobs")


def known_response(pt_truth):
    return 1.0 - 2.0 / np.sqrt(pt_truth)


def synthetic_table(n_points=40):
    pt_truth = np.geomspace(20, 2000, n_points)
    r = known_response(pt_truth)
    mean_reco = r * pt_truth
    shape = (2, n_points)
    return pt_truth, inversion_table([0.0, 1.0, 2.5], np.broadcast_to(mean_reco, shape),
                                     np.broadcast_to(r, shape), np.ones(shape, bool))


def test_inversion_is_exact_on_a_known_response():
    pt_truth, table = synthetic_table()
    pt_reco = known_response(pt_truth) * pt_truth
    for eta in (0.2, 1.7):
        c = jes_factors(pt_reco, np.full(len(pt_reco), eta), table)
        np.testing.assert_allclose(c, 1 / known_response(pt_truth), rtol=1e-6)  # at the points: exact
    # between the points the monotonic interpolation gives back pT_truth closely
    fine = np.geomspace(25, 1900, 500)
    fine_reco = known_response(fine) * fine
    np.testing.assert_allclose(jes_factors(fine_reco, np.zeros(500), table) * fine_reco, fine, rtol=1e-4)
    # clamped outside the table
    c = jes_factors(np.array([1.0, 1e5]), np.zeros(2), table)
    np.testing.assert_allclose(c, [table.factor[0, 0], table.factor[0, -1]])


def test_inversion_drops_non_monotonic_points_and_means_from_sums():
    table = inversion_table([0, 1], [[10.0, 30.0, 25.0, 50.0]], [[0.5, 0.6, 0.7, 0.8]], [[True] * 4])
    np.testing.assert_array_equal(table.valid, [[True, True, False, True]])
    sums = np.array([[4.0, 40.0, 2.0, 1.25]])
    means = response_means(sums, min_jets=2)
    np.testing.assert_allclose([means["mean_pt_reco"][0], means["mean_response"][0]], [10.0, 0.5])
    np.testing.assert_allclose(means["response_error"][0], np.sqrt((1.25 / 4 - 0.25) * 4 / 3) / 2)


def test_table_round_trips_through_the_file(tmp_path):
    _, table = synthetic_table(7)
    table.attrs = {"geometry": "small"}
    back = read_table(write_table(str(tmp_path / "jes.h5"), table))
    assert isinstance(back, JESTable) and back.attrs == {"geometry": "small"}
    for name in ("eta_edges", "log_pt", "factor", "valid"):
        np.testing.assert_array_equal(getattr(back, name), getattr(table, name))


def test_shipped_small_table_exists():
    table = read_table(shipped_table("small"))
    assert table.attrs["geometry"] == "small" and table.valid.any()
    assert (table.factor[table.valid] > 0.8).all() and (table.factor[table.valid] < 3).all()


def closure(tmp_path, n_derive, n_closure):
    """Derive a table from dijets, apply it to independent dijets, return the calibrated summary."""
    table = str(tmp_path / "derive" / "jes-small.h5")
    report = run_job(os.path.join(JOBS, "calibrate_jets.yaml"), f"job.evt_max={n_derive}",
                     f"job.output_dir={tmp_path / 'derive'}", "job.progress=false")
    assert [a["path"] for a in report["artefacts_derived"]] == [table]
    run_job(os.path.join(JOBS, "jet_closure.yaml"), f"job.evt_max={n_closure}",
            f"job.output_dir={tmp_path / 'closure'}", f"AntiKt4TopoJES.file={table}", "job.progress=false",
            "JetCalibrationDeriver.min_jets=2")
    with open(tmp_path / "closure" / "jes_response.json") as f:
        after = json.load(f)
    with open(tmp_path / "derive" / "jes_response.json") as f:
        before = json.load(f)
    return before, after


def closure_points(summary, pt_min=30.0, min_jets=20):
    """(pT_truth centre, |eta| bin, mean response, error, jets) of the populated bins above pt_min."""
    r = np.asarray(summary["mean_response"], dtype=float)
    err = np.asarray(summary["response_error"], dtype=float)
    n = np.asarray(summary["jets"])
    x = np.asarray(summary["pt_truth_centres"])
    sel = (x[None, :] > pt_min) & (n >= min_jets) & np.isfinite(r)
    return r[sel], err[sel], n[sel]


def test_jet_closure_fast(tmp_path):
    _, after = closure(tmp_path, 600, 400)
    r, err, n = closure_points(after, min_jets=2)
    assert n.sum() >= 100
    # the jet-weighted mean over the bins above 30 GeV closes; bins alone are too sparse for a few hundred events
    mean = np.average(r, weights=n)
    print("fast closure", mean, n.sum())
    assert abs(mean - 1) < 0.05, (mean, r, n)


@pytest.mark.slow
def test_jet_closure_two_percent(tmp_path):
    before, after = closure(tmp_path, 4000, 3000)
    r, err, n = closure_points(after, min_jets=20)
    assert len(r) >= 5
    assert (np.abs(r - 1) < 0.02 + 3 * err).all(), (r, err, n)
    assert abs(np.average(r, weights=n) - 1) < 0.02


def test_validate_refuses_missing_jes_tables(write_job, capsys):
    from hepreco.framework.cli import main

    with open(os.path.join(JOBS, "main.yaml")) as f:
        text = f.read()
    entry = "{type: JetCalibration, name: AntiKt4Calibrated, jets: AntiKt4LCTopoJets"
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if entry in ln)
    path = write_job(text.replace(entry, entry + ", file: /no/such.h5"))
    assert main(["validate", path]) == 2
    assert capsys.readouterr().err.startswith(f"hepreco: error: {path}:{line}: AntiKt4Calibrated.file: no artefact "
                                              "/no/such.h5: the file '/no/such.h5' does not exist; derive it with")
    # no table is shipped for the calogan geometry: refused before any event, naming what it looked for
    assert main(["validate", os.path.join(JOBS, "main.yaml"), "--set", "GeometrySvc.geometry=calogan"]) == 2
    assert "LocalHadronicCalibration.file: no artefact lcw-calogan" in capsys.readouterr().err
