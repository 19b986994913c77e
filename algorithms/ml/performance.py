"""Physics performance of trained models against the cut-based baselines, on the test split.

Three studies, each one command writing a table (``performance.json``, printed
as Markdown) and PNG plots into a folder::

    python -m hepreco.algorithms.ml.performance jets --data output/ml/jets/{qcd,wz,top}/JetDataset \\
        --model output/train/jet-tagger-mlp/jet-tagger-mlp@1.safetensors ... -o output/performance/jets \\
        [--test-data output/ml/jets/qcd_run2/JetDataset]
    python -m hepreco.algorithms.ml.performance egamma --data output/ml/egamma_gamma_pi0/EgammaDataset \\
        --model output/train/egamma-gamma-pi0/egamma-gamma-pi0@1.safetensors -o output/performance/gamma-pi0
    python -m hepreco.algorithms.ml.performance regression --data output/ml/regression/RegressionDataset \\
        --model ... -o output/performance/regression [--closure-data output/ml/regression_falling/RegressionDataset]

Jets: for W, Z and top against QCD, the AUC and the background rejection
1/eps_B at 50% and 30% signal efficiency of every model and of the cut-based
baselines a physicist would otherwise use: a soft-drop mass window plus a cut
on tau21 (W, Z) or tau32 (top), and the window plus a cut on D2.  The window is
the narrowest ``sd_m`` interval holding 70% of the signal jets of the training
split; outside it a jet is rejected, so a baseline reaches at most 70% signal
efficiency.  Objects are weighted so that every class is flat in jet pT (as
the taggers are trained).  A multi-class model's score for class c against
QCD is p_c / (p_c + p_QCD); a class standing for several labels (``classes:
{boson: [w, z]}`` in the training configuration) is the score of each of them.
The QCD soft-drop mass before and after a cut at 50% W efficiency on each
tagger shows the mass sculpting, measured by the Jensen-Shannon divergence of
the two spectra (``sculpting``; 0: no sculpting).

e/gamma: accuracy and AUC of the cell network against a shower-shape
baseline, a projective likelihood (per-variable histograms of the training
split, 40 bins at the quantiles of both classes, the product of the ratios).
Accuracy counts a candidate as signal when its probability (likelihood
fraction for the baseline) is above 0.5.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import awkward as ak
import numpy as np

from hepreco.framework.errors import ConfigurationError, HeprecoError
from hepreco.framework.io import read
from . import metrics
from .data import columns_of, expand, flat_weights, model_inputs, part_files
from .splits import TEST, TRAIN

#: the shower shapes of EgammaShowerShapes used by the likelihood baseline
SHOWER_SHAPES = ("R_had", "R_eta", "R_phi", "w_eta2", "f1", "f3", "w_stot", "E_ratio")
JET_TASKS = {"w": ("tau21", "d2"), "z": ("tau21", "d2"), "top": ("tau32", "d2")}


def records(files, collection: str):
    """One row per object of the dataset at ``files``."""
    parts = part_files(expand(files, "--data"))
    if not parts:
        raise ConfigurationError(f"--data: no part files in {', '.join(map(str, files))} (a stream folder of a "
                                 "dataset job, or its part files)")
    events = read(parts, [collection])
    return ak.flatten(events[collection], axis=1)


def narrowest_window(values: np.ndarray, fraction: float) -> tuple[float, float]:
    """The shortest interval holding ``fraction`` of ``values``."""
    v = np.sort(values[np.isfinite(values)])
    k = max(1, int(np.ceil(fraction * len(v))))
    widths = v[k - 1:] - v[:len(v) - k + 1]
    i = int(np.argmin(widths))
    return float(v[i]), float(v[i + k - 1])


def model_path(text: str) -> str:
    """The file of a model given as a path, or by name (``egamma-e-pi``, ``egamma-e-pi@1``) as job options
    name the built-in and installed ones."""
    if os.path.exists(text) or os.sep in text or text.endswith(".safetensors"):
        if not os.path.isfile(text):
            raise ConfigurationError(f"--model {text}: no such file")
        return text
    import types

    from hepreco.framework.artefacts import ArtefactSvc
    from hepreco.framework.plugins import get_registry

    svc = ArtefactSvc()
    svc.services = types.SimpleNamespace(registry=get_registry())
    models = [a for a in svc.available() if a.kind == "model"]
    found = sorted((a for a in models if text in (a.name, a.label)), key=lambda a: a.version)
    if not found:
        raise ConfigurationError(f"--model {text}: no such file, and no built-in or installed model of that name "
                                 f"(models: {', '.join(sorted({a.label for a in models})) or 'none'})")
    return found[-1].path


def load_models(paths: list[str]) -> dict:
    """Name (``jet-tagger-mlp``) -> loaded model, for the model artefacts at ``paths`` (or named, see
    :func:`model_path`), each read once."""
    from . import artefact

    return {os.path.basename(p).split("@")[0]: artefact.load(p) for p in map(model_path, paths)}


def class_labels(model) -> list[set[str]]:
    """The dataset labels each output class of a model stands for, from its training configuration
    (``classes: {boson: [w, z]}``); a class without such a map stands for the label of its name."""
    mapping = model.meta.get("training", {}).get("config", {}).get("data", {}).get("classes")
    if isinstance(mapping, dict):
        return [set(mapping.get(c) or [c]) for c in model.classes]
    return [{c} for c in model.classes]


def _index(members: list[set[str]], label: str) -> int | None:
    return next((i for i, m in enumerate(members) if label in m), None)


def model_scores(model, cols: dict[str, np.ndarray]) -> tuple[list[set[str]], np.ndarray]:
    """The labels of each class (:func:`class_labels`) and the class probabilities of a loaded classification
    model for the rows of ``cols``."""
    from . import runtime

    inputs = model_inputs(cols, model.spec, model.preprocessing)
    return class_labels(model), runtime.softmax(runtime.predict(model.module, inputs, 4096))


def jsd(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (bits) of two histograms (normalised here): 0 for equal shapes, 1 at most."""
    p = np.asarray(p, float) / max(float(np.sum(p)), 1e-300)
    q = np.asarray(q, float) / max(float(np.sum(q)), 1e-300)
    m = 0.5 * (p + q)

    def kl(a):
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return 0.5 * kl(p) + 0.5 * kl(q)


