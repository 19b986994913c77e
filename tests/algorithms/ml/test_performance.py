"""The performance study's pieces: the mass window, the likelihood baseline, the tables."""
import numpy as np
import pytest

from hepreco.algorithms.ml import metrics
from hepreco.algorithms.ml.performance import likelihood_baseline, markdown, narrowest_window


def test_narrowest_window_holds_the_fraction_and_is_shortest():
    values = np.array([0.0, 10.0, 11.0, 12.0, 13.0, 30.0, 31.0, 100.0, np.nan])
    lo, hi = narrowest_window(values, 0.5)  # 4 of 8 finite values
    assert (lo, hi) == (10.0, 13.0)
    rng = np.random.default_rng(1)
    x = rng.normal(80.0, 8.0, 20000)
    lo, hi = narrowest_window(x, 0.6827)
    assert lo == pytest.approx(72.0, abs=0.4) and hi == pytest.approx(88.0, abs=0.4)  # +-1 sigma of a Gaussian


def test_likelihood_baseline_reaches_the_auc_of_the_true_likelihood_ratio():
    # two independent Gaussian variables, shifted by 1 sigma each for the signal: the optimal
    # (likelihood-ratio) AUC is Phi(sqrt(2) / sqrt(2)) = Phi(1) = 0.8413
    rng = np.random.default_rng(7)
    n = 40000
    y = rng.integers(0, 2, n)
    cols = {"a": rng.normal(y, 1.0), "b": rng.normal(y, 1.0)}
    train, test = np.arange(n) < n // 2, np.arange(n) >= n // 2
    score = likelihood_baseline({k: v[train] for k, v in cols.items()}, y[train],
                                {k: v[test] for k, v in cols.items()}, ["a", "b"])
    assert metrics.auc(y[test] == 1, score) == pytest.approx(0.8413, abs=0.01)
    assert np.mean((score > 0.5) == (y[test] == 1)) == pytest.approx(0.76, abs=0.01)  # Bayes accuracy Phi(d / 2), d = sqrt(2)


def test_markdown_tables_list_every_method():
    table = {"tasks": {"w_vs_qcd": {"methods": {"cuts": {"auc": 0.7, "rejection_50": 10.0, "rejection_30": 30.0},
                                                 "mlp": {"auc": 0.9, "rejection_50": 20.0, "rejection_30": 60.0}}}}}
    text = markdown(table)
    assert "| w_vs_qcd | cuts | 0.700 | 10.0 | 30.0 |" in text and "| w_vs_qcd | mlp | 0.900 |" in text
    assert "| net | 87.5% | 93.0% |" in markdown({"methods": {"net": {"accuracy": 0.875, "auc": 0.93}}})


def test_regression_study_calibrates_the_summed_cells_and_fits_the_resolution(tmp_path):
    import os

    import awkward as ak

    from hepreco.algorithms.ml.performance import regression
    from hepreco.framework.io.hdf5 import write_hdf5

    from . import synthetic

    ids, recs = synthetic.records(n_events=3000, seed=4)  # the cells hold 0.95 of true_e
    recs = ak.with_field(recs, ak.where(recs.label == 1, 211, 11), "true_pdg")
    os.makedirs(tmp_path / "data")
    write_hdf5(str(tmp_path / "data" / "part-00000.h5"), ids, {"RegressionDataset": recs})
    table = regression([str(tmp_path / "data")], [], str(tmp_path / "out"))
    assert set(table["particles"]) == {"electron", "charged pion"}
    (name, linear), = table["particles"]["electron"].items()
    assert name.startswith("linear (sum x 1.05")  # 1 / 0.95
    filled = [r for r, n in zip(linear["response"], linear["count"]) if n >= 10]
    assert filled and all(abs(r - 1.0) < 0.03 for r in filled)
    assert 0.025 < linear["resolution_10_100"] < 0.045  # two layers with an independent 5% spread each: 3.5%
    assert "| electron | linear" in markdown(table)

    # closure on an independent sample (another seed, where the cells hold 0.90 of true_e): evaluated whole,
    # with the constant of the first sample's training split, so its response shows the miscalibration
    ids2, recs2 = synthetic.records(n_events=1000, seed=9)
    recs2 = ak.with_field(recs2, ak.where(recs2.label == 1, 211, 11), "true_pdg")
    recs2 = ak.with_field(recs2, recs2.true_e * 0.95 / 0.90, "true_e")
    os.makedirs(tmp_path / "closure")
    write_hdf5(str(tmp_path / "closure" / "part-00000.h5"), ids2, {"RegressionDataset": recs2})
    closure = regression([str(tmp_path / "data")], [], str(tmp_path / "out2"),
                         closure_data=[str(tmp_path / "closure")])
    (name2, linear2), = closure["particles"]["electron"].items()
    assert name2 == name  # the constant comes from --data
    assert sum(linear2["count"]) == int(ak.sum(recs2.true_pdg == 11))  # every closure row, not a test split
    filled = [r for r, n in zip(linear2["response"], linear2["count"]) if n >= 10]
    assert filled and all(abs(r - 0.90 / 0.95) < 0.03 for r in filled)


