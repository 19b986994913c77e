"""Dataset loading: splits, class selection, preprocessing fitted on the train split, the data hash."""
import os
import shutil

import numpy as np
import pytest

from hepreco.algorithms.ml import data
from hepreco.algorithms.ml.splits import TEST, TRAIN, VALIDATION
from hepreco.framework.errors import ConfigurationError
from hepreco.framework.io import read

from . import synthetic


def test_splits_follow_the_split_field_and_preprocessing_uses_the_train_split_only(dataset):
    spec = data.InputSpec("features", ["m", "tau21"])
    ds = data.load(dataset, "JetDataset", spec, labels=["qcd", "w"], classes=["qcd", "w"])
    import awkward as ak

    flat = ak.flatten(read(dataset)["JetDataset"], axis=1)
    split = ak.to_numpy(flat.split)
    assert [len(ds.splits[s]) for s in (TRAIN, VALIDATION, TEST)] == [int((split == s).sum()) for s in range(3)]
    m_train = ak.to_numpy(flat.m)[split == TRAIN]
    assert ds.preprocessing["m"]["mean"] == pytest.approx(m_train.mean(), rel=1e-6)
    assert ds.preprocessing["m"]["std"] == pytest.approx(m_train.std(), rel=1e-6)
    x = ds.splits[TRAIN].inputs[0]
    np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(axis=0), 1, atol=1e-4)
    assert ds.classes == ["qcd", "w"] and set(np.unique(ds.splits[TRAIN].target)) == {0, 1}


def test_classes_can_be_selected_and_merged():
    names, table = data.class_map(["qcd", "w", "z", "top"], {"bkg": ["qcd"], "boson": ["w", "z"]})
    assert names == ["bkg", "boson"] and table.tolist() == [0, 1, 1, -1]
    names, table = data.class_map(["qcd", "w", "z", "top"], ["top", "qcd"])
    assert names == ["top", "qcd"] and table.tolist() == [1, -1, -1, 0]
    with pytest.raises(ConfigurationError, match=r"class 'W' is not one of the dataset's labels"):
        data.class_map(["qcd", "w"], ["qcd", "W"])


def test_set_preprocessing_ignores_the_padding_and_keeps_it_zero():
    cols = {"const_deta": np.array([[1.0, 3.0, 0.0], [5.0, 0.0, 0.0]], np.float32),
            "const_pt_frac": np.array([[0.7, 0.3, 0.0], [1.0, 0.0, 0.0]], np.float32),
            "n_const": np.array([2, 1], np.int32)}
    spec = data.InputSpec("set", ["const_deta"], weight="const_pt_frac")
    prep = data.fit_preprocessing(cols, spec)
    assert prep["const_deta"] == {"mean": 3.0, "std": pytest.approx(np.std([1.0, 3.0, 5.0]))}
    x, mask = data.model_inputs(cols, spec, prep)
    assert mask.tolist() == [[1, 1, 0], [1, 0, 0]]
    assert x.shape == (2, 3, 2)
    np.testing.assert_allclose(x[..., 0], cols["const_pt_frac"])  # the EFN weight comes first, unscaled
    np.testing.assert_allclose(x[0, :2, 1], (np.array([1.0, 3.0]) - 3.0) / np.std([1.0, 3.0, 5.0]), rtol=1e-6)
    assert x[0, 2, 1] == 0 and x[1, 1:, 1].tolist() == [0, 0]
    # undefined values: a constituent's at the mean (0), a weight's 0, the padding 0 whatever it holds
    cols["const_deta"][0, 1] = np.nan
    cols["const_deta"][1, 2] = np.inf
    cols["const_pt_frac"][0, 0] = np.inf
    x, _ = data.model_inputs(cols, spec, prep)
    assert x[0, :, 0].tolist() == [0, pytest.approx(0.3), 0] and x[0, 1, 1] == 0 and x[1, 2].tolist() == [0, 0]
    assert np.isfinite(x).all()


def test_undefined_feature_values_sit_at_the_mean():
    cols = {"tau21": np.array([0.2, np.nan, 0.4, np.inf], np.float32)}
    spec = data.InputSpec("features", ["tau21"])
    prep = data.fit_preprocessing(cols, spec)
    assert prep["tau21"]["mean"] == pytest.approx(0.3) and prep["tau21"]["std"] == pytest.approx(0.1)
    (x,) = data.model_inputs(cols, spec, prep)
    np.testing.assert_allclose(x[:, 0], [-1.0, 0.0, 1.0, 0.0], atol=1e-6)


def test_regression_target_relative_to_the_summed_cells_round_trips():
    cols = {"cells_a": np.array([[[1.0, 2.0]], [[3.0, 5.0]]], np.float32), "true_e": np.array([6.0, 4.0])}
    spec = data.InputSpec("cells", ["cells_a"])
    ref = data.reference_energy(cols, data.CELLS_SUM, spec)
    assert ref.tolist() == [3.0, 8.0]
    y, prep = data.encode_target(cols["true_e"], ref)
    assert prep["transform"] == "log_ratio" and prep["mean"] == pytest.approx((np.log(2.0) + np.log(0.5)) / 2)
    np.testing.assert_allclose(data.decode_target(y, ref, prep), [6.0, 4.0], rtol=1e-6)
    # a window with almost no energy: the ratio is taken against the floor, not a near-zero sum
    y, prep = data.encode_target(np.array([6.0, 4.0, 5.0]), np.array([3.0, 8.0, 1e-4]))
    assert np.all(np.isfinite(y)) and data.decode_target(y, np.array([3.0, 8.0, 1e-4]), prep)[2] == pytest.approx(5.0)


def test_the_data_hash_covers_the_content_of_the_files_read(tmp_path):
    a = synthetic.write(str(tmp_path / "a"), n_events=30)
    b = str(tmp_path / "b")
    shutil.copytree(a, b)
    c = synthetic.write(str(tmp_path / "c"), n_events=30, seed=5)
    sha = {k: data.data_sha256(data.part_files(data.expand([p]))) for k, p in (("a", a), ("b", b), ("c", c))}
    assert sha["a"] == sha["b"] != sha["c"]
    assert data.expand([os.path.join(str(tmp_path), "*")]) == [a, b, c]
    with pytest.raises(ConfigurationError, match=r"data.files: '.*nothing\*' does not exist"):
        data.expand([str(tmp_path / "nothing*")])


def test_flat_weights_make_every_class_flat_with_mean_one():
    from hepreco.algorithms.ml.data import flat_weights

    rng = np.random.default_rng(3)
    x = np.concatenate([rng.exponential(100.0, 5000) + 350.0, rng.uniform(350.0, 1000.0, 3000)])
    label = np.concatenate([np.zeros(5000, int), np.ones(3000, int)])
    label[:10] = -1  # not used
    w = flat_weights(x, label, 10)
    assert np.all(w[:10] == 0)
    edges = np.linspace(x[10:].min(), x[10:].max(), 11)
    for c in (0, 1):
        sel = label == c
        assert w[sel].mean() == pytest.approx(1.0, rel=1e-6)
        h, _ = np.histogram(x[sel], edges, weights=w[sel].astype(np.float64))
        filled = h[h > 0]
        assert np.allclose(filled, filled[0], rtol=1e-5)  # flat where the class has objects