def _rates(is_signal, score, weight) -> dict:
    return {"auc": metrics.auc(is_signal, score, weight), "rejection_50": metrics.rejection(is_signal, score, 0.5, weight),
            "rejection_30": metrics.rejection(is_signal, score, 0.3, weight)}


def jets(data: list[str], models: list[str], output_dir: str, collection: str = "JetDataset",
         labels=("qcd", "w", "z", "top"), test_data: list[str] = ()) -> dict:
    """The jet-tagging table and plots (see the module docstring); returns the table.

    ``test_data``: datasets of independent runs (another ``job.run``, so other
    events than the training's): every object of them is a test object too.
    """
    loaded = load_models(models)
    rows = records(data, collection)
    if test_data:
        extra = records(test_data, collection)
        extra = ak.with_field(extra, ak.full_like(extra["split"], TEST), "split")
        rows = ak.concatenate([rows, extra])
    model_fields = {f for model in loaded.values() for f in model.spec.needed()}
    cols = columns_of(rows, sorted({"label", "split", "pt", "sd_m", "tau21", "tau32", "d2", *model_fields}))
    label, split = cols["label"].astype(int), cols["split"].astype(int)
    train, test = split == TRAIN, split == TEST
    tcols = {k: v[test] for k, v in cols.items()}
    tlabel = label[test]
    weight = flat_weights(tcols["pt"], tlabel, 20)
    scores = {name: model_scores(model, tcols) for name, model in loaded.items()}
    table: dict = {"objects": {name: int((tlabel == i).sum()) for i, name in enumerate(labels)}, "tasks": {}}
    curves: dict = {}
    for task, (shape, d2) in JET_TASKS.items():
        c = labels.index(task)
        sel = (tlabel == c) | (tlabel == 0)
        sig = tlabel[sel] == c
        w = weight[sel]
        lo, hi = narrowest_window(cols["sd_m"][train & (label == c)], 0.7)
        inside = (tcols["sd_m"][sel] >= lo) & (tcols["sd_m"][sel] <= hi)
        methods = {
            f"sd_m window + {shape}": np.where(inside, -tcols[shape][sel], -np.inf),
            "sd_m window + D2": np.where(inside, -tcols[d2][sel], -np.inf),
        }
        for name, (members, probs) in scores.items():
            i, b = _index(members, task), _index(members, labels[0])
            if i is not None and b is not None and i != b:
                methods[name] = metrics.versus(probs[sel], i, b)
        table["tasks"][f"{task}_vs_qcd"] = {"window_GeV": [lo, hi], "signal": int(sig.sum()),
                                            "background": int((~sig).sum()),
                                            "methods": {m: _rates(sig, s, w) for m, s in methods.items()}}
        curves[task] = {m: metrics.roc_curve(sig, s, w) for m, s in methods.items()}
    os.makedirs(output_dir, exist_ok=True)
    table["sculpting"] = sculpting(scores, tcols, tlabel, weight, labels)
    table["plots"] = [_plot_rocs(curves, output_dir), _plot_sculpting(table["sculpting"], output_dir)]
    _write(table, output_dir)
    return table


