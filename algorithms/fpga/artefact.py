"""The Level-1 network artefact: quantised integer weights, per-layer types, tables, the hls4ml record.

One JSON file (no pickles) with a JSON sidecar of artefact metadata (kind
``l1nn``, schema ``hepreco-l1nn/1``; see :mod:`hepreco.framework.artefacts`):

- ``input_type``, ``n_inputs``, ``inputs`` (feature names), ``outputs`` (class names);
- ``layers``: per layer its kind and ``ap_fixed`` types; Dense layers their raw
  integer ``weights[n_in][n_out]`` and ``biases``; the softmax its exp and
  inverse tables as raw integers;
- ``hls4ml``: the configuration it was converted with, the hls4ml version, the
  hash of the compiled project it was checked against, the C++ types read
  from that project;
- ``validation``: inputs compared with hls4ml's ``predict()`` and ``trace()``
  and how many were bit-exact;
- ``preprocessing`` (optional): ``mean`` and ``std`` per input; the plugin
  feeds ``(x - mean) / std`` (float64) to the network's input conversion.
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np

from hepreco.framework.artefacts import write_metadata

from .emulator import Activation, Dense, Network, Softmax, UnsupportedNetwork
from .fixed import FixedType

KIND = "l1nn"
SCHEMA = "hepreco-l1nn/1"


def network_to_dict(net: Network) -> dict:
    layers = []
    for layer in net.layers:
        if isinstance(layer, Dense):
            layers.append({"kind": "dense", "name": layer.name, "weight_type": str(layer.weight_type),
                           "bias_type": str(layer.bias_type), "accum_type": str(layer.accum_type),
                           "result_type": str(layer.result_type), "weights": np.asarray(layer.weights).tolist(),
                           "biases": np.asarray(layer.biases).tolist()})
        elif isinstance(layer, Activation):
            layers.append({"kind": "activation", "name": layer.name, "function": layer.function,
                           "result_type": str(layer.result_type)})
        elif isinstance(layer, Softmax):
            layers.append({"kind": "softmax", "name": layer.name, "implementation": layer.implementation,
                           "exp_scale": layer.exp_scale, "result_type": str(layer.result_type),
                           "accum_type": str(layer.accum_type), "inv_inp_type": str(layer.inv_inp_type),
                           "inp_norm_type": str(layer.inp_norm_type), "exp_table_type": str(layer.exp_table_type),
                           "inv_table_type": str(layer.inv_table_type),
                           "exp_table": np.asarray(layer.exp_table).tolist(),
                           "inv_table": np.asarray(layer.inv_table).tolist()})
        else:
            raise UnsupportedNetwork(f"cannot write layer {layer!r}")
    return {"input_type": str(net.input_type), "n_inputs": net.n_inputs, "layers": layers}


def network_from_dict(data: dict, where: str = "artefact") -> Network:
    """The :class:`Network` of an artefact's content; unknown layer kinds are refused."""
    t = FixedType.parse
    layers = []
    for k, d in enumerate(data["layers"]):
        kind = d.get("kind")
        if kind == "dense":
            layers.append(Dense(np.array(d["weights"], dtype=np.int64).reshape(len(d["weights"]), -1),
                                np.array(d["biases"], dtype=np.int64), t(d["weight_type"]), t(d["bias_type"]),
                                t(d["accum_type"]), t(d["result_type"]), name=d.get("name", "")))
        elif kind == "activation":
            layers.append(Activation(d["function"], t(d["result_type"]), name=d.get("name", "")))
        elif kind == "softmax":
            layers.append(Softmax(t(d["result_type"]), t(d["accum_type"]), t(d["inv_inp_type"]),
                                  t(d["inp_norm_type"]), t(d["exp_table_type"]), t(d["inv_table_type"]),
                                  np.array(d["exp_table"], dtype=np.int64), np.array(d["inv_table"], dtype=np.int64),
                                  exp_scale=float(d.get("exp_scale", 1.0)),
                                  implementation=d.get("implementation", "stable"), name=d.get("name", "")))
        else:
            raise UnsupportedNetwork(f"{where}: layer {k} has kind {kind!r}; this version reads dense, "
                                     "activation and softmax layers")
    return Network(t(data["input_type"]), layers, int(data["n_inputs"]))


