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