#: soft-drop mass bins of the sculpting study [GeV]
SCULPT_BINS = np.linspace(0.0, 250.0, 26)


def sculpting(scores, cols, label, weight, labels) -> dict:
    """Per model, the QCD soft-drop mass spectrum after a cut at 50% W efficiency against the one before.

    ``jsd`` is their Jensen-Shannon divergence (0: the cut keeps the shape;
    a tagger that learnt the mass keeps mostly QCD jets at the W mass),
    ``qcd_kept`` the weighted fraction of QCD jets passing the cut, and
    ``jsd_random`` the mean divergence of 20 random selections of as many
    QCD jets (seeded): what a cut that does not sculpt at all would give
    with these few jets.
    """
    qcd = label == 0
    before = np.histogram(cols["sd_m"][qcd], SCULPT_BINS, weights=weight[qcd])[0]
    out = {"bins_GeV": SCULPT_BINS.tolist(), "qcd": before.tolist(), "models": {}}
    w_label = labels.index("w")
    for name, (members, probs) in scores.items():
        i, b = _index(members, "w"), _index(members, labels[0])
        if i is None or b is None or i == b:
            continue
        s = metrics.versus(probs, i, b)
        cut = float(np.quantile(s[label == w_label], 0.5))  # 50% W efficiency (unweighted quantile)
        keep = qcd & (s > cut)
        after = np.histogram(cols["sd_m"][keep], SCULPT_BINS, weights=weight[keep])[0]
        if not keep.any():  # no QCD jet passes: no spectrum to compare (too few QCD jets in the test split)
            out["models"][name] = {"jsd": None, "jsd_random": None, "qcd_jets_kept": 0, "qcd_kept": 0.0,
                                   "qcd_after": after.tolist()}
            continue
        rng = np.random.default_rng(1)
        qcd_rows = np.flatnonzero(qcd)
        random = []
        for _ in range(20):
            pick = rng.choice(qcd_rows, int(keep.sum()), replace=False)
            random.append(jsd(before, np.histogram(cols["sd_m"][pick], SCULPT_BINS, weights=weight[pick])[0]))
        out["models"][name] = {"jsd": jsd(before, after), "jsd_random": float(np.mean(random)),
                               "qcd_jets_kept": int(keep.sum()),
                               "qcd_kept": float(weight[keep].sum() / weight[qcd].sum()), "qcd_after": after.tolist()}
    return out


