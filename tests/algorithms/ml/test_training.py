"""Training: deterministic for a seed, learns a separable task, writes the artefact, metrics and plots."""
import json
import os
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hepreco.algorithms.ml import artefact, config, data, runtime, training  # noqa: E402
from hepreco.algorithms.ml.splits import TEST  # noqa: E402
from hepreco.framework import artefacts as framework_artefacts  # noqa: E402
from hepreco.framework.cli import main  # noqa: E402
from hepreco.framework.errors import ConfigurationError  # noqa: E402

from .conftest import MLP_CONFIG  # noqa: E402


def _train(write_config, dataset, folder, seed=3, epochs=2, text=MLP_CONFIG, name="train.yaml"):
    path = write_config(text.format(files=dataset, epochs=epochs, seed=seed), name)
    return training.train(config.load(path), str(folder), progress=False, plots=False)


def test_two_trainings_with_one_seed_give_identical_weights_and_another_seed_does_not(write_config, dataset,
                                                                                      tmp_path):
    a = artefact.read_weights(_train(write_config, dataset, tmp_path / "a")["artefact"])
    b = artefact.read_weights(_train(write_config, dataset, tmp_path / "b")["artefact"])
    c = artefact.read_weights(_train(write_config, dataset, tmp_path / "c", seed=4)["artefact"])
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert any(not np.array_equal(a[k], c[k]) for k in a)


def test_a_learnable_task_reaches_a_high_auc_on_the_test_split(trained_mlp):
    _, result = trained_mlp
    test = result["metrics"]["test"]["w_vs_qcd"]
    assert test["auc"] > 0.95, test
    assert result["metrics"]["test"]["accuracy"] > 0.85
    loss = result["metrics"]["loss"]
    assert loss["train"][-1] < loss["train"][0] and len(loss["validation"]) == result["metrics"]["epochs"]


def test_training_writes_the_artefact_metrics_and_plots_into_the_output_folder(trained_mlp):
    path, result = trained_mlp
    folder = os.path.dirname(path)
    assert os.path.basename(path) == "toy-mlp@1.safetensors"
    assert sorted(os.listdir(folder)) == ["loss.png", "metrics.json", "roc.png", "scores.png",
                                          "toy-mlp@1.safetensors", "toy-mlp@1.safetensors.json"]
    with open(os.path.join(folder, "metrics.json")) as f:
        metrics = json.load(f)
    assert set(metrics["test"]["w_vs_qcd"]) == {"auc", "rejection_50", "rejection_30", "signal", "background"}
    meta = framework_artefacts.read_metadata(path)
    assert meta["kind"] == "model" and meta["schema"] == "hepreco-model/1"
    assert meta["classes"] == ["qcd", "w"] and meta["task"] == "classification"
    assert meta["inputs"] == {"kind": "features", "fields": ["m", "pt", "tau21"],
                              "shapes": {"m": [], "pt": [], "tau21": []}}
    assert meta["model"] == {"type": "mlp", "hidden": [16, 16], "dropout": 0.0, "n_outputs": 2, "n_inputs": 3}
    assert set(meta["preprocessing"]) == {"m", "pt", "tau21"}
    assert meta["training"]["seed"] == 3 and len(meta["training"]["data_sha256"]) == 64
    assert meta["training"]["data_sha256"] == data.data_sha256(data.part_files([os.path.dirname(
        meta["training"]["data_files"][0])]))
    assert os.path.getsize(path) < 2_000_000


def test_the_artefact_round_trips_to_a_model_with_the_same_outputs(trained_mlp, dataset, write_config):
    path, _ = trained_mlp
    loaded = artefact.load(path)
    cfg = config.load(write_config(MLP_CONFIG.format(files=dataset, epochs=1, seed=3)))
    ds = training.load_dataset(cfg)
    x = ds.splits[TEST].inputs
    # the weights in the module are those in the file, bit for bit
    weights = artefact.read_weights(path)
    for k, v in loaded.module.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), weights[k])
    # a model built by hand from the metadata with these weights gives the same outputs
    from hepreco.algorithms.ml import models

    by_hand = models.build(loaded.meta["model"])
    by_hand.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    by_hand.eval()
    with torch.no_grad():
        expected = by_hand(torch.from_numpy(x[0])).numpy()
    np.testing.assert_array_equal(runtime.predict(loaded.module, x, len(x[0])), expected)
    np.testing.assert_allclose(runtime.predict(loaded.module, x, 7), expected, rtol=1e-5, atol=1e-5)
    # the preprocessing in the metadata is the one fitted on the train split
    assert loaded.preprocessing == ds.preprocessing
    assert not loaded.module.training


