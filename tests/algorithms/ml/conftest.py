"""Shared fixtures of the ML tests: a small synthetic dataset and a model trained on it (once per session)."""
from __future__ import annotations

import pytest

from . import synthetic


MLP_CONFIG = """\
name: toy-mlp
version: 1
task: classification
data:
  files: [{files}]
  collection: JetDataset
  labels: [qcd, w]
  classes: [qcd, w]
inputs:
  kind: features
  fields: [m, pt, tau21]
model:
  type: mlp
  hidden: [16, 16]
training:
  epochs: {epochs}
  batch_size: 64
  learning_rate: 0.01
  seed: {seed}
  threads: 1
"""


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """Folder of a synthetic jet dataset (JetDataset records, labels qcd/w)."""
    return synthetic.write(str(tmp_path_factory.mktemp("ml") / "JetDataset"))


@pytest.fixture
def write_config(tmp_path):
    def write(text: str, name: str = "train.yaml") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return write


@pytest.fixture(scope="session")
def trained_mlp(dataset, tmp_path_factory):
    """``(artefact path, training summary)`` of a small MLP trained on the synthetic dataset."""
    from hepreco.algorithms.ml import config, training

    folder = tmp_path_factory.mktemp("mlp")
    path = folder / "train.yaml"
    path.write_text(MLP_CONFIG.format(files=dataset, epochs=8, seed=3))
    result = training.train(config.load(str(path)), str(folder / "out"), progress=False)
    return result["artefact"], result