def likelihood_baseline(train_cols: dict, train_y: np.ndarray, test_cols: dict, names) -> np.ndarray:
    """Signal fraction L_s / (L_s + L_b) of a projective likelihood over ``names`` (class 1 is the signal)."""
    log_ratio = np.zeros(len(next(iter(test_cols.values()))))
    for name in names:
        x, t = train_cols[name].astype(np.float64), test_cols[name].astype(np.float64)
        edges = np.unique(np.quantile(x[np.isfinite(x)], np.linspace(0.0, 1.0, 41)))
        if len(edges) < 3:
            continue
        idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(edges) - 2)
        pdf = []
        for cls in (0, 1):
            xs = x[(train_y == cls) & np.isfinite(x)]
            h = np.histogram(np.clip(xs, edges[0], edges[-1]), edges)[0].astype(np.float64) + 0.5
            pdf.append(h / h.sum())
        log_ratio += np.log(pdf[1][idx]) - np.log(pdf[0][idx])
    return 1.0 / (1.0 + np.exp(-log_ratio))


def egamma(data: list[str], models: list[str], output_dir: str, collection: str = "EgammaDataset",
           shapes=SHOWER_SHAPES, labels: list[str] | None = None) -> dict:
    """Accuracy and AUC of the cell networks against the shower-shape likelihood (see the module docstring).

    With more than two classes in the data (e.g. ``[jet, electron, photon]``), one task per class against
    class 0 (``electron_vs_jet``, ...), each on the objects of its two classes; ``labels`` names the classes
    (as the dataset maker's ``classes``) so that a model's classes are matched by name.
    """
    loaded = load_models(models)
    rows = records(data, collection)
    needed = {f for model in loaded.values() for f in model.spec.needed()}
    cols = columns_of(rows, sorted({"label", "split", *shapes, *needed}))
    label, split = cols["label"].astype(int), cols["split"].astype(int)
    train, test = split == TRAIN, split == TEST
    present = sorted(set(label.tolist()))
    names = list(labels) if labels else [str(c) for c in range(max(present) + 1)]
    scores = {name: model_scores(model, {k: v[test] for k, v in cols.items()}) for name, model in loaded.items()}
    tasks = {}
    for c in [c for c in present if c != 0] if len(present) > 2 else [1]:
        pair_train = train & ((label == 0) | (label == c))
        pair_test = (label[test] == 0) | (label[test] == c)
        tcols = {k: v[test][pair_test] for k, v in cols.items()}
        y = (label[test][pair_test] == c).astype(int)
        methods = {"shower-shape likelihood": likelihood_baseline(
            {k: cols[k][pair_train] for k in shapes}, (label[pair_train] == c).astype(int),
            {k: tcols[k] for k in shapes}, shapes)}
        for name, (members, probs) in scores.items():
            i = _index(members, names[c]) if labels else c
            b = _index(members, names[0]) if labels else 0
            if i is not None and b is not None and i != b:
                methods[name] = metrics.versus(probs[pair_test], i, b)
        tasks[f"{names[c]}_vs_{names[0]}"] = {
            "objects": {"test": int(len(y)), "signal": int(y.sum())},
            "methods": {m: {"accuracy": float(np.mean((sc > 0.5) == (y == 1))), "auc": metrics.auc(y == 1, sc)}
                        for m, sc in methods.items()}}
    table = next(iter(tasks.values())) if len(tasks) == 1 else {"egamma_tasks": tasks}
    os.makedirs(output_dir, exist_ok=True)
    _write(table, output_dir)
    return table


#: particle types of the regression study: name -> pdg ids of the gun particle
PARTICLES = {"electron": (11, -11), "photon": (22,), "pi0": (111,), "charged pion": (211, -211)}


