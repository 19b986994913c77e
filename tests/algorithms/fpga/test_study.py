"""Pruning, fake-quantisation and reuse-factor estimates do what they claim."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hepreco.algorithms.fpga import study  # noqa: E402
from hepreco.algorithms.fpga.derive import make_network, synthetic_dataset  # noqa: E402
from hepreco.algorithms.fpga.fixed import FixedType  # noqa: E402


def test_pruning_reaches_the_target_sparsity_and_keeps_the_largest_weights():
    torch.manual_seed(0)
    model = make_network()
    before = [m.weight.detach().clone() for m in study.linears(model)]
    study.apply_masks(model, study.prune_masks(model, 0.75))
    assert study.sparsity_of(model) == pytest.approx(0.75, abs=1e-3)
    for w0, m in zip(before, study.linears(model)):
        kept = m.weight.detach() != 0
        assert w0.abs()[kept].min() >= w0.abs()[~kept].max()


def test_quantisation_aware_training_leaves_weights_on_the_fixed_point_grid():
    torch.manual_seed(0)
    model = make_network()
    x, y = synthetic_dataset(600, seed=2)
    handle = study.QuantisationAware(model, 8, 3)
    study.train(model, x, y, seed=2, epochs=1)
    handle.remove()
    t = FixedType.parse("ap_fixed<8,3,AP_RND,AP_SAT>")
    for m in study.linears(model):
        w = m.weight.detach().double().numpy()
        assert np.array_equal(t.to_float(t.from_float(w)), w)          # exactly representable
    assert len(np.unique(study.linears(model)[0].weight.detach().numpy())) <= 2 ** 8
    # the straight-through estimator lets gradients through the rounding
    p = torch.tensor([0.3, 1.26], requires_grad=True)
    study.fake_quantise(p, 8, 3).sum().backward()
    assert p.grad.tolist() == [1.0, 1.0]


def test_reuse_estimates_divide_the_multipliers_and_add_latency():
    rows = study.reuse_estimates([16, 64, 32, 32, 5], 16, 16, factors=(1, 4))
    assert rows[0]["multipliers"] == 16 * 64 + 64 * 32 + 32 * 32 + 32 * 5 == rows[0]["dsp"]
    assert rows[1]["multipliers"] == 1064 and rows[1]["latency_cycles"] == rows[0]["latency_cycles"] + 4 * 3
    assert study.reuse_estimates([16, 5], 8, 6, factors=(1,))[0]["lut_multipliers"] == 80


def test_a_quantisation_aware_model_converts_to_its_own_grid_and_stays_bit_exact_with_hls4ml():
    from hepreco.algorithms.fpga import hls

    from .conftest import inputs

    torch.manual_seed(0)
    model = make_network()
    x, y = synthetic_dataset(2000, seed=4)
    handle = study.QuantisationAware(model, 8, 3)
    study.train(model, x, y, seed=4, epochs=1)
    handle.remove()
    model.eval()
    t = "ap_fixed<8,3,AP_RND,AP_SAT>"
    hm, folder = hls.compiled(model, hls.Precision.uniform(t, table_size=128), 16)
    net, _ = hls.read_project(folder)
    # hls4ml's weights are the QAT weights themselves: 8 bits, 5 of them fractional, nothing rounded again
    dense = [layer for layer in net.layers if hasattr(layer, "weights")]
    for layer, m in zip(dense, study.linears(model)):
        assert (layer.weight_type.width, layer.weight_type.integer) == (8, 3) == (layer.bias_type.width,
                                                                               layer.bias_type.integer)
        assert np.array_equal(np.asarray(layer.weights).T, (m.weight.detach().double().numpy() * 32).astype(np.int64))
        assert np.array_equal(np.asarray(layer.biases), (m.bias.detach().double().numpy() * 32).astype(np.int64))
        assert np.abs(np.asarray(layer.weights)).max() <= 128
    # and the emulator reproduces the compiled C++ of the QAT model, at the output and at every layer
    xt = inputs(5000, seed=5)
    assert np.array_equal(net.run(xt), hls.predict(hm, xt))
    ref, mine = hls.trace(hm, xt[:500]), net.trace(xt[:500])
    for (name, r), m in zip(ref.items(), mine):
        assert np.array_equal(r, m), name
