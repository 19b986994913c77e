"""Derive an ``l1nn`` artefact: train a small network, convert it with hls4ml, validate it, write it.

``python -m hepreco.algorithms.fpga.derive --output l1nn-tagger.json [--seed 1] [--precision 'ap_fixed<16,6>']``

The network is the standard hls4ml jet-tagging shape (16-64-32-32-5, ReLU,
softmax), trained for a few epochs on a synthetic 16-feature, 5-class
sample drawn from ``--seed`` (the real jet features replace it later: pass a
``.npz`` with ``x`` and ``y`` through ``--data``).  The same seed gives the
same weights and the same artefact.  ``--validate N`` compiles the hls4ml
model (once; cached in ``$HEPRECO_CACHE/hls4ml``) and compares N inputs with
``predict()`` and 1,000 with ``trace()``; the counts go into the artefact.
"""
from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys

import numpy as np

from hepreco.framework import extras

CLASSES = ["g", "q", "w", "z", "t"]


def make_network(n_inputs: int = 16, hidden=(64, 32, 32), n_outputs: int = 5, softmax: bool = True):
    """The torch ``Sequential``: Linear/ReLU layers and a final softmax (or, ``softmax=False``, a linear output)."""
    torch = extras.torch("the L1 network derivation")

    layers, width = [], n_inputs
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    layers += [torch.nn.Linear(width, n_outputs)] + ([torch.nn.Softmax(dim=1)] if softmax else [])
    return torch.nn.Sequential(*layers)


def log_odds_network(model):
    """A two-class softmax network as one linear output: the log-odds ``logit_1 - logit_0`` of class 1.

    The last Linear's rows become their difference; the softmax goes.  The
    score is monotonic in the class-1 probability and, unlike a fixed-point
    softmax output, does not saturate at 1 for well-separated inputs, so a
    trigger threshold can be set at any rate.
    """
    torch = extras.torch("the L1 network derivation")

    last = model[-2]
    if not isinstance(model[-1], torch.nn.Softmax) or last.out_features != 2:
        raise ValueError("the log-odds output needs a two-class softmax network")
    sizes = [m.in_features for m in model if isinstance(m, torch.nn.Linear)]
    out = make_network(sizes[0], tuple(sizes[1:]), 1, softmax=False)
    with torch.no_grad():
        for a, b in zip(model[:-2], out[:-1]):
            if isinstance(a, torch.nn.Linear):
                b.weight.copy_(a.weight)
                b.bias.copy_(a.bias)
        out[-1].weight.copy_(last.weight[1:2] - last.weight[0:1])
        out[-1].bias.copy_(last.bias[1:2] - last.bias[0:1])
    return out.eval()


def synthetic_dataset(n: int, seed: int, n_inputs: int = 16, n_classes: int = 5):
    """``(x float32 (n, n_inputs), y int64 (n,))``: overlapping Gaussian classes with correlated features."""
    rng = np.random.default_rng([seed, 7001])
    centres = rng.normal(0, 1.0, size=(n_classes, n_inputs))
    mixing = rng.normal(0, 0.5, size=(n_classes, n_inputs, n_inputs)) + np.eye(n_inputs)
    y = rng.integers(0, n_classes, size=n)
    z = rng.normal(size=(n, n_inputs))
    x = centres[y] + np.einsum("nij,nj->ni", mixing[y], z) * 0.8
    return x.astype(np.float32), y.astype(np.int64)