def regression(data: list[str], models: list[str], output_dir: str, collection: str = "RegressionDataset",
               edges=(1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0), closure_data: list[str] = ()) -> dict:
    """Response and resolution against true energy, per particle type, of the linear calibration (the
    summed window energy times one constant, the median of true/sum over the training split) and of each
    regression model, with sigma/E = a/sqrt(E) (+) b/E (+) c fitted to each; on the test split.

    ``closure_data``: datasets of independent runs (e.g. another energy spectrum) evaluated whole instead
    of the test split, to show whether the calibrations depend on the spectrum they were derived on.
    """
    from ..calo.resolution import fit_resolution
    from . import artefact
    from .data import CELLS_SUM, reference_energy

    loaded = load_models(models)
    rows = records(data, collection)
    needed = {f for model in loaded.values() for f in model.spec.needed()}
    cell_fields = sorted(f for f in ak.fields(rows) if f.startswith("cells_"))
    names = sorted({"split", "true_e", "true_pdg", *needed, *cell_fields})
    cols = columns_of(rows, names)
    split = cols["split"].astype(int)
    spec = artefact.InputSpec("cells", cell_fields)
    total = reference_energy(cols, CELLS_SUM, spec)
    train = split == TRAIN
    k = float(np.median(cols["true_e"][train] / np.maximum(total[train], 1e-3)))
    if closure_data:
        tcols = columns_of(records(closure_data, collection), names)
        ttotal = reference_energy(tcols, CELLS_SUM, spec)
    else:
        test = split == TEST
        tcols, ttotal = {n: v[test] for n, v in cols.items()}, total[test]
    true, pdg = tcols["true_e"].astype(np.float64), tcols["true_pdg"].astype(int)
    methods = {f"linear (sum x {k:.3f})": k * ttotal}
    from . import runtime
    from .data import TARGET, decode_target

    for name, model in loaded.items():
        raw = runtime.predict(model.module, model_inputs(tcols, model.spec, model.preprocessing), 4096)
        relative = model.regression.get("relative_to", "")
        ref = reference_energy(tcols, relative, model.spec) if relative else None
        methods[name] = decode_target(raw[:, 0], ref, model.preprocessing[TARGET])
    table: dict = {"edges_GeV": list(edges), "particles": {}}
    for name, ids in PARTICLES.items():
        sel = np.isin(pdg, ids)
        if sel.sum() < 20:
            continue
        row = {}
        for m, pred in methods.items():
            rr = metrics.response_resolution(true[sel], pred[sel], np.asarray(edges))
            ok = np.isfinite(rr["resolution"]) & (np.asarray(rr["count"]) >= 10)
            fit = fit_resolution(np.asarray(rr["centre"])[ok], np.asarray(rr["resolution"])[ok]) if ok.sum() >= 3 \
                else {}
            mid = [i for i, c in enumerate(rr["centre"]) if 10.0 <= c <= 100.0 and ok[i]]
            row[m] = {**rr, "fit": fit, "resolution_10_100": float(np.mean([rr["resolution"][i] for i in mid]))
                      if mid else float("nan")}
        table["particles"][name] = row
    os.makedirs(output_dir, exist_ok=True)
    _write(table, output_dir)
    return table


