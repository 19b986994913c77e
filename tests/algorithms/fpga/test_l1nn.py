"""The l1nn artefact round trip, its derivation from a seed, and the L1NeuralNetwork plugin in a chain."""
from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest

from hepreco.framework import testing
from hepreco.framework.artefacts import describe_file, read_metadata
from hepreco.framework.errors import PropertyError

from hepreco.algorithms.fpga import artefact
from hepreco.algorithms.fpga.emulator import Dense, Softmax, UnsupportedNetwork
from hepreco.algorithms.fpga.l1nn import L1NeuralNetwork

from .conftest import compiled, inputs

NAMES = [f"f{i}" for i in range(16)]


@pytest.fixture(scope="module")
def artefact_file(tmp_path_factory):
    _, net, record = compiled("8b")
    path = str(tmp_path_factory.mktemp("l1nn") / "l1nn-test.json")
    artefact.write(path, net, name="l1nn-test", inputs=NAMES, outputs=["g", "q", "w", "z", "t"],
                   hls4ml={"project_hash": "abc", "cpp": record}, validation={"inputs": 3, "bit_exact": 3})
    return path


def test_the_artefact_round_trips(artefact_file):
    _, net, _ = compiled("8b")
    meta = read_metadata(artefact_file)
    assert (meta["kind"], meta["schema"], meta["n_inputs"], meta["n_outputs"]) == ("l1nn", "hepreco-l1nn/1", 16, 5)
    assert describe_file(artefact_file).sha256
    back = artefact.read(artefact_file)
    assert back.inputs == NAMES and back.outputs == ["g", "q", "w", "z", "t"]
    assert back.network.input_type == net.input_type
    for a, b in zip(back.network.layers, net.layers):
        assert type(a) is type(b) and a.result_type == b.result_type and a.name == b.name
        if isinstance(a, Dense):
            assert np.array_equal(a.weights, b.weights) and np.array_equal(a.biases, b.biases)
            assert (a.weight_type, a.bias_type, a.accum_type) == (b.weight_type, b.bias_type, b.accum_type)
        if isinstance(a, Softmax):
            assert np.array_equal(a.exp_table, b.exp_table) and np.array_equal(a.inv_table, b.inv_table)
            assert a.inp_norm_type == b.inp_norm_type
    x = inputs(3000, seed=9)
    assert np.array_equal(back.network.run(x), net.run(x))


def test_an_artefact_with_an_unknown_layer_is_refused(artefact_file, tmp_path):
    with open(artefact_file) as f:
        content = json.load(f)
    content["layers"][1]["kind"] = "conv1d"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(content))
    with pytest.raises(UnsupportedNetwork, match="layer 1 has kind 'conv1d'"):
        artefact.read(str(bad))


def test_the_plugin_scores_objects_and_events_as_the_emulator(artefact_file):
    net = artefact.read(artefact_file).network
    x = inputs(40, seed=10)
    counts = [3, 0, 5, 2, 30]
    objects = ak.unflatten(ak.zip({name: x[:, k] for k, name in enumerate(NAMES)}), counts)
    result = testing.run(L1NeuralNetwork(name="Tagger", objects="Jets", file=artefact_file),
                         inputs={"Jets": objects})
    scores = result.products["TaggerScores"]
    assert ak.num(scores, axis=1).tolist() == counts
    expected = net.run(x)
    assert np.array_equal(np.stack([ak.to_numpy(ak.flatten(scores[c])) for c in ["g", "q", "w", "z", "t"]], 1),
                          expected)
    dense = testing.run(L1NeuralNetwork(name="Tagger", objects="Features", file=artefact_file),
                        inputs={"Features": x[:5].astype(np.float64)}, chunk_size=2)
    assert np.array_equal(ak.to_numpy(dense.products["TaggerScores"]["t"]), expected[:5, 4])


def test_the_plugin_refuses_a_field_count_that_does_not_match_the_network(artefact_file):
    alg = L1NeuralNetwork(name="Tagger", objects="Jets", file=artefact_file, fields=["pt", "eta", "m"])
    with pytest.raises(PropertyError, match="3 fields given, but the network l1nn-test@1 .* takes 16 inputs"):
        alg.preflight()


def test_the_derivation_is_reproducible_from_its_seed(tmp_path):
    from hepreco.algorithms.fpga.derive import derive
    from hepreco.algorithms.fpga.hls import Precision

    a, b = str(tmp_path / "a.json"), str(tmp_path / "b.json")
    for path in (a, b):
        derive(path, seed=4, precision=Precision.uniform("ap_fixed<10,4,AP_RND,AP_SAT>"), n_train=2000, epochs=1,
               n_validate=0)
    assert describe_file(a).sha256 == describe_file(b).sha256
    art = artefact.read(a)
    assert art.network.n_inputs == 16 and art.outputs == ["g", "q", "w", "z", "t"]
    assert art.content["hls4ml"]["cpp"]["input"] == "ap_fixed<10,4,AP_RND,AP_SAT,0>"