def test_jensen_shannon_divergence_is_zero_for_one_shape_and_one_bit_for_disjoint_ones():
    from hepreco.algorithms.ml.performance import jsd

    assert jsd([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]) == pytest.approx(0.0, abs=1e-12)  # normalised first
    assert jsd([1.0, 0.0], [0.0, 5.0]) == pytest.approx(1.0)
    p, q = [0.2, 0.5, 0.3], [0.6, 0.1, 0.3]
    assert jsd(p, q) == pytest.approx(jsd(q, p)) and 0.0 < jsd(p, q) < 1.0


def test_a_class_of_several_labels_scores_each_of_them():
    from types import SimpleNamespace

    from hepreco.algorithms.ml.performance import class_labels

    merged = SimpleNamespace(classes=["qcd", "boson"],
                             meta={"training": {"config": {"data": {"classes": {"qcd": ["qcd"], "boson": ["w", "z"]}}}}})
    assert class_labels(merged) == [{"qcd"}, {"w", "z"}]
    plain = SimpleNamespace(classes=["qcd", "w", "z", "top"], meta={"training": {"config": {"data": {"classes": [
        "qcd", "w", "z", "top"]}}}})
    assert class_labels(plain) == [{"qcd"}, {"w"}, {"z"}, {"top"}]


def test_sculpting_separates_a_tagger_that_learnt_the_mass_from_one_that_did_not():
    from hepreco.algorithms.ml.performance import sculpting

    rng = np.random.default_rng(3)
    n_qcd, n_w = 20000, 5000
    mass = np.r_[rng.exponential(40.0, n_qcd), rng.normal(80.0, 8.0, n_w)]
    label = np.r_[np.zeros(n_qcd, int), np.ones(n_w, int)]
    weight = np.ones(len(mass))
    near_w = np.exp(-0.5 * ((mass - 80.0) / 10.0) ** 2)  # a score that is the mass, in effect
    blind = np.where(label == 1, rng.uniform(0.3, 1.0, len(mass)), rng.uniform(0.0, 1.0, len(mass)))
    scores = {"mass-like": ([{"qcd"}, {"w", "z"}], np.c_[1 - near_w, near_w]),
              "blind": ([{"qcd"}, {"w"}], np.c_[1 - blind, blind])}
    out = sculpting(scores, {"sd_m": mass}, label, weight, ["qcd", "w", "z", "top"])
    masslike, flat = out["models"]["mass-like"], out["models"]["blind"]
    assert masslike["jsd"] > 0.3 and masslike["jsd"] > 10 * masslike["jsd_random"]
    assert flat["jsd"] < 3 * flat["jsd_random"] + 0.005  # a mass-blind cut sculpts no more than chance
    assert flat["qcd_jets_kept"] == int((blind[:n_qcd] > np.quantile(blind[n_qcd:], 0.5)).sum())


def test_egamma_study_with_three_classes_makes_one_task_per_class_against_the_first(tmp_path):
    import os

    import awkward as ak

    from hepreco.algorithms.ml.performance import egamma
    from hepreco.framework.io.hdf5 import write_hdf5

    from . import synthetic

    # class 0 "jet" (background of both tasks), 1 and 2 from two synthetic samples of different separation;
    # "m" and "tau21" stand in for shower shapes
    ids, recs = synthetic.records(n_events=3000, seed=5)
    recs = ak.with_field(recs, ak.where((recs.label == 1) & (recs.event % 2 == 1), 2, recs.label), "label")
    os.makedirs(tmp_path / "data")
    write_hdf5(str(tmp_path / "data" / "part-00000.h5"), ids, {"EgammaDataset": recs})
    table = egamma([str(tmp_path / "data")], [], str(tmp_path / "out"), shapes=("m", "tau21"),
                   labels=["jet", "electron", "photon"])
    tasks = table["egamma_tasks"]
    assert set(tasks) == {"electron_vs_jet", "photon_vs_jet"}
    flat = ak.flatten(recs)
    for task, c in (("electron_vs_jet", 1), ("photon_vs_jet", 2)):
        t = tasks[task]
        test = flat.split == 2
        assert t["objects"] == {"test": int(ak.sum(test & ((flat.label == 0) | (flat.label == c)))),
                                "signal": int(ak.sum(test & (flat.label == c)))}
        assert t["methods"]["shower-shape likelihood"]["auc"] > 0.9  # the mass separates the synthetic classes
    assert "| photon_vs_jet | shower-shape likelihood |" in markdown(table)


def test_performance_command_errors_are_one_line_and_infinite_figures_are_null(tmp_path, capsys):
    import json

    from hepreco.algorithms.ml.performance import _write, main

    assert main(["egamma", "--data", str(tmp_path / "nothing"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hepreco: error: --data: ") and "does not exist" in err and "Traceback" not in err
    assert main(["egamma", "--data", str(tmp_path), "--model", "no-such-model", "-o", str(tmp_path / "out")]) == 2
    assert "--model no-such-model: no such file, and no built-in or installed model" in capsys.readouterr().err
    _write({"rejection_30": float("inf"), "auc": np.float32(0.5), "n": np.int64(3)}, str(tmp_path))
    assert json.loads((tmp_path / "performance.json").read_text()) == {"rejection_30": None, "auc": 0.5, "n": 3}
