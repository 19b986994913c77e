"""Training configurations: validated like job options, errors name the file and line."""
import glob
import os
import re

import pytest

from hepreco.algorithms.ml import config
from hepreco.framework.errors import ConfigurationError, PropertyError, UnknownNameError

from ...conftest import ROOT

GOOD = """\
name: toy
task: classification
data:
  files: [somewhere/JetDataset]
  collection: JetDataset
  labels: [qcd, w, z, top]
  classes: [qcd, top]
inputs:
  kind: features
  fields: [m, tau32]
model:
  type: mlp
  hidden: [8, 8]
training:
  epochs: 3
"""


def test_a_valid_configuration_gives_typed_sections_with_defaults(write_config):
    cfg = config.load(write_config(GOOD))
    assert cfg.model_type == "mlp" and cfg.model.hidden == [8, 8]
    assert cfg.training.epochs == 3 and cfg.training.batch_size == 256 and cfg.training.device == "cpu"
    assert cfg.to_dict()["model"] == {"type": "mlp", "hidden": [8, 8], "dropout": 0.0}


@pytest.mark.parametrize("old,new,line,message", [
    ("  epochs: 3", "  epoch: 3", 15, r"unknown key 'epoch' in training; did you mean 'epochs'\?"),
    ("  epochs: 3", "  epochs: three", 15, r"training.epochs: expected int, got 'three' \(str\)"),
    ("  epochs: 3", "  learning_rate: -1", 15, r"training.learning_rate: must be > 0.0, got -1"),
    ("  hidden: [8, 8]", "  hidden: [8, 0]", 13, r"mlp.hidden: layer sizes must be positive"),
    ("  hidden: [8, 8]", "  channels: [8]", 13, r"unknown key 'channels' in model; "),
    ("  type: mlp", "  type: mpl", 12, r"unknown model type 'mpl'; did you mean 'mlp'\?"),
    ("task: classification", "task: clasification", 2, r"train.task: 'clasification' is not one of"),
    ("  classes: [qcd, top]", "  classes: [qcd, tops]", 7, r"data.classes: 'tops' not in data.labels"),
    ("  classes: [qcd, top]", "  classes: [qcd]", 7, r"data.classes: a classifier needs at least two classes"),
    ("  kind: features", "  kind: image", 9, r"inputs.kind: model type 'mlp' reads 'features' inputs, got 'image'"),
    ("  epochs: 3", "  device: gpu", 15, r"training.device: expected cpu, cuda or cuda:N, got 'gpu'"),
    ("inputs:", "input:", 8, r"unknown section or key 'input'; did you mean 'inputs'\?"),
    ("  epochs: 3", "  disco_lambda: 5.0", 15, r"training.disco_lambda: 5.0 needs disco_feature, the field"),
    ("  fields: [m, tau32]", "  fields: [m, tau32, m]", 10, r"inputs.fields: 'm' named more than once"),
    ("  fields: [m, tau32]", "  fields: [m, label]", 10,
     r"inputs.fields: 'label' is the dataset's truth or bookkeeping \(label, weight, split, run, event, true_\*"),
    ("  fields: [m, tau32]", "  fields: [m, true_pt]", 10, r"inputs.fields: 'true_pt' is the dataset's truth"),
    ("  fields: [m, tau32]", "  fields: [m, tau32]\n  globals: [pt]", 11,
     r"inputs.globals: globals are for image and set inputs; 'features' inputs take every scalar in 'fields'"),
])
def test_errors_name_the_file_and_line_of_the_offending_key(write_config, old, new, line, message):
    path = write_config(GOOD.replace(old, new))
    with pytest.raises(ConfigurationError, match=rf"^{re.escape(path)}:{line}: .*{message}"):
        config.load(path)


def test_unknown_keys_are_unknown_name_errors_and_wrong_types_property_errors(write_config):
    with pytest.raises(UnknownNameError):
        config.load(write_config(GOOD.replace("  epochs: 3", "  epoch: 3")))
    with pytest.raises(PropertyError):
        config.load(write_config(GOOD.replace("  epochs: 3", "  epochs: 1.5")))


def test_overrides_go_through_the_same_checks(write_config):
    path = write_config(GOOD)
    cfg = config.load(path, ["training.epochs=7", "model.hidden=[4]", "data.classes={bkg: [qcd], sig: [w, z]}"])
    assert cfg.training.epochs == 7 and cfg.model.hidden == [4] and cfg.data.classes == {"bkg": ["qcd"],
                                                                                       "sig": ["w", "z"]}
    with pytest.raises(ConfigurationError, match=r"^--set training.epochs=x: training.epochs: expected int"):
        config.load(path, ["training.epochs=x"])
    with pytest.raises(ConfigurationError, match=r"--set train.epochs=1: unknown section 'train' in --set; "
                                                 r"did you mean 'training'\?"):
        config.load(path, ["train.epochs=1"])


def test_a_regression_needs_a_target_and_refuses_disco(write_config):
    text = GOOD.replace("task: classification", "task: regression")
    with pytest.raises(ConfigurationError, match=r":3: data.target: a regression needs a target field"):
        config.load(write_config(text))
    text = text.replace("  collection: JetDataset", "  collection: JetDataset\n  target: true_e")
    text += "  disco_feature: m\n  disco_lambda: 1.0\n"
    with pytest.raises(ConfigurationError, match=r":18: training.disco_lambda: DisCo decorrelation is for "):
        config.load(write_config(text))


def test_yaml_syntax_errors_and_missing_files_are_configuration_errors(write_config):
    with pytest.raises(ConfigurationError, match=r"train.yaml:\d+: YAML syntax error"):
        config.load(write_config("data: [a, \n"))
    with pytest.raises(ConfigurationError, match=r"training configuration 'nowhere.yaml' does not exist"):
        config.load("nowhere.yaml")


TRAIN_CONFIGS = sorted(glob.glob(os.path.join(ROOT, "jobs", "ml", "train_*.yaml")))


def test_there_is_one_shipped_training_configuration_per_model_type():
    types = {config.load(p).model_type for p in TRAIN_CONFIGS}
    assert types == set(config.MODEL_ARGS)
    names = {os.path.basename(p) for p in TRAIN_CONFIGS}
    assert {"train_jets_mlp.yaml", "train_jets_cnn.yaml", "train_jets_efn.yaml", "train_jets_pfn.yaml",
            "train_regression.yaml"} <= names


@pytest.mark.parametrize("path", TRAIN_CONFIGS, ids=os.path.basename)
def test_shipped_training_configurations_validate(path):
    cfg = config.load(path)
    assert cfg.top.name and all(f.startswith("output/ml/") for f in cfg.data.files)