def train(model, x, y, seed: int, epochs: int = 5, batch: int = 256, lr: float = 3e-3, hooks=()):
    """A few epochs of Adam on cross-entropy (reproducible from ``seed`` on the CPU)."""
    torch = extras.torch("the L1 network derivation")

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    body = model[:-1] if isinstance(model[-1], torch.nn.Softmax) else model   # logits: the loss applies the softmax
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=g)
        for k in range(0, len(xt), batch):
            idx = perm[k:k + batch]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(body(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            for hook in hooks:
                hook(model)
    return model


def float_model_record(model) -> dict:
    """The float weights (for the float-vs-fixed comparison), as plain lists."""
    linear = [m for m in model if hasattr(m, "in_features")]
    return {"sizes": [m.in_features for m in linear] + [linear[-1].out_features],
            "softmax": not hasattr(model[-1], "in_features"),
            "state": {k: v.detach().cpu().numpy().tolist() for k, v in model.state_dict().items()}}


def model_from_record(record: dict):
    torch = extras.torch("the L1 network derivation")

    sizes = record["sizes"]
    model = make_network(sizes[0], tuple(sizes[1:-1]), sizes[-1], softmax=record.get("softmax", True))
    model.load_state_dict({k: torch.tensor(v, dtype=torch.float32) for k, v in record["state"].items()})
    return model.eval()


def validate(model, precision, network, n: int, seed: int, n_trace: int = 1000) -> dict:
    """Compile (cached) and compare ``network`` with hls4ml's predict() on n inputs and trace() on n_trace."""
    from . import hls

    hm, folder = hls.compiled(model, precision, network.n_inputs)
    x, _ = synthetic_dataset(n, seed + 1, network.n_inputs)
    x *= np.random.default_rng(seed).choice([0.25, 1.0, 4.0, 32.0], size=(n, 1)).astype(np.float32)
    ours = network.run(x)
    theirs = hls.predict(hm, x)
    exact = int(np.all(ours == theirs, axis=1).sum())
    xt = x[:n_trace]
    ref = hls.trace(hm, xt)
    mine = network.trace(xt)
    per_layer = {name: int(np.all(ref[name] == m, axis=1).sum()) for name, m in zip(ref, mine)}
    return {"inputs": n, "bit_exact": exact, "trace_inputs": len(xt), "trace_bit_exact": per_layer}


def load_data(data: str):
    """``(x, y, split, extra)`` of a ``.npz``: ``split`` from the file or None; ``extra`` its mean, std, features."""
    with np.load(data) as f:
        x, y = f["x"].astype(np.float32), f["y"].astype(np.int64)
        split = f["split"].astype(np.int8) if "split" in f else None
        extra = {k: f[k] for k in ("mean", "std", "features") if k in f}
    return x, y, split, extra


def derive(output: str, seed: int = 1, precision=None, n_train: int = 20000, epochs: int = 5,
           n_validate: int = 10000, name: str = "l1nn-tagger", version: int = 1, data: str = "",
           classes: list[str] | None = None, log_odds: bool = False) -> dict:
    """Train, convert, validate and write the artefact; returns its validation record.

    With ``data`` holding a ``split`` (:mod:`.jet_data`), the network trains on
    the train split and the record gains the test split's accuracy of the
    float network and of the emulator, and the bit-exact count of the
    emulator against hls4ml on the test inputs; the file's ``mean`` and
    ``std`` become the artefact's input standardisation.
    """
    hls4ml = extras.hls4ml("the L1 network derivation")
    torch = extras.torch("the L1 network derivation")

    from . import hls
    from .artefact import write

    torch.set_num_threads(1)
    precision = precision or hls.Precision()
    split, extra = None, {}
    if data:
        x, y, split, extra = load_data(data)
    else:
        x, y = synthetic_dataset(n_train, seed)
    xtr, ytr = (x, y) if split is None else (x[split == 0], y[split == 0])
    torch.manual_seed(seed)
    n_classes = int(y.max()) + 1
    model = train(make_network(x.shape[1], n_outputs=n_classes), xtr, ytr, seed, epochs).eval()
    if log_odds:
        model = log_odds_network(model)
    # the project the emulator is read from is the compiled one when validating (compiling rewrites it with
    # tracing), so the recorded C++ hash does not depend on whether the cache already held it
    hm, folder = (hls.compiled if n_validate else hls.write_project)(model, precision, x.shape[1])
    network, cpp = hls.read_project(folder)
    validation = validate(model, precision, network, n_validate, seed) if n_validate else {}
    if split is not None:
        xte, yte = x[split == 2], y[split == 2]
        with torch.no_grad():
            float_out = model(torch.from_numpy(xte)).numpy()
        fixed = network.run(xte)
        decide = (lambda out: (out[:, 0] > 0).astype(np.int64)) if log_odds else (lambda out: out.argmax(1))
        validation.update({"test_jets": int(len(yte)), "test_accuracy_float": float(np.mean(decide(float_out) == yte)),
                           "test_accuracy_fixed": float(np.mean(decide(fixed) == yte))})
        if n_validate:
            hm, _ = hls.compiled(model, precision, x.shape[1])
            validation["test_bit_exact"] = int(np.all(hls.predict(hm, xte) == fixed, axis=1).sum())
    cfg = hls.hls_config(model, precision, x.shape[1])
    record = {"config": cfg, "version": hls4ml.__version__, "project_hash": folder.rsplit("/", 1)[-1],
              "precision": precision.to_dict(), "cpp": cpp, "float_model": float_model_record(model)}
    if classes and len(classes) != n_classes:
        raise ValueError(f"{len(classes)} class names ({', '.join(classes)}) for {n_classes} classes in the data")
    classes = list(classes or (CLASSES if n_classes == len(CLASSES) else [f"class{k}" for k in range(n_classes)]))
    if log_odds:
        classes = classes[1:]   # one output: the log-odds of the second class
    inputs = [str(v) for v in extra["features"]] if "features" in extra else [f"x{i}" for i in range(x.shape[1])]
    preprocessing = ({"mean": extra["mean"].tolist(), "std": extra["std"].tolist()}
                     if "mean" in extra and "std" in extra else None)
    write(output, network, name=name, version=version, inputs=inputs, outputs=classes, hls4ml=record,
          validation=validation, preprocessing=preprocessing,
          derived={"command": " ".join(["python -m hepreco.algorithms.fpga.derive",
                                        *(shlex.quote(a) for a in sys.argv[1:])]),
                   "seed": seed, "data": os.path.basename(data) if data else "synthetic", "epochs": epochs,
                   "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
    return validation


def main(argv=None) -> int:
    from .hls import Precision

    p = argparse.ArgumentParser(prog="python -m hepreco.algorithms.fpga.derive", description=__doc__.split("\n")[0])
    p.add_argument("--output", required=True, help="artefact file to write (.json; metadata in FILE.json)")
    p.add_argument("--name", default="l1nn-tagger")
    p.add_argument("--version", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--precision", default="ap_fixed<16,6>",
                   help="one type for inputs, weights, biases, accumulators and results")
    p.add_argument("--table", default="ap_fixed<18,8,AP_RND,AP_SAT>", help="softmax table and internal type")
    p.add_argument("--data", default="", help=".npz with x (n, features) and y (n,) instead of synthetic data")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--classes", default="", help="output names, comma separated (default g,q,w,z,t for 5 classes)")
    p.add_argument("--log-odds", action="store_true",
                   help="two classes: one linear output, the log-odds of the second class (no softmax)")
    p.add_argument("--validate", type=int, default=10000, help="inputs compared with hls4ml (0: no compilation)")
    a = p.parse_args(argv)
    v = derive(a.output, a.seed, Precision.uniform(a.precision, a.table), epochs=a.epochs, n_validate=a.validate,
               name=a.name, version=a.version, data=a.data, classes=[c for c in a.classes.split(",") if c],
               log_odds=a.log_odds)
    print(f"wrote {a.output}" + (f": {v['bit_exact']}/{v['inputs']} outputs bit-exact with hls4ml predict(), "
                                 f"per-layer trace {v['trace_bit_exact']} of {v['trace_inputs']}" if v else ""))
    if "test_jets" in v:
        print(f"test split: {v['test_jets']} inputs, accuracy float {v['test_accuracy_float']:.4f}, fixed point "
              f"{v['test_accuracy_fixed']:.4f}" + (f", {v['test_bit_exact']} bit-exact with hls4ml predict()"
                                                   if "test_bit_exact" in v else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