def test_hepreco_train_command_and_artefacts_install(write_config, dataset, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HEPRECO_ARTEFACTS", str(tmp_path / "user"))
    path = write_config(MLP_CONFIG.format(files=dataset, epochs=1, seed=1))
    out = tmp_path / "out"
    assert main(["train", path, "--set", "training.epochs=2", "--set", "version=2", "-o", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "trained toy-mlp@2.safetensors: 2 epoch(s)" in text and "hepreco artefacts install" in text
    n_test = json.loads((out / "metrics.json").read_text())["objects"]["test"]
    assert 0 < n_test < 1000  # the toy dataset: the figures are said to be rough
    assert re.search(rf"note: these figures come from {n_test} test objects \(an accuracy is uncertain by about "
                     rf"0\.\d\d\); make more events for a measurement", text)
    assert main(["artefacts", "install", str(out / "toy-mlp@2.safetensors")]) == 0
    assert "installed toy-mlp@2 (model," in capsys.readouterr().out
    assert os.path.exists(tmp_path / "user" / "toy-mlp@2.safetensors.json")
    assert main(["train", path, "--set", "training.epochs=zero", "-o", str(out)]) == 2
    assert "hepreco: error: --set training.epochs=zero: training.epochs: expected int" in capsys.readouterr().err
    # a model of a built-in's name and version takes its place: said when it is installed
    assert main(["train", path, "--set", "name=jet-tagger-mlp", "--set", "version=1", "-o", str(tmp_path / "same"),
                 "--quiet"]) == 0
    assert main(["artefacts", "install", str(tmp_path / "same" / "jet-tagger-mlp@1.safetensors")]) == 0
    err = capsys.readouterr().err
    assert "hepreco: warning: it takes the place of the builtin jet-tagger-mlp@1" in err and "remove" in err


def test_written_artefacts_are_readable_like_any_new_file(trained_mlp):
    path, result = trained_mlp
    mask = os.umask(0)
    os.umask(mask)
    assert path + ".json" in result["files"]
    for written in (path, path + ".json"):
        assert os.stat(written).st_mode & 0o777 == 0o666 & ~mask, written


SET_CONFIG = """\
name: toy-{type}
task: classification
data:
  files: [{{files}}]
  collection: JetDataset
  labels: [qcd, w]
  classes: [qcd, w]
inputs:
{inputs}
model:
  type: {type}
{model}
training:
  epochs: {{epochs}}
  batch_size: 64
  learning_rate: 0.005
  seed: {{seed}}
  threads: 1
"""
CASES = {
    "cnn": ("  kind: image\n  fields: [image]", "  channels: [4, 4]\n  dense: [16]"),
    "efn": ("  kind: set\n  weight: const_pt_frac\n  fields: [const_deta, const_dphi]",
            "  phi: [16]\n  latent: 8\n  f: [16]"),
    "pfn": ("  kind: set\n  fields: [const_pt_frac, const_deta, const_dphi]", "  phi: [16]\n  latent: 8\n  f: [16]"),
    "particlenet": ("  kind: set\n  fields: [const_deta, const_dphi, const_pt_frac]",
                    "  k: 4\n  edge: [[16, 16]]\n  f: [16]"),
    "cellnet": ("  kind: cells\n  fields: [cells_em1, cells_em2]", "  channels: [2]\n  dense: [8]"),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_every_model_type_trains_and_its_artefact_reloads(kind, write_config, dataset, tmp_path):
    inputs, model = CASES[kind]
    text = SET_CONFIG.format(type=kind, inputs=inputs, model=model)
    result = _train(write_config, dataset, tmp_path / kind, epochs=3, text=text)
    loaded = artefact.load(result["artefact"])
    assert loaded.spec.kind == config.MODEL_INPUTS[kind]
    if kind in ("efn", "pfn", "particlenet"):
        assert loaded.spec.shapes["const_deta"] == [10]
    if kind != "cellnet":  # the cells of the synthetic set do not depend on the label
        assert result["metrics"]["test"]["w_vs_qcd"]["auc"] > 0.8, result["metrics"]["test"]


REGRESSION = """\
name: toy-regression
task: regression
data:
  files: [{files}]
  collection: JetDataset
  target: true_e
  relative_to: cells_sum
inputs:
  kind: cells
  fields: [cells_em1, cells_em2]
model:
  type: cellnet
  channels: [2]
  dense: [16]
training:
  epochs: {epochs}
  batch_size: 64
  seed: {seed}
  threads: 1
"""


def test_a_regression_relative_to_the_summed_cells_recovers_the_true_energy(write_config, dataset, tmp_path):
    result = _train(write_config, dataset, tmp_path / "reg", epochs=4, text=REGRESSION)
    test = result["metrics"]["test"]
    # the synthetic cells hold 95% of the energy with a 5% smearing: the response must come back to 1
    assert test["response"] == pytest.approx(1.0, abs=0.03)
    assert test["resolution"] < 0.08
    meta = artefact.load(result["artefact"]).meta
    assert meta["regression"] == {"target": "true_e", "relative_to": "cells_sum"} and meta["classes"] == []


def test_disco_term_lowers_the_mass_dependence_of_the_score(write_config, dataset, tmp_path):
    text = MLP_CONFIG.replace("  threads: 1\n", "  threads: 1\n  disco_feature: m\n  disco_lambda: {lam}\n")
    text = text.replace("fields: [m, pt, tau21]", "fields: [m, tau21]").replace("batch_size: 64", "batch_size: 256")
    plain = _train(write_config, dataset, tmp_path / "p", epochs=6, text=text.replace("{lam}", "0.0"))
    disco = _train(write_config, dataset, tmp_path / "d", epochs=6, text=text.replace("{lam}", "20.0"))
    d_plain = plain["metrics"]["test"]["distance_correlation"]
    d_disco = disco["metrics"]["test"]["distance_correlation"]
    assert d_disco < 0.6 * d_plain, (d_plain, d_disco)


@pytest.mark.parametrize("old,new,line,message", [
    ("files: [{files}]", "files: [{files}/nowhere]", 5, r"data.files: '.*nowhere' does not exist"),
    ("collection: JetDataset", "collection: JetData", 6, r"read: collection 'JetData' is not in .*; did you mean "
                                                         r"'JetDataset'\?"),
    ("fields: [m, pt, tau21]", "fields: [m, pt, tau22]", 11, r"the dataset has no field 'tau22'; did you mean "
                                                             r"'tau21'\?"),
])
def test_dataset_errors_point_at_the_configuration_line(write_config, dataset, tmp_path, old, new, line, message):
    path = write_config(MLP_CONFIG.replace(old, new).format(files=dataset, epochs=1, seed=1))
    with pytest.raises(ConfigurationError, match=rf"^{re.escape(path)}:{line}: {message}"):
        training.train(config.load(path), str(tmp_path / "out"), progress=False)
    assert not os.path.exists(tmp_path / "out")


def test_hepreco_train_without_torch_prints_the_install_hint(write_config, dataset, tmp_path, capsys, monkeypatch):
    import sys

    path = write_config(MLP_CONFIG.format(files=dataset, epochs=1, seed=1))
    monkeypatch.setitem(sys.modules, "torch", None)  # what `import torch` sees when it is not installed
    assert main(["train", path, "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == (
        "hepreco: error: hepreco train needs the optional package 'torch', which is not installed; install it "
        'with: pip install torch==2.13.0 (the CPU build), or pip install "hepreco[ml]"')
