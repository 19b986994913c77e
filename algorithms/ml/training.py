"""``hepreco train CONFIG.yaml``: train a model on a dataset and write its artefact, metrics and plots.

The run is deterministic on the CPU for a given ``training.seed``: the weights'
initialisation and the batch order come from seeded torch generators, torch's
deterministic algorithms are switched on, and torch uses the threads of the
one thread policy (``training.threads``, 0: the usable cores).

Written into the output folder (never into the package):

- ``<name>@<version>.safetensors`` and its ``.json`` sidecar: the model artefact
  (install it with ``hepreco artefacts install FILE``);
- ``metrics.json``: loss curves, and on the test split AUC, accuracy and background
  rejection 1/eps_B at 50% and 30% signal efficiency per signal class against the
  first (background) class; response and resolution in bins of the target for a regression;
- ``loss.png``, and ``roc.png`` + ``scores.png`` (classification) or ``response.png`` (regression).
"""
from __future__ import annotations

import datetime
import json
import os
import sys

import numpy as np

from hepreco.framework import allocator, extras
from hepreco.framework import threads as thread_policy
from hepreco.framework.errors import ConfigurationError, Location

from . import data as ml_data
from . import metrics
from .config import TrainConfig
from .splits import TEST, TRAIN, VALIDATION


def model_config(cfg: TrainConfig, dataset: ml_data.Dataset) -> dict:
    """The model's constructor arguments: the configured sizes plus the dimensions of the data."""
    spec = dataset.spec
    n_out = len(dataset.classes) if cfg.top.task == "classification" else 1
    args = {"type": cfg.model_type, **cfg.model.properties(), "n_outputs": n_out}
    if cfg.model_type == "mlp":
        args["n_inputs"] = len(spec.fields)
    elif cfg.model_type == "cnn":
        args["image_shape"] = spec.shapes[spec.fields[0]]
    elif cfg.model_type == "efn":
        args["n_angular"] = len(spec.fields)
    elif cfg.model_type in ("pfn", "particlenet"):
        args["n_features"] = len(spec.fields)
    elif cfg.model_type == "cellnet":
        args["layer_shapes"] = [spec.shapes[f] for f in spec.fields]
    if spec.globals:
        args["n_globals"] = len(spec.globals)
    return args


def distance_correlation_squared(torch, x, y, w):
    """Weighted dCor^2 of two 1D tensors (differentiable; O(n^2) in the batch size)."""
    w = w / w.sum()

    def centred(v):
        d = (v[:, None] - v[None, :]).abs()
        row = d @ w
        return d - row[:, None] - row[None, :] + row @ w

    a, b = centred(x), centred(y)
    dcov = w @ (a * b) @ w
    var = (w @ (a * a) @ w) * (w @ (b * b) @ w)
    return dcov / var.clamp_min(1e-12).sqrt()


def _key_of(cfg: TrainConfig, exc: Exception) -> str:
    """The configuration key an error of the dataset loading is about (its line is shown)."""
    if getattr(exc, "key", None):
        return exc.key
    name = getattr(exc, "field", None)
    if name is not None:
        i, d, t = cfg.inputs, cfg.data, cfg.training
        for key, value in (("inputs.fields", i.fields), ("inputs.weight", [i.weight]), ("inputs.count", [i.count]),
                           ("inputs.globals", i.globals),
                           ("data.target", [d.target]), ("data.relative_to", [d.relative_to]),
                           ("training.disco_feature", [t.disco_feature])):
            if name in value:
                return key
        return "data.collection"
    text = str(exc)
    for key in ("data.files", "data.collection", "data.labels", "data.classes"):
        if key in text or key.split(".")[1] in text:
            return key
    return "data"


def _limit(split: ml_data.Split, n: int) -> ml_data.Split:
    if not n or len(split) <= n:
        return split
    return ml_data.Split([a[:n] for a in split.inputs], split.target[:n], split.weight[:n],
                         {k: v[:n] for k, v in split.extra.items()})


def load_dataset(cfg: TrainConfig) -> ml_data.Dataset:
    """The dataset of a configuration, with the preprocessing fitted on its train split."""
    d, i, t = cfg.data, cfg.inputs, cfg.training
    spec = ml_data.InputSpec(i.kind, list(i.fields), weight=i.weight, count=i.count, globals=list(i.globals))
    classification = cfg.top.task == "classification"
    try:
        dataset = ml_data.load(d.files, d.collection, spec, labels=list(d.labels),
                               classes=d.classes if classification else None, target=d.target,
                               relative_to=d.relative_to, use_weights=d.use_weights,
                               flatten=d.flatten, flatten_bins=d.flatten_bins,
                               extra=[t.disco_feature] if t.disco_feature else [])
    except ConfigurationError as exc:
        if exc.location is not None:
            raise
        raise exc.at(cfg.where.get(_key_of(cfg, exc), Location(cfg.file))) from None
    dataset.splits = {k: _limit(s, t.max_objects) for k, s in dataset.splits.items()}
    for s, what in ((TRAIN, "train"), (VALIDATION, "validation")):
        if len(dataset.splits[s]) == 0:
            raise ConfigurationError(f"data.files: the dataset has no {what} objects (split {s}) of the selected "
                                     "classes", cfg.where.get("data.files", Location(cfg.file)))
    return dataset


