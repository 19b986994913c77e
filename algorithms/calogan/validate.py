"""Validation of a CaloGAN generator against reference showers: ``python -m hepreco.algorithms.calogan.validate``.

For each particle (reference files of ``CaloGanOutput`` streams ``eplus``,
``gamma``, ``piplus`` under ``--reference``) the generator makes one shower
per reference shower, at the same energy, with latent noise from the
per-event streams of ``--seed``.  Written to ``--output``:

- ``shapes_<particle>.png``: the CaloGAN shower-shape variables, reference
  against generated (all energies);
- ``images_<particle>.png``: the average image of each layer, side by side;
- ``response.png``: E_tot / E and its relative spread against true energy;
- ``results.json`` and ``results.md``: per particle and energy bin the
  Wasserstein-1 distance of every variable over the reference's standard
  deviation, the classifier AUC (a small network trained to tell generated
  from reference showers; 0.5 = indistinguishable), response and resolution.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from hepreco.framework import extras
from hepreco.framework.errors import ConfigurationError
from hepreco.framework.services.random import event_seeds

from ..calo.outputs import cells_to_layers
from .noise import latent_normals
from .shapes import VARIABLES, response_resolution, shower_shapes, wasserstein_normalised
from .train import read_showers

PARTICLES = {"eplus": -11, "gamma": 22, "piplus": 211}
LABELS = {"eplus": "e+", "gamma": "gamma", "piplus": "pi+"}
ENERGY_BINS = ((1.0, 10.0), (10.0, 50.0), (50.0, 100.0))
#: the goal of the classifier test: AUC below this for e+ and gamma
AUC_GOAL = 0.75


def find_weights(name_or_path: str) -> str:
    """A weights file: the path itself, or the highest version of the artefact of that name."""
    if os.path.exists(name_or_path):
        return name_or_path
    from hepreco.framework.artefacts import ArtefactSvc

    found = [a for a in ArtefactSvc().available() if a.name == name_or_path]
    if not found:
        raise ConfigurationError(f"no CaloGAN weights {name_or_path!r}: not a file, and no artefact of that name; "
                                 "derive them with 'python -m hepreco.algorithms.calogan.train jobs/ml/calogan.yaml'")
    return max(found, key=lambda a: a.version).path


def generate_like(gen, energy: np.ndarray, pdg_id: int, seed: int) -> np.ndarray:
    """One generated shower per energy, latent noise from the streams of ``seed`` (run 0, events 0..N-1)."""
    seeds = event_seeds(seed, np.zeros(len(energy), np.int64), np.arange(len(energy)), f"validate{pdg_id}")
    return gen.generate(energy, np.full(len(energy), pdg_id), latent_normals(seeds, gen.latent))


def _images(cells: np.ndarray) -> list[np.ndarray]:
    layers = cells_to_layers(cells, 1000.0)  # MeV, as in the CaloGAN files
    return [layers[f"layer_{i}"] for i in range(3)]


def classifier_auc(reference: np.ndarray, generated: np.ndarray, energy: np.ndarray, seed: int = 7,
                   epochs: int = 30) -> float:
    """AUC of a small network trained to separate generated from reference showers (half of each), on the other half.

    Inputs per shower (the CaloChallenge low-level classifier): the cells over
    the incoming energy and log10(E / GeV) / 2, not standardised.
    """
    torch = extras.torch(needed_by="the CaloGAN classifier test")
    torch.manual_seed(seed)
    norm = np.log10(energy)[:, None] / 2.0

    def features(cells):
        return np.hstack([cells / energy[:, None], norm]).astype(np.float32)

    x = np.vstack([features(reference), features(generated)])
    y = np.concatenate([np.zeros(len(reference)), np.ones(len(generated))]).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(x))
    half = len(x) // 2
    train, test = order[:half], order[half:]
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 128), torch.nn.LeakyReLU(0.2), torch.nn.Dropout(0.2),
                              torch.nn.Linear(128, 128), torch.nn.LeakyReLU(0.2), torch.nn.Linear(128, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    shuffle = torch.Generator().manual_seed(seed)
    train_t = torch.from_numpy(train)
    for _ in range(epochs):
        net.train()
        for idx in train_t[torch.randperm(len(train_t), generator=shuffle)].split(256):
            loss = loss_fn(net(xt[idx]).squeeze(1), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.inference_mode():
        score = net(xt[torch.from_numpy(test)]).squeeze(1).numpy()
    return auc(y[test], score)


def auc(labels: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve from ranks (Mann-Whitney), ties counted half."""
    from scipy.stats import rankdata

    labels = np.asarray(labels).astype(bool)
    ranks = rankdata(score)
    n_pos, n_neg = labels.sum(), (~labels).sum()
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def compare(reference: np.ndarray, generated: np.ndarray, energy: np.ndarray) -> dict:
    """Normalised Wasserstein-1 per variable, overall and per energy bin."""
    ref, gen = shower_shapes(_images(reference)), shower_shapes(_images(generated))
    out = {"all": {v: wasserstein_normalised(gen[v], ref[v]) for v in VARIABLES}}
    for lo, hi in ENERGY_BINS:
        sel = (energy >= lo) & (energy < hi) if hi < ENERGY_BINS[-1][1] else (energy >= lo) & (energy <= hi)
        if sel.sum() > 10:
            out[f"{lo:g}-{hi:g} GeV"] = {v: wasserstein_normalised(gen[v][sel], ref[v][sel]) for v in VARIABLES}
    return out


