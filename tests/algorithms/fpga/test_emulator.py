"""The emulator against a plain-Python reference of hls4ml's dense/ReLU arithmetic, and its refusals."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from hepreco.algorithms.fpga.emulator import (Activation, Dense, Network, Softmax, UnsupportedNetwork, make_softmax,
                                              reduce_ops)
from hepreco.algorithms.fpga.fixed import FixedType

from .test_fixed import random_types, reference


def value(raw: int, t: FixedType) -> Fraction:
    return Fraction(int(raw)) / 2 ** t.frac if t.frac >= 0 else Fraction(int(raw)) * 2 ** -t.frac


def reference_network(net: Network, x_raw: np.ndarray) -> list[list[int]]:
    """nnet::dense_latency and nnet::relu on exact rationals: products and each sum at accum_t."""
    out = []
    for row in x_raw:
        vals, t = [value(v, net.input_type) for v in row], net.input_type
        for layer in net.layers:
            if isinstance(layer, Dense):
                acc_t = layer.accum_type
                acc = [value(reference(value(b, layer.bias_type), acc_t), acc_t) for b in layer.biases]
                prods = [[value(reference(vals[i] * value(layer.weights[i, j], layer.weight_type), acc_t), acc_t)
                          for j in range(layer.n_out)] for i in range(layer.n_in)]
                for i in range(layer.n_in):
                    for j in range(layer.n_out):
                        acc[j] = value(reference(acc[j] + prods[i][j], acc_t), acc_t)
                vals = [value(reference(a, layer.result_type), layer.result_type) for a in acc]
            else:
                vals = [max(v, Fraction(0)) if layer.function == "relu" else v for v in vals]
                vals = [value(reference(v, layer.result_type), layer.result_type) for v in vals]
            t = layer.result_type
        out.append([reference(v, t) for v in vals])
    return out


def random_network(rng, sizes=(6, 5, 4, 3)) -> Network:
    types = [t for t in random_types(rng, 400) if 4 <= t.width <= 20][:40]
    pick = lambda: types[rng.integers(len(types))]  # noqa: E731
    layers = []
    for k in range(len(sizes) - 1):
        wt, bt = pick(), pick()
        w = rng.integers(wt.lo, wt.hi + 1, size=(sizes[k], sizes[k + 1]))
        b = rng.integers(bt.lo, bt.hi + 1, size=sizes[k + 1])
        layers.append(Dense(w, b, wt, bt, pick(), pick(), name=f"d{k}"))
        layers.append(Activation(["relu", "linear"][rng.integers(2)], pick(), name=f"a{k}"))
    return Network(pick(), layers, sizes[0])


def test_random_dense_networks_match_the_exact_reference_at_every_layer():
    rng = np.random.default_rng(2024)
    for trial in range(12):
        net = random_network(rng)
        x = rng.normal(size=(60, 6)) * 2.0 ** rng.integers(-3, 8, size=(60, 1))
        raw = net.quantise(x)
        expected = reference_network(net, raw)
        assert net.run_raw(raw).tolist() == expected, trial
        for paths in [("float",), ()]:
            other = Network(net.input_type, net.layers, net.n_inputs, paths=paths)
            assert other.run_raw(raw).tolist() == expected, (trial, paths)
        final, layers = net.run_raw(raw, trace=True)
        assert np.array_equal(final, layers[-1])


def test_the_softmax_adder_tree_is_hls4ml_balanced_reduce():
    # reduce<5>: op(reduce<4>(x), x[4]) with reduce<4> = op(op(x0, x1), op(x2, x3))
    assert reduce_ops(5).tolist() == [[0, 1, 5], [2, 3, 6], [5, 6, 7], [7, 4, 8]]
    assert reduce_ops(3).tolist() == [[0, 1, 3], [3, 2, 4]]
    assert reduce_ops(1).shape == (0, 3)


def _dense(n_in=4, n_out=3, t="ap_fixed<16,6>"):
    t = FixedType.parse(t)
    return Dense(np.full((n_in, n_out), t.hi, dtype=np.int64), np.zeros(n_out, dtype=np.int64), t, t, t, t)


def test_unsupported_layers_and_settings_are_refused():
    t = FixedType.parse("ap_fixed<16,6>")
    with pytest.raises(UnsupportedNetwork, match="activation 'sigmoid' is not supported"):
        Network(t, [_dense(), Activation("sigmoid", t)], 4)
    with pytest.raises(UnsupportedNetwork, match="layer type str is not supported"):
        Network(t, [_dense(), "conv2d"], 4)
    with pytest.raises(UnsupportedNetwork, match="expects 4 inputs, the previous layer gives 5"):
        Network(t, [_dense()], 5)
    wide = "ap_fixed<40,10>"
    with pytest.raises(UnsupportedNetwork, match="beyond the int64 range"):
        Network(FixedType.parse(wide), [_dense(t=wide)], 4)
    soft = make_softmax(t, t, *(FixedType.parse("ap_fixed<18,8,AP_RND,AP_SAT>"),) * 4)
    soft.implementation = "latency"
    with pytest.raises(UnsupportedNetwork, match="softmax implementation 'latency' is not supported"):
        Network(t, [_dense(), soft], 4)
    assert isinstance(soft, Softmax)
    with pytest.raises(ValueError, match=r"inputs of shape \(n, 4\)"):
        Network(t, [_dense()], 4).run(np.zeros((3, 5)))


def test_torch_layers_hls4ml_converts_but_we_do_not_emulate_are_refused(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    pytest.importorskip("hls4ml")
    from hepreco.algorithms.fpga import hls

    monkeypatch.setenv("HEPRECO_CACHE", str(tmp_path))
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Sigmoid())
    _, folder = hls.write_project(model, hls.Precision(), 4)
    with pytest.raises(UnsupportedNetwork, match=r"layer .* \(nnet::sigmoid\): this layer is not supported"):
        hls.read_project(folder)


@pytest.mark.parametrize("in_t, w_t, acc_t, path", [
    # the largest products that fit in int32 (65535 x -32768), wrapping 32-bit sums: the int32 loop
    ("ap_ufixed<16,16>", "ap_fixed<16,16>", "ap_fixed<32,32,AP_TRN,AP_WRAP>", "int32"),
    ("ap_ufixed<16,16>", "ap_fixed<16,16>", "ap_ufixed<32,32,AP_TRN,AP_WRAP>", "int32"),
    # products rounded at one bit less (half an LSB added first), still within int32
    ("ap_ufixed<16,16>", "ap_fixed<16,16>", "ap_fixed<32,33,AP_RND,AP_WRAP>", "int32"),
    # products one bit wider than int32 holds: float64 instead
    ("ap_ufixed<17,17>", "ap_fixed<16,16>", "ap_fixed<32,32,AP_TRN,AP_WRAP>", "float"),
    # a 33-bit wrapping accumulator whose sums leave int32: float64
    ("ap_fixed<16,16>", "ap_fixed<16,16>", "ap_fixed<33,33,AP_TRN,AP_WRAP>", "float"),
    # saturating sums clamped at 31 bits fit (acc + product stays in int32), at 32 bits they do not
    ("ap_fixed<16,16>", "ap_fixed<16,16>", "ap_fixed<31,31,AP_RND,AP_SAT>", "int32"),
    ("ap_fixed<16,16>", "ap_fixed<16,16>", "ap_fixed<32,32,AP_RND,AP_SAT>", "float"),
    # products too wide for int32 and float64: the int64 loop
    ("ap_fixed<28,28>", "ap_fixed<28,28>", "ap_fixed<56,56,AP_TRN,AP_WRAP>", "int"),
])
def test_int32_is_chosen_only_where_products_and_sums_fit_and_is_exact_at_the_edge(in_t, w_t, acc_t, path):
    rng = np.random.default_rng(7)
    tin, tw, tacc = (FixedType.parse(t) for t in (in_t, w_t, acc_t))
    # weights and inputs at their extremes, so that products and sums reach the limits (and overflow)
    w = rng.choice([tw.lo, tw.hi, tw.lo + 1, 0], size=(8, 10))
    bias_t = FixedType(16, 16)
    b = rng.choice([bias_t.lo, bias_t.hi, 0], size=10)
    res_t = FixedType(tacc.width, tacc.integer, tacc.signed, "TRN", "SAT")
    layers = [Dense(w, b, tw, bias_t, tacc, res_t, name="d"), Activation("relu", FixedType(12, 10), name="a")]
    net = Network(tin, layers, 8)
    assert net._plan[0][1][0] == path
    raw = rng.choice([tin.lo, tin.hi, tin.hi - 1, 0], size=(40, 8))
    raw[0], raw[1] = tin.hi, tin.lo
    expected = reference_network(net, raw)
    final, _ = net.run_raw(raw, trace=True)
    assert net.run_raw(raw).tolist() == final.tolist() == expected
    assert Network(tin, layers, 8, paths=()).run_raw(raw).tolist() == expected
    # the exact sums do leave the accumulator's range (they wrap or clamp), or the edge would test nothing
    exact = np.abs(raw.astype(object) @ w.astype(object)).max() * Fraction(2) ** tacc.frac
    assert exact > tacc.hi and tin.frac == tw.frac == 0


def test_unknown_dense_paths_are_refused():
    t = FixedType.parse("ap_fixed<16,6>")
    with pytest.raises(ValueError, match=r"unknown dense-layer paths \['int16'\] \(known: int32, float\)"):
        Network(t, [_dense()], 4, paths=("int16",))