def write(path: str, net: Network, *, name: str, version: int = 1, inputs: list[str] | None = None,
          outputs: list[str] | None = None, hls4ml: dict | None = None, validation: dict | None = None,
          derived: dict | None = None, preprocessing: dict | None = None) -> str:
    """Write the artefact file ``path`` (JSON, atomically) and its metadata sidecar; returns ``path``."""
    inputs = list(inputs or [f"x{i}" for i in range(net.n_inputs)])
    outputs = list(outputs or [f"score{i}" for i in range(net.n_outputs)])
    if len(inputs) != net.n_inputs or len(outputs) != net.n_outputs:
        raise ValueError(f"{len(inputs)} input and {len(outputs)} output names for a network of "
                         f"{net.n_inputs} inputs and {net.n_outputs} outputs")
    content = {"schema": SCHEMA, **network_to_dict(net), "inputs": inputs, "outputs": outputs,
               "hls4ml": hls4ml or {}, "validation": validation or {}}
    if preprocessing:
        check_preprocessing(preprocessing, net.n_inputs, path)
        content["preprocessing"] = {"mean": [float(v) for v in preprocessing["mean"]],
                                    "std": [float(v) for v in preprocessing["std"]]}
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".l1nn-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(content, f, default=str)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    write_metadata(path, {"name": name, "version": int(version), "kind": KIND, "schema": SCHEMA,
                          "n_inputs": net.n_inputs, "n_outputs": net.n_outputs, "inputs": inputs,
                          "outputs": outputs, "input_type": str(net.input_type),
                          "hls4ml_project": (hls4ml or {}).get("project_hash", ""),
                          "validation": validation or {}, "derived": derived or {}})
    return path


def check_preprocessing(prep: dict, n_inputs: int, where: str) -> None:
    mean, std = prep.get("mean"), prep.get("std")
    if mean is None or std is None or len(mean) != n_inputs or len(std) != n_inputs or not all(
            float(v) > 0 for v in std):
        raise UnsupportedNetwork(f"{where}: preprocessing needs {n_inputs} means and {n_inputs} positive "
                                 f"standard deviations, got {prep!r:.200}")


class L1NNArtefact:
    """A loaded artefact: the network, the input and output names and the rest of the file."""

    def __init__(self, path: str):
        try:
            with open(path) as f:
                self.content = json.load(f)
        except (OSError, ValueError) as exc:
            raise UnsupportedNetwork(f"L1 network artefact {path!r} cannot be read: {exc}") from None
        if self.content.get("schema") != SCHEMA:
            raise UnsupportedNetwork(f"{path!r} has schema {self.content.get('schema')!r}, not {SCHEMA!r}")
        self.path = path
        self.network = network_from_dict(self.content, path)
        self.inputs = list(self.content["inputs"])
        self.outputs = list(self.content["outputs"])
        #: ``{"mean": [...], "std": [...]}``: inputs are standardised, ``(x - mean) / std``, before the network
        self.preprocessing = self.content.get("preprocessing")
        if self.preprocessing is not None:
            check_preprocessing(self.preprocessing, self.network.n_inputs, path)

    def standardise(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / std`` (float64) when the artefact has a preprocessing, else ``x``."""
        if self.preprocessing is None:
            return x
        return (x - np.asarray(self.preprocessing["mean"])) / np.asarray(self.preprocessing["std"])


def read(path: str) -> L1NNArtefact:
    """Load an artefact file (the loader given to ``ArtefactSvc.load``)."""
    return L1NNArtefact(path)