def _plots(name: str, ref_cells, gen_cells, output: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    ref, gen = shower_shapes(_images(ref_cells)), shower_shapes(_images(gen_cells))
    fig, axes = plt.subplots(4, 5, figsize=(18, 13))
    for ax, var in zip(axes.flat, VARIABLES):
        lo, hi = np.percentile(np.concatenate([ref[var], gen[var]]), [0.5, 99.5])
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 40)
        ax.hist(ref[var], bins, histtype="stepfilled", alpha=0.4, label="FastCaloSim", color="gray")
        ax.hist(gen[var], bins, histtype="step", lw=1.5, label="generator", color="C3")
        ax.set_title(f"{var} (W1/sigma {wasserstein_normalised(gen[var], ref[var]):.3f})", fontsize=9)
    for ax in axes.flat[len(VARIABLES):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"{LABELS[name]}: shower shapes, 1-100 GeV (energies in MeV, widths in cells)")
    fig.tight_layout()
    fig.savefig(os.path.join(output, f"shapes_{name}.png"), dpi=70)
    plt.close(fig)

    fig, axes = plt.subplots(3, 2, figsize=(12, 7), gridspec_kw={"width_ratios": [1, 1]})
    for layer, (r, g) in enumerate(zip(_images(ref_cells), _images(gen_cells))):
        mean_r, mean_g = r.mean(0), g.mean(0)
        vmax = max(mean_r.max(), mean_g.max(), 1e-6)
        norm = LogNorm(vmin=vmax * 1e-5, vmax=vmax)
        for col, (img, title) in enumerate(((mean_r, "FastCaloSim"), (mean_g, "generator"))):
            ax = axes[layer, col]
            im = ax.imshow(np.maximum(img, vmax * 1e-5), aspect="auto", norm=norm, cmap="viridis")
            ax.set_title(f"layer {layer}, {title} (mean, MeV)", fontsize=9)
            ax.set_xlabel("eta cell")
            ax.set_ylabel("phi cell")
        fig.colorbar(im, ax=axes[layer, :].tolist())
    fig.suptitle(f"{LABELS[name]}: average shower")
    fig.savefig(os.path.join(output, f"images_{name}.png"), dpi=70)
    plt.close(fig)


def _response_plot(responses: dict, output: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, (name, r) in enumerate(responses.items()):
        for kind, style in (("reference", "o"), ("generated", "x")):
            data = r[kind]
            label = f"{LABELS[name]} {'FastCaloSim' if kind == 'reference' else 'generator'}"
            axes[0].plot(data["centre"], data["response"], style, color=f"C{i}", label=label)
            axes[1].plot(data["centre"], data["resolution"], style, color=f"C{i}", label=label)
    axes[0].set_ylabel("E_tot / E")
    axes[1].set_ylabel("rms(E_tot / E) / mean")
    for ax in axes:
        ax.set_xlabel("true energy [GeV]")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(output, "response.png"), dpi=70)
    plt.close(fig)


