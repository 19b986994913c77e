"""ROC, AUC, background rejection and distance correlation against hand-computed cases."""
import numpy as np
import pytest

from hepreco.algorithms.ml import metrics


def mann_whitney(sig_scores, bkg_scores):
    """P(signal score > background score), ties counted one half: the rank formula of the AUC."""
    wins = sum((s > b) + 0.5 * (s == b) for s in sig_scores for b in bkg_scores)
    return wins / (len(sig_scores) * len(bkg_scores))


def test_auc_of_a_small_example_equals_the_hand_count_of_ordered_pairs():
    # signal 0.9, 0.8, 0.4; background 0.7, 0.4, 0.2, 0.1: of 12 pairs, signal wins 2 + 2 + 2 = 6 outright
    # against (0.7: loses for 0.4; 0.4 ties; 0.2, 0.1 win) -> 0.9: 4, 0.8: 4, 0.4: 2 + 0.5 = 10.5 of 12
    sig = [0.9, 0.8, 0.4]
    bkg = [0.7, 0.4, 0.2, 0.1]
    y = np.r_[np.ones(3), np.zeros(4)]
    s = np.r_[sig, bkg]
    assert mann_whitney(sig, bkg) == pytest.approx(10.5 / 12)
    assert metrics.auc(y, s) == pytest.approx(10.5 / 12)


def test_auc_matches_the_rank_formula_on_random_scores_with_weights_of_one():
    rng = np.random.default_rng(4)
    s = np.round(rng.normal(size=60), 1)  # rounding makes ties
    y = rng.integers(0, 2, 60).astype(bool)
    assert metrics.auc(y, s, np.ones(60)) == pytest.approx(mann_whitney(s[y], s[~y]))


def test_integer_weights_count_as_repeated_objects():
    y = np.array([1, 1, 0, 0, 0], bool)
    s = np.array([0.9, 0.3, 0.5, 0.2, 0.1])
    w = np.array([2, 1, 1, 3, 1])
    repeated = np.repeat(np.arange(5), w)
    assert metrics.auc(y, s, w) == pytest.approx(metrics.auc(y[repeated], s[repeated]))


def test_roc_curve_runs_from_origin_to_one_with_a_point_per_distinct_score():
    eff_b, eff_s, thr = metrics.roc_curve([1, 0, 1, 0], [0.8, 0.8, 0.6, 0.1])
    np.testing.assert_allclose(eff_s, [0, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(eff_b, [0, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(thr[1:], [0.8, 0.6, 0.1])


def test_rejection_is_one_over_background_efficiency_at_the_working_point():
    # 4 signal at 0.9, 0.8, 0.7, 0.6; 10 background, one at 0.85 and nine below the signal
    y = np.r_[np.ones(4), np.zeros(10)].astype(bool)
    s = np.r_[[0.9, 0.8, 0.7, 0.6], [0.85] + [0.1] * 9]
    # 50% signal efficiency: cut at 0.8, one background of ten passes -> eps_B = 1/10
    assert metrics.rejection(y, s, 0.5) == pytest.approx(10.0)
    # 30%: between the cuts at 0.85 (eps_S 1/4, eps_B 1/10) and 0.8 (1/2, 1/10)
    assert metrics.rejection(y, s, 0.3) == pytest.approx(10.0)
    # 25%: the cut at 0.9 keeps no background
    assert metrics.rejection(y, s, 0.25) == float("inf")
    # 75%: cut at 0.7 keeps the same background -> 10; 100%: at 0.6, still 1/10
    assert metrics.rejection(y, s, 1.0) == pytest.approx(10.0)


def test_distance_correlation_is_one_for_equal_zero_for_independent_and_positive_for_nonlinear():
    rng = np.random.default_rng(1)
    x = rng.normal(size=800)
    assert metrics.distance_correlation(x, 3 * x + 1) == pytest.approx(1.0)
    assert metrics.distance_correlation(x, rng.normal(size=800)) < 0.1
    assert np.corrcoef(x, x ** 2)[0, 1] == pytest.approx(0.0, abs=0.15)  # no linear correlation ...
    assert metrics.distance_correlation(x, x ** 2) > 0.4                 # ... but a dependence


def test_distance_correlation_of_a_hand_computed_pair():
    # x = (0, 1), y = (0, 2): any two-point pair is perfectly dependent
    assert metrics.distance_correlation([0.0, 1.0], [0.0, 2.0]) == pytest.approx(1.0)
    assert metrics.distance_correlation([0.0, 1.0], [5.0, 5.0]) == 0.0


def test_response_and_resolution_in_bins_of_the_true_value():
    true = np.r_[np.full(100, 10.0), np.full(100, 100.0)]
    pred = true * np.r_[np.linspace(0.9, 1.1, 100), np.linspace(0.99, 1.01, 100)]
    out = metrics.response_resolution(true, pred, [5, 50, 500])
    assert out["count"] == [100, 100]
    np.testing.assert_allclose(out["response"], [1.0, 1.0], atol=2e-3)
    np.testing.assert_allclose(out["resolution"], [0.068, 0.0068], rtol=0.05)


def test_tied_infinite_scores_are_one_point_of_the_roc_curve_without_warnings():
    import warnings

    y = np.array([1, 1, 0, 0, 0, 1])
    score = np.array([-np.inf, 0.9, -np.inf, -np.inf, 0.2, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        eff_b, eff_s, thresholds = metrics.roc_curve(y == 1, score)
    assert list(thresholds) == [np.inf, 0.9, 0.5, 0.2, -np.inf]  # the three -inf objects pass or fail together
    assert list(eff_b) == [0.0, 0.0, 0.0, 1 / 3, 1.0] and list(eff_s) == [0.0, 1 / 3, 2 / 3, 2 / 3, 1.0]


def test_the_training_scores_a_class_against_the_background_by_their_likelihood_ratio():
    from hepreco.algorithms.ml.training import classification_metrics

    # classes [qcd, w, z]; a W jet that looks like a Z has a small p_w but a large p_w / (p_w + p_qcd)
    probs = np.array([[0.1, 0.2, 0.7],    # w, Z-like
                      [0.6, 0.3, 0.1],    # qcd
                      [0.5, 0.45, 0.05],  # qcd
                      [0.3, 0.6, 0.1]])   # w
    target = np.array([1, 0, 0, 1])
    np.testing.assert_allclose(metrics.versus(probs, 1, 0), [2 / 3, 1 / 3, 0.45 / 0.95, 2 / 3])
    table = classification_metrics(probs, target, np.ones(4), ["qcd", "w", "z"])
    assert table["w_vs_qcd"]["auc"] == 1.0  # on p_w alone the Z-like W jet ranks below both QCD jets: 0.5
    assert metrics.auc(target == 1, probs[:, 1]) == 0.5
    assert table["z_vs_qcd"]["signal"] == 0 and table["w_vs_qcd"]["background"] == 2
