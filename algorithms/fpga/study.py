"""The three FPGA handles as one rerunnable study: pruning, quantisation, reuse factor (PNGs and a table).

``python -m hepreco.algorithms.fpga.study --output DIR [--seed 1] [--data x_y.npz]``

- Compression: iterative magnitude pruning (per layer, smallest |w| first) to
  each target sparsity with fine-tuning between steps: accuracy against the
  sparsity actually reached.
- Quantisation: post-training quantisation (the float network converted by
  hls4ml at ``ap_fixed<W,I,AP_RND,AP_SAT>``) and quantisation-aware training
  (own fake-quantisation of weights, biases and layer inputs to the same grid,
  straight-through gradients, fine-tuned from the float network), for total
  bits W from 4 to 18 at fixed integer bits I; accuracies are those of the
  bit-exact emulator (what the FPGA computes), against the float network.
- Parallelisation: per reuse factor and layer, ESTIMATES from the shape and
  types only (no synthesis): multipliers ceil(n_in n_out / RF), counted as DSPs
  when a product is wider than 10x10 bits and as LUT multipliers otherwise,
  and latency ~ RF + ceil(log2 n_in) + 2 clock cycles (initiation interval RF,
  adder tree, multiply and output registers).

Files: ``pruning.png``, ``quantisation.png``, ``reuse.png``, ``study.md`` (the
tables) and ``study.json``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings

import numpy as np

from hepreco.framework import extras

from .derive import load_data, make_network, synthetic_dataset, train


def accuracy_float(model, x, y) -> float:
    torch = extras.torch("the L1 network study")

    with torch.no_grad():
        return float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def linears(model):
    torch = extras.torch("the L1 network study")

    return [m for m in model if isinstance(m, torch.nn.Linear)]


def prune_masks(model, sparsity: float) -> list:
    """Per-layer masks keeping the largest |w|: a fraction ``sparsity`` of each layer's weights is zero."""
    torch = extras.torch("the L1 network study")

    masks = []
    for m in linears(model):
        w = m.weight.detach().abs().flatten()
        k = int(round(sparsity * w.numel()))
        mask = torch.ones_like(w)
        if k:
            mask[torch.argsort(w)[:k]] = 0
        masks.append(mask.view_as(m.weight))
    return masks


def apply_masks(model, masks) -> None:
    torch = extras.torch("the L1 network study")

    with torch.no_grad():
        for m, mask in zip(linears(model), masks):
            m.weight.mul_(mask)


def sparsity_of(model) -> float:
    w = [m.weight.detach() for m in linears(model)]
    return float(sum(int((t == 0).sum()) for t in w) / sum(t.numel() for t in w))


def fake_quantise(t, width: int, integer: int):
    """Round to the ``ap_fixed<width, integer, AP_RND, AP_SAT>`` grid with a straight-through gradient."""
    torch = extras.torch("the L1 network study")

    step = 2.0 ** (integer - width)
    lo, hi = -(2.0 ** (integer - 1)), 2.0 ** (integer - 1) - step
    q = torch.clamp(torch.floor(t / step + 0.5) * step, lo, hi)
    return t + (q - t).detach()


class QuantisationAware:
    """Fake-quantises every Linear's weight, bias and input during training (removed by :meth:`remove`)."""

    def __init__(self, model, width: int, integer: int):
        P = extras.torch("the L1 network study").nn.utils.parametrize

        self.model, self.handles = model, []

        class FQ(extras.torch("the L1 network study").nn.Module):
            def forward(self, t):
                return fake_quantise(t, width, integer)

        for m in linears(model):
            P.register_parametrization(m, "weight", FQ())
            P.register_parametrization(m, "bias", FQ())
            self.handles.append(m.register_forward_pre_hook(lambda mod, inp: (fake_quantise(inp[0], width, integer),)))

    def remove(self) -> None:
        P = extras.torch("the L1 network study").nn.utils.parametrize

        for h in self.handles:
            h.remove()
        for m in linears(self.model):
            P.remove_parametrizations(m, "weight", leave_parametrized=True)
            P.remove_parametrizations(m, "bias", leave_parametrized=True)