def validate(weights: str, reference: str, output: str, events: int = 0, seed: int = 1,
             plots: bool = True, log=print) -> dict:
    """Run the whole validation; write the figures and ``results.json``/``.md`` into ``output``; return the results."""
    from .generator import load

    path = find_weights(weights)
    gen = load(path)
    os.makedirs(output, exist_ok=True)
    results: dict = {"weights": os.path.abspath(path), "reference": os.path.abspath(reference), "particles": {}}
    responses = {}
    edges = np.linspace(1.0, 100.0, 12)
    for name, pdg in PARTICLES.items():
        if abs(pdg) not in {abs(p) for p in gen.config.particles}:
            continue
        ref_cells, energy = read_showers([os.path.join(reference, name)])
        if events:
            ref_cells, energy = ref_cells[:events], energy[:events]
        start = time.perf_counter()
        gen_cells = generate_like(gen, energy, pdg, seed)
        seconds = time.perf_counter() - start
        w1 = compare(ref_cells, gen_cells, energy)
        value = classifier_auc(ref_cells, gen_cells, energy)
        ref_total, gen_total = ref_cells.sum(1), gen_cells.sum(1)
        responses[name] = {"reference": response_resolution(ref_total, energy, edges),
                           "generated": response_resolution(gen_total, energy, edges)}
        results["particles"][name] = {
            "pdg_id": pdg, "showers": int(len(energy)), "auc": round(value, 4),
            "w1_over_sigma": {b: {v: round(x, 4) for v, x in d.items()} for b, d in w1.items()},
            "response": {k: {q: np.round(np.asarray(a, dtype=float), 4).tolist() for q, a in r.items()}
                         for k, r in responses[name].items()},
            "generation_ms_per_shower": round(1e3 * seconds / max(len(energy), 1), 4)}
        log(f"{LABELS[name]}: {len(energy)} showers, classifier AUC {value:.3f}, median W1/sigma "
            f"{np.median(list(w1['all'].values())):.3f}, max {max(w1['all'].values()):.3f} "
            f"({max(w1['all'], key=w1['all'].get)})")
        if plots:
            _plots(name, ref_cells, gen_cells, output)
    if plots and responses:
        _response_plot(responses, output)
    with open(os.path.join(output, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(output, "results.md"), "w") as f:
        f.write(table(results))
    return results


def table(results: dict) -> str:
    """Markdown table: per particle and energy bin, AUC and the normalised W1 of every variable."""
    names = list(results["particles"])
    lines = ["| variable | " + " | ".join(f"{LABELS[n]} {b}" for n in names
                                          for b in results["particles"][n]["w1_over_sigma"]) + " |"]
    lines.append("|---" * (1 + sum(len(results["particles"][n]["w1_over_sigma"]) for n in names)) + "|")
    for var in VARIABLES:
        cells = [f"{results['particles'][n]['w1_over_sigma'][b][var]:.3f}" for n in names
                 for b in results["particles"][n]["w1_over_sigma"]]
        lines.append(f"| W1/sigma {var} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| particle | classifier AUC | showers |")
    lines.append("|---|---|---|")
    for n in names:
        p = results["particles"][n]
        lines.append(f"| {LABELS[n]} | {p['auc']:.3f} | {p['showers']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hepreco.algorithms.calogan.validate",
                                     description="Validate a CaloGAN generator against reference showers.")
    parser.add_argument("--weights", default="calogan-gan", help="weights file or artefact name (default: %(default)s)")
    parser.add_argument("--reference", default="output/calogan_reference_test",
                        help="folder with the eplus/gamma/piplus CaloGAN streams (default: %(default)s)")
    parser.add_argument("--output", default="output/calogan_validation", help="folder for figures and tables")
    parser.add_argument("--events", type=int, default=0, help="showers per particle (0: all)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated showers' noise")
    args = parser.parse_args(argv)
    try:
        validate(args.weights, args.reference, args.output, args.events, args.seed)
    except ConfigurationError as exc:
        print(f"hepreco: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}/results.json, results.md and the figures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
