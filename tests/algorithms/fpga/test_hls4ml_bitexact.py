"""The emulator against hls4ml's compiled C++: predict() and every layer of trace(), bit for bit."""
from __future__ import annotations

import glob
import os

import numpy as np
import pytest

from hepreco.algorithms.fpga import hls
from hepreco.algorithms.fpga.emulator import Dense, Network
from hepreco.algorithms.fpga.fixed import FixedType

from .conftest import compiled, inputs


def test_predict_is_bit_exact_including_saturated_inputs(compiled_model):
    hm, net, _ = compiled_model
    x = inputs(20000, seed=1)
    ours, theirs = net.run(x), hls.predict(hm, x)
    assert ours.shape == theirs.shape == (20000, 5)
    assert np.array_equal(ours, theirs), f"{np.sum(np.any(ours != theirs, axis=1))} of 20000 differ"
    # the float64 and int64 loops, used where int32 (or float64) would not be exact, give the same
    assert np.array_equal(Network(net.input_type, net.layers, 16, paths=("float",)).run(x), theirs)
    assert np.array_equal(Network(net.input_type, net.layers, 16, paths=()).run(x), theirs)
    # the inputs reach beyond the input type: saturated or wrapped by the conversion
    limit = net.input_type.to_float(net.input_type.hi)
    assert np.mean(np.abs(x) > limit) > 0.05


def test_every_layer_of_trace_is_bit_exact(compiled_model):
    hm, net, _ = compiled_model
    x = inputs(2000, seed=2)
    ref = hls.trace(hm, x)
    mine = net.trace(x)
    assert list(ref) == [layer.name for layer in net.layers]
    for (name, r), m in zip(ref.items(), mine):
        assert np.array_equal(r, m), f"layer {name}: {np.sum(np.any(r != m, axis=1))} of 2000 differ"


def test_the_inputs_drive_layers_into_saturation_and_wrap():
    _, net16, _ = compiled("16b")
    _, net8, _ = compiled("8b")
    x = inputs(5000, seed=3)
    # 8-bit: saturating accumulators and activations reach their limits
    raw8 = net8.run_raw(net8.quantise(x), trace=True)[1]
    acc_hi = [np.mean(o == layer.result_type.hi) for o, layer in zip(raw8, net8.layers) if layer.kind == "activation"]
    assert max(acc_hi) > 0.01
    # 16-bit: the accumulators wrap: a wide accumulator gives other results for some inputs
    wide = FixedType.parse("ap_fixed<40,30>")
    layers = [Dense(l.weights, l.biases, l.weight_type, l.bias_type, wide, l.result_type, l.name)
              if isinstance(l, Dense) else l for l in net16.layers]
    unwrapped = Network(net16.input_type, layers, 16).run(x)
    assert np.mean(np.any(unwrapped != net16.run(x), axis=1)) > 0.01


def test_the_generated_cpp_types_are_the_configured_ones():
    _, net, record = compiled("16b")
    assert record["input"] == "ap_fixed<16,6,AP_RND,AP_SAT,0>"
    assert len(record["cpp_sha256"]) == 64
    dense = [entry for entry in record["layers"] if entry["function"] == "dense"]
    assert len(dense) == 4
    accum = {"_0": "ap_fixed<16,6,AP_TRN,AP_WRAP,0>", "_2": "ap_fixed<16,6,AP_TRN,AP_WRAP,0>",
             "_4": "ap_fixed<32,12,AP_TRN,AP_WRAP,0>", "_6": "ap_fixed<26,6,AP_RND,AP_SAT,0>"}
    for entry in dense:
        assert entry["types"] == {"accum_t": accum[entry["name"]],
                                  "bias_t": "ap_fixed<16,6,AP_RND,AP_SAT,0>",
                                  "weight_t": "ap_fixed<16,6,AP_RND,AP_SAT,0>"}
        assert entry["result"] == "ap_fixed<16,6,AP_RND,AP_SAT,0>"
    # the emulator's dense paths are all exercised: (quantised products?, clamped sums?)
    kinds = [(p[0], p[3] > 0, p[5]) for kind, p in net._plan if kind == "dense"]
    assert kinds == [("int32", True, False)] * 2 + [("int32", False, False), ("int32", False, True)]
    floats = Network(net.input_type, net.layers, 16, paths=("float",))
    assert [(p[0], p[4]) for kind, p in floats._plan if kind == "dense"] == [("float", False)] * 3 + [("float", True)]
    slow = Network(net.input_type, net.layers, 16, paths=())
    assert [(p[0], p[6], p[3]) for kind, p in slow._plan if kind == "dense"] == \
        [("int", False, 1), ("int", False, 1), ("int", False, 0), ("int", True, 0)]
    softmax = record["layers"][-1]
    assert softmax["function"] == "softmax" and softmax["types"]["inp_norm_t"] == "ap_ufixed<15,5,AP_TRN,AP_WRAP,0>"


def test_a_cached_model_loads_without_compiling():
    from .conftest import PRECISIONS, jet_network

    compiled("8b")
    folder = hls.project_dir(jet_network(0), PRECISIONS["8b"], 16)
    (lib,) = glob.glob(os.path.join(folder, "firmware", "myproject-*.so"))
    built = os.stat(lib).st_mtime_ns
    hm, again = hls.compiled(jet_network(0), PRECISIONS["8b"], 16)
    assert again == folder and folder.startswith(os.path.join(hls.cache_dir(), "hls4ml"))
    assert glob.glob(os.path.join(folder, "firmware", "myproject-*.so")) == [lib]
    assert os.stat(lib).st_mtime_ns == built   # loaded, not rebuilt
    x = inputs(100, seed=4)
    assert np.array_equal(hls.predict(hm, x), compiled("8b")[1].run(x))


UNIFORM = [f"ap_fixed<{w},{i},AP_{q},AP_{o}>" for w, i in ((16, 6), (8, 3)) for q in ("TRN", "RND")
           for o in ("WRAP", "SAT")]


@pytest.mark.slow
@pytest.mark.parametrize("data_type", UNIFORM)
def test_uniform_precisions_are_bit_exact(data_type):
    width = FixedType.parse(data_type).width
    # hls4ml caps the softmax table at 2**(input bits) (with a warning): ask for that size
    hm, net, _ = compiled(data_type, hls.Precision.uniform(data_type, table_size=min(1024, 2 ** width)), seed=5)
    x = inputs(20000, seed=6)
    assert np.array_equal(net.run(x), hls.predict(hm, x))
    xt = x[:1000]
    for (name, r), m in zip(hls.trace(hm, xt).items(), net.trace(xt)):
        assert np.array_equal(r, m), name


@pytest.mark.slow
@pytest.mark.parametrize("key", ["16b", "8b"])
def test_a_million_inputs_are_bit_exact(key):
    hm, net, _ = compiled(key)
    exact = 0
    for chunk in range(10):
        x = inputs(100000, seed=100 + chunk)
        exact += int(np.all(net.run(x) == hls.predict(hm, x), axis=1).sum())
    print(f"{key}: {exact} of 1000000 bit-exact")
    assert exact == 1000000