def _json_ready(value):
    """``value`` with numpy scalars as Python numbers and non-finite floats (an infinite rejection) as None,
    so that the file is standard JSON (as ``metrics.json``)."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value


def _write(table: dict, output_dir: str) -> None:
    with open(os.path.join(output_dir, "performance.json"), "w") as f:
        json.dump(_json_ready(table), f, indent=1, default=float, allow_nan=False)


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _plot_rocs(curves: dict, output_dir: str) -> str:
    plt = _plt()
    fig, axes = plt.subplots(1, len(curves), figsize=(4.6 * len(curves), 4.2), squeeze=False)
    for ax, (task, methods) in zip(axes[0], curves.items()):
        for name, (fpr, tpr, _) in methods.items():
            ok = (fpr > 0) & (tpr > 0.05)
            ax.plot(tpr[ok], 1.0 / fpr[ok], label=name, linestyle="--" if "window" in name else "-")
        ax.set_yscale("log")
        ax.set_xlabel(f"{task} efficiency")
        ax.set_ylabel("QCD rejection 1/eps_B")
        ax.set_title(f"{task} vs QCD", fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = os.path.join(output_dir, "roc.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _plot_sculpting(sculpt: dict, output_dir: str) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 4.4))
    bins = np.asarray(sculpt["bins_GeV"])
    ax.stairs(np.asarray(sculpt["qcd"]) / max(np.sum(sculpt["qcd"]), 1e-300), bins, color="k", label="QCD, all")
    for name, r in sculpt["models"].items():
        after = np.asarray(r["qcd_after"])
        if after.sum() > 0:
            ax.stairs(after / after.sum(), bins, label=f"QCD, {name} at 50% W eff. (JSD {r['jsd']:.3f})")
    ax.set_xlabel("soft-drop mass [GeV]")
    ax.set_ylabel("fraction of jets")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = os.path.join(output_dir, "mass_sculpting.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def markdown(table: dict) -> str:
    """The table as Markdown (one row per method and task)."""
    lines = []
    if "particles" in table:
        lines += ["| particle | method | response 10-100 GeV | resolution 10-100 GeV | a [sqrt(GeV)] | b [GeV] | c |",
                  "|---|---|---|---|---|---|---|"]
        for particle, row in table["particles"].items():
            for m, r in row.items():
                mid = [x for c, x in zip(r["centre"], r["response"]) if 10.0 <= c <= 100.0]
                fit = r["fit"] or {"a": float("nan"), "b": float("nan"), "c": float("nan")}
                lines.append(f"| {particle} | {m} | {np.nanmean(mid):.3f} | {r['resolution_10_100']:.3f} | "
                             f"{fit['a']:.3f} | {fit['b']:.3f} | {fit['c']:.3f} |")
        return "\n".join(lines)
    if "tasks" in table:
        lines += ["| task | method | AUC | 1/eps_B at 50% | 1/eps_B at 30% |", "|---|---|---|---|---|"]
        for task, t in table["tasks"].items():
            for m, r in t["methods"].items():
                lines.append(f"| {task} | {m} | {r['auc']:.3f} | {r['rejection_50']:.1f} | {r['rejection_30']:.1f} |")
        if table.get("sculpting", {}).get("models"):
            lines += ["", "| model | QCD mass JSD after a cut at 50% W efficiency | same, random selection of as many "
                      "QCD jets | QCD jets kept (weighted fraction) |", "|---|---|---|---|"]
            for m, r in table["sculpting"]["models"].items():
                if r["jsd"] is None:
                    lines.append(f"| {m} | - | - | 0 (no QCD jet passes: too few in the test split) |")
                    continue
                lines.append(f"| {m} | {r['jsd']:.3f} | {r['jsd_random']:.3f} | {r['qcd_jets_kept']} "
                             f"({100 * r['qcd_kept']:.2f}%) |")
    elif "egamma_tasks" in table:
        lines += ["| task | method | accuracy | AUC |", "|---|---|---|---|"]
        for task, t in table["egamma_tasks"].items():
            for m, r in t["methods"].items():
                lines.append(f"| {task} | {m} | {100 * r['accuracy']:.1f}% | {100 * r['auc']:.1f}% |")
    else:
        lines += ["| method | accuracy | AUC |", "|---|---|---|"]
        for m, r in table["methods"].items():
            lines.append(f"| {m} | {100 * r['accuracy']:.1f}% | {100 * r['auc']:.1f}% |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m hepreco.algorithms.ml.performance", description=__doc__.split("\n")[0])
    p.add_argument("study", choices=["jets", "egamma", "regression"])
    p.add_argument("--data", nargs="+", required=True, help="dataset stream folders or files")
    p.add_argument("--model", nargs="*", default=[], help="model artefacts (.safetensors)")
    p.add_argument("--test-data", nargs="*", default=[],
                   help="jets: datasets of independent runs (another job.run), used whole as test objects")
    p.add_argument("--closure-data", nargs="*", default=[],
                   help="regression: datasets of independent runs (e.g. a falling energy spectrum) evaluated "
                        "whole instead of the test split of --data")
    p.add_argument("--labels", nargs="*", default=None,
                   help="egamma: the class names of the dataset's labels 0, 1, ... (e.g. jet electron photon)")
    p.add_argument("-o", "--output-dir", required=True)
    args = p.parse_args(argv)
    try:
        if args.study == "jets":
            table = jets(args.data, args.model, args.output_dir, test_data=args.test_data)
        elif args.study == "egamma":
            table = egamma(args.data, args.model, args.output_dir, labels=args.labels)
        else:
            table = regression(args.data, args.model, args.output_dir, closure_data=args.closure_data)
    except HeprecoError as exc:
        print(f"hepreco: error: {exc}", file=sys.stderr)
        return 2
    print(markdown(table))
    print(f"wrote {args.output_dir}/performance.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