def accuracy_fixed(model, width: int, integer: int, x, y) -> float:
    """Accuracy of the bit-exact emulation of ``model`` converted by hls4ml at ``ap_fixed<width,integer>``."""
    from . import hls

    t = f"ap_fixed<{width},{integer},AP_RND,AP_SAT>"
    size = min(1024, 2 ** (width - 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # hls4ml's softmax table-size notice
        _, folder = hls.write_project(model, hls.Precision.uniform(t, table_size=size), x.shape[1])
    net, _ = hls.read_project(folder)
    return float((net.run(x).argmax(1) == y).mean())


def reuse_estimates(sizes, data_width: int, weight_width: int, factors=(1, 2, 4, 8, 16, 32, 64)) -> list[dict]:
    rows = []
    wide = data_width > 10 or weight_width > 10
    for rf in factors:
        mults = sum(math.ceil(a * b / rf) for a, b in zip(sizes[:-1], sizes[1:]))
        latency = [rf + math.ceil(math.log2(a)) + 2 for a in sizes[:-1]]
        rows.append({"reuse_factor": rf, "multipliers": mults, "dsp": mults if wide else 0,
                     "lut_multipliers": 0 if wide else mults, "latency_cycles_per_layer": latency,
                     "latency_cycles": sum(latency), "data_bits": data_width, "weight_bits": weight_width})
    return rows


def study(output: str, seed: int = 1, data: str = "", epochs: int = 5, integer: int = 6,
          bits=(4, 6, 8, 10, 12, 14, 16, 18), sparsities=(0.5, 0.75, 0.9, 0.95)) -> dict:
    import copy

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    torch = extras.torch("the L1 network study")

    torch.set_num_threads(1)
    os.makedirs(output, exist_ok=True)
    split = None
    if data:
        x, y, split, _ = load_data(data)
    else:
        x, y = synthetic_dataset(30000, seed)
    if split is not None:   # the data's own train and test splits (jet_data)
        xtr, ytr, xte, yte = x[split == 0], y[split == 0], x[split == 2], y[split == 2]
    else:
        n_test = len(x) // 3
        xtr, ytr, xte, yte = x[n_test:], y[n_test:], x[:n_test], y[:n_test]
    torch.manual_seed(seed)
    base = train(make_network(x.shape[1], n_outputs=int(y.max()) + 1), xtr, ytr, seed, epochs).eval()
    acc_float = accuracy_float(base, xte, yte)

    pruning = [{"target": 0.0, "sparsity": sparsity_of(base), "accuracy": acc_float}]
    pruned = copy.deepcopy(base)
    for target in sparsities:
        masks = prune_masks(pruned, target)
        apply_masks(pruned, masks)
        train(pruned, xtr, ytr, seed, 1, hooks=[lambda m, masks=masks: apply_masks(m, masks)])
        pruned.eval()
        pruning.append({"target": target, "sparsity": sparsity_of(pruned), "accuracy": accuracy_float(pruned, xte, yte)})

    quant = []
    for w in bits:
        qat = copy.deepcopy(base)
        handle = QuantisationAware(qat, w, integer)
        train(qat, xtr, ytr, seed, 2, lr=1e-3)
        handle.remove()
        qat.eval()
        quant.append({"bits": w, "integer_bits": integer, "ptq_accuracy": accuracy_fixed(base, w, integer, xte, yte),
                      "qat_accuracy": accuracy_fixed(qat, w, integer, xte, yte), "float_accuracy": acc_float})

    sizes = [x.shape[1], 64, 32, 32, int(y.max()) + 1]
    reuse = {w: reuse_estimates(sizes, w, w) for w in (8, 16)}

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([p["sparsity"] for p in pruning], [p["accuracy"] for p in pruning], "o-")
    ax.set(xlabel="weight sparsity", ylabel="accuracy", title="iterative magnitude pruning")
    fig.tight_layout(), fig.savefig(os.path.join(output, "pruning.png"), dpi=100), plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(bits, [q["ptq_accuracy"] for q in quant], "o-", label="post-training")
    ax.plot(bits, [q["qat_accuracy"] for q in quant], "s-", label="quantisation-aware")
    ax.axhline(acc_float, color="k", ls="--", label="float")
    ax.set(xlabel=f"total bits W (ap_fixed<W,{integer}>)", ylabel="accuracy (bit-exact emulation)")
    ax.legend(), fig.tight_layout(), fig.savefig(os.path.join(output, "quantisation.png"), dpi=100), plt.close(fig)
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    for w, rows in reuse.items():
        rf = [r["reuse_factor"] for r in rows]
        ax[0].loglog(rf, [r["multipliers"] for r in rows], "o-", label=f"{w}-bit ({'DSP' if w > 10 else 'LUT'})")
        ax[1].semilogx(rf, [r["latency_cycles"] for r in rows], "o-", label=f"{w}-bit")
    ax[0].set(xlabel="reuse factor", ylabel="multipliers (ESTIMATE)")
    ax[1].set(xlabel="reuse factor", ylabel="latency, clock cycles (ESTIMATE)")
    ax[0].legend(), fig.tight_layout(), fig.savefig(os.path.join(output, "reuse.png"), dpi=100), plt.close(fig)

    lines = [f"# FPGA handles study (seed {seed}, {'data ' + data if data else 'synthetic 16-feature 5-class sample'})",
             "", f"float accuracy: {acc_float:.4f}", "", "## Pruning", "",
             "| target sparsity | reached | accuracy |", "|---|---|---|"]
    lines += [f"| {p['target']:.2f} | {p['sparsity']:.3f} | {p['accuracy']:.4f} |" for p in pruning]
    lines += ["", f"## Quantisation (ap_fixed<W,{integer},AP_RND,AP_SAT> everywhere; bit-exact emulator)", "",
              "| W | post-training | quantisation-aware | float |", "|---|---|---|---|"]
    lines += [f"| {q['bits']} | {q['ptq_accuracy']:.4f} | {q['qat_accuracy']:.4f} | {acc_float:.4f} |" for q in quant]
    lines += ["", "## Reuse factor: ESTIMATES from shape and types (no synthesis)", "",
              "| bits | reuse factor | multipliers | DSP | LUT multipliers | latency per layer [cycles] | total [cycles] |",
              "|---|---|---|---|---|---|---|"]
    lines += [f"| {w} | {r['reuse_factor']} | {r['multipliers']} | {r['dsp']} | {r['lut_multipliers']} | "
              f"{r['latency_cycles_per_layer']} | {r['latency_cycles']} |" for w, rows in reuse.items() for r in rows]
    with open(os.path.join(output, "study.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    result = {"float_accuracy": acc_float, "pruning": pruning, "quantisation": quant,
              "reuse_estimates": {str(k): v for k, v in reuse.items()}}
    with open(os.path.join(output, "study.json"), "w") as f:
        json.dump(result, f, indent=1)
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m hepreco.algorithms.fpga.study", description=__doc__.split("\n")[0])
    p.add_argument("--output", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data", default="", help=".npz with x and y (default: synthetic)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--integer-bits", type=int, default=6)
    a = p.parse_args(argv)
    study(a.output, a.seed, a.data, a.epochs, a.integer_bits)
    print(open(os.path.join(a.output, "study.md")).read())
    return 0


if __name__ == "__main__":
    sys.exit(main())