def train(cfg: TrainConfig, output_dir: str, *, progress: bool = True, dataset: ml_data.Dataset | None = None,
          plots: bool = True) -> dict:
    """Train as ``cfg`` says, write the artefact, ``metrics.json`` and plots into ``output_dir``.

    Returns ``{"artefact": path, "metrics": dict, "files": [paths]}``.
    """
    torch = extras.torch(needed_by="hepreco train")
    extras.require("safetensors", needed_by="hepreco train")
    from . import artefact, models, runtime
    from tqdm import tqdm

    t = cfg.training
    thread_policy.apply(thread_policy.resolve(t.threads))
    allocator.apply(t.malloc)
    dataset = dataset if dataset is not None else load_dataset(cfg)
    classification = cfg.top.task == "classification"
    device = torch.device(t.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigurationError(f"training.device is {t.device!r}, but torch sees no CUDA device here; use "
                                 "device: cpu", cfg.where.get("training.device", Location(cfg.file)))
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    # on the CPU every op has a deterministic kernel; elsewhere some may not, and torch then only warns
    torch.use_deterministic_algorithms(True, warn_only=device.type != "cpu")
    try:
        torch.manual_seed(t.seed)
        model_args = model_config(cfg, dataset)
        module = models.build(model_args).to(device)
        optimisers = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
        opt = optimisers[t.optimizer](module.parameters(), lr=t.learning_rate, weight_decay=t.weight_decay)
        shuffle = torch.Generator().manual_seed(t.seed)

        def tensors(split: ml_data.Split):
            x = [torch.from_numpy(a).to(device) for a in split.inputs]
            y = torch.from_numpy(split.target.astype(np.int64 if classification else np.float32)).to(device)
            w = torch.from_numpy(split.weight.astype(np.float32)).to(device)
            dec = split.extra.get(t.disco_feature) if t.disco_feature else None
            dec = torch.from_numpy(dec.astype(np.float32)).to(device) if dec is not None else None
            return x, y, w, dec

        def loss_of(x, y, w, dec):
            out = module(*x)
            if classification:
                loss = (torch.nn.functional.cross_entropy(out, y, reduction="none") * w).sum() / w.sum()
                if t.disco_lambda > 0:
                    bkg = y == 0
                    if int(bkg.sum()) > 1:
                        score = 1.0 - torch.softmax(out[bkg], dim=1)[:, 0]
                        loss = loss + t.disco_lambda * distance_correlation_squared(torch, score, dec[bkg], w[bkg])
            else:
                loss = ((out[:, 0] - y) ** 2 * w).sum() / w.sum()
            return loss

        train_t, val_t = tensors(dataset.splits[TRAIN]), tensors(dataset.splits[VALIDATION])
        n = len(train_t[2])
        per_epoch = (n + t.batch_size - 1) // t.batch_size
        history = {"train": [], "validation": []}
        best = (float("inf"), -1, None)
        bar = tqdm(total=t.epochs * per_epoch, desc=f"train {cfg.top.name}", unit="batch", disable=not progress,
                   file=sys.stderr, dynamic_ncols=True)
        try:
            for epoch in range(t.epochs):
                module.train()
                order = torch.randperm(n, generator=shuffle).to(device)
                total, weight = 0.0, 0.0
                for first in range(0, n, t.batch_size):
                    idx = order[first:first + t.batch_size]
                    x, y, w, dec = ([a[idx] for a in train_t[0]], train_t[1][idx], train_t[2][idx],
                                    None if train_t[3] is None else train_t[3][idx])
                    loss = loss_of(x, y, w, dec)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    value, w_sum = loss.item(), float(w.sum())
                    total += value * w_sum
                    weight += w_sum
                    bar.update(1)
                    if bar.n % 10 == 0:
                        bar.set_postfix(epoch=epoch + 1, loss=f"{value:.4f}", refresh=False)
                history["train"].append(total / max(weight, 1e-30))
                module.eval()
                with torch.no_grad():
                    val = 0.0
                    nv = len(val_t[2])
                    for first in range(0, nv, max(t.batch_size, 1024)):
                        sl = slice(first, first + max(t.batch_size, 1024))
                        val += float(loss_of([a[sl] for a in val_t[0]], val_t[1][sl], val_t[2][sl],
                                             None if val_t[3] is None else val_t[3][sl])) * float(val_t[2][sl].sum())
                    val /= max(float(val_t[2].sum()), 1e-30)
                history["validation"].append(val)
                bar.set_postfix(epoch=epoch + 1, loss=f"{history['train'][-1]:.4f}", val=f"{val:.4f}")
                if val < best[0]:
                    best = (val, epoch, {k: v.detach().clone() for k, v in module.state_dict().items()})
                elif t.patience and epoch - best[1] >= t.patience:
                    break
        finally:
            bar.close()
        module.load_state_dict(best[2])
        module.eval().cpu()
    finally:
        torch.use_deterministic_algorithms(deterministic_before)

    test = dataset.splits[TEST] if len(dataset.splits[TEST]) else dataset.splits[VALIDATION]
    raw = runtime.predict(module, test.inputs, 4096)
    summary = {"loss": history, "epochs": len(history["train"]), "best_epoch": best[1] + 1,
               "best_validation_loss": best[0], "objects": {name: len(dataset.splits[s]) for s, name in
                                                            ((TRAIN, "train"), (VALIDATION, "validation"),
                                                             (TEST, "test"))},
               "evaluated_on": "test" if len(dataset.splits[TEST]) else "validation",
               "parameters": models.n_parameters(module)}
    os.makedirs(output_dir, exist_ok=True)
    files = []
    if classification:
        probs = runtime.softmax(raw)
        summary["test"] = classification_metrics(probs, test.target, test.weight, dataset.classes)
        if t.disco_feature:
            summary["test"]["distance_correlation"] = decorrelation(probs, test, t.disco_feature)
        if plots:
            files += plot_classification(probs, test.target, test.weight, dataset.classes, output_dir)
    else:
        ref = test.extra.get("__reference__")
        pred = ml_data.decode_target(raw[:, 0], ref, dataset.preprocessing[ml_data.TARGET])
        true = test.extra[cfg.data.target].astype(np.float64)
        summary["test"] = regression_metrics(true, pred)
        if plots:
            files += plot_regression(true, pred, output_dir, cfg.data.target)
    if plots:
        files.insert(0, plot_loss(history, output_dir))

    meta = {"model": model_args, "task": cfg.top.task, "inputs": dataset.spec.to_dict(),
            "preprocessing": dataset.preprocessing, "classes": dataset.classes,
            "training": {"config": cfg.to_dict(), "config_file": os.path.abspath(cfg.file), "seed": t.seed,
                         "data_sha256": dataset.sha256, "data_files": [os.path.abspath(f) for f in dataset.files],
                         "epochs": summary["epochs"], "best_epoch": summary["best_epoch"],
                         "metrics": _finite(summary["test"])},
            "derived": {"command": f"hepreco train {cfg.file}", "date": datetime.datetime.now().isoformat(
                timespec="seconds"), "hepreco": _version()}}
    if not classification:
        meta["regression"] = {"target": cfg.data.target, "relative_to": cfg.data.relative_to}
    state = {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}
    path = artefact.save(output_dir, cfg.top.name, cfg.top.version, state, meta)
    metrics_path = os.path.join(output_dir, "metrics.json")
    with open(metrics_path + ".tmp", "w") as f:
        json.dump(_finite(summary), f, indent=1, default=_json_default)
        f.write("\n")
    os.replace(metrics_path + ".tmp", metrics_path)
    return {"artefact": path, "metrics": summary, "files": [path, path + ".json", metrics_path, *files]}


def _finite(value):
    """``value`` with infinities and NaN as None (strict JSON; an infinite rejection means no background passed)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("hepreco")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def signal_pairs(target: np.ndarray, classes: list[str]):
    """``(class name, mask of class c or background, is_signal)`` for each signal class c >= 1."""
    for c in range(1, len(classes)):
        sel = (target == c) | (target == 0)
        yield c, classes[c], sel, target[sel] == c


def classification_metrics(probs: np.ndarray, target: np.ndarray, weight: np.ndarray, classes: list[str]) -> dict:
    """Accuracy, and per signal class c against the first class: AUC and 1/eps_B at 50% and 30% signal efficiency
    of the score p_c / (p_c + p_0) (:func:`.metrics.versus`, as the performance study takes it)."""
    out = {"accuracy": float(np.mean(probs.argmax(axis=1) == target)) if len(target) else float("nan")}
    for c, name, sel, sig in signal_pairs(target, classes):
        score, w = metrics.versus(probs[sel], c, 0), weight[sel]
        out[f"{name}_vs_{classes[0]}"] = {
            "auc": metrics.auc(sig, score, w), "rejection_50": metrics.rejection(sig, score, 0.5, w),
            "rejection_30": metrics.rejection(sig, score, 0.3, w), "signal": int(sig.sum()),
            "background": int((~sig).sum())}
    return out


def decorrelation(probs: np.ndarray, split: ml_data.Split, feature: str, n: int = 2000) -> float:
    """dCor between the signal score and ``feature`` on (at most ``n``) background objects of a split."""
    bkg = np.nonzero(split.target == 0)[0][:n]
    if len(bkg) < 2:
        return float("nan")
    return metrics.distance_correlation(1.0 - probs[bkg, 0], split.extra[feature][bkg], split.weight[bkg])


def regression_metrics(true: np.ndarray, pred: np.ndarray) -> dict:
    """Median response and relative resolution overall and in bins of the true value."""
    ratio = pred / np.where(true != 0, true, np.nan)
    ratio = ratio[np.isfinite(ratio)]
    med = float(np.median(ratio)) if ratio.size else float("nan")
    q16, q84 = np.quantile(ratio, [0.16, 0.84]) if ratio.size else (np.nan, np.nan)
    lo, hi = (float(np.min(true)), float(np.max(true))) if len(true) else (1.0, 2.0)
    edges = np.geomspace(max(lo, 1e-3), hi * 1.0001, 9) if lo > 0 else np.linspace(lo, hi * 1.0001, 9)
    return {"response": med, "resolution": float((q84 - q16) / 2 / med) if med else float("nan"),
            "binned": metrics.response_resolution(true, pred, edges)}


# -- plots --------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_loss(history: dict, folder: str) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = np.arange(1, len(history["train"]) + 1)
    ax.plot(epochs, history["train"], marker="o", label="train")
    ax.plot(epochs, history["validation"], marker="o", label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    path = os.path.join(folder, "loss.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_classification(probs, target, weight, classes, folder) -> list[str]:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for c, name, sel, sig in signal_pairs(target, classes):
        score = metrics.versus(probs[sel], c, 0)
        eff_b, eff_s, _ = metrics.roc_curve(sig, score, weight[sel])
        ok = eff_b > 0
        ax.plot(eff_s[ok], 1.0 / eff_b[ok], label=f"{name} vs {classes[0]} "
                f"(AUC {metrics.auc(sig, score, weight[sel]):.3f})")
    ax.set_yscale("log")
    ax.set_xlabel("signal efficiency")
    ax.set_ylabel("background rejection 1/eps_B")
    ax.legend()
    fig.tight_layout()
    roc = os.path.join(folder, "roc.png")
    fig.savefig(roc, dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4.5))
    score = 1.0 - probs[:, 0]
    bins = np.linspace(0, 1, 41)
    for c, name in enumerate(classes):
        sel = target == c
        if sel.any():
            ax.hist(score[sel], bins=bins, weights=weight[sel], density=True, histtype="step", label=name)
    ax.set_xlabel(f"score 1 - P({classes[0]})")
    ax.set_ylabel("normalised")
    ax.legend()
    fig.tight_layout()
    scores = os.path.join(folder, "scores.png")
    fig.savefig(scores, dpi=90)
    plt.close(fig)
    return [roc, scores]


def plot_regression(true, pred, folder, target: str) -> list[str]:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ratio = pred / np.where(true != 0, true, np.nan)
    ax.scatter(true, ratio, s=2, alpha=0.3)
    res = regression_metrics(true, pred)["binned"]
    ax.plot(res["centre"], res["response"], "o-", color="C1", label="median")
    ax.set_xscale("log" if np.min(true) > 0 else "linear")
    ax.set_xlabel(f"true {target} [GeV]")
    ax.set_ylabel("predicted / true")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.legend()
    fig.tight_layout()
    path = os.path.join(folder, "response.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return [path]


def main(config_path: str, overrides: list[str], output_dir: str | None, progress: bool = True) -> dict:
    """What ``hepreco train`` does: validate, train, write; returns :func:`train`'s summary.

    A generator's configuration (``task: generation``, e.g. ``jobs/ml/calogan.yaml``) is trained by
    :func:`hepreco.algorithms.calogan.train.command` instead.
    """
    from .config import load

    if _task_of(config_path) == "generation":
        from ..calogan import train as generator_training

        return generator_training.command(config_path, overrides, output_dir, progress=progress)

    cfg = load(config_path, overrides)
    folder = output_dir or os.path.join("output", "train", cfg.top.name)
    return train(cfg, folder, progress=progress)


def _task_of(path: str) -> str | None:
    """The top-level ``task`` of a YAML training configuration, None when it cannot be read here (the full
    validation then says what is wrong)."""
    import yaml

    try:
        with open(path) as f:
            raw = yaml.safe_load(f)
    except (OSError, yaml.YAMLError):
        return None
    return raw.get("task") if isinstance(raw, dict) else None
