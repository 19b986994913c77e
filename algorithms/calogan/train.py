"""Training of the CaloGAN generator: ``python -m hepreco.algorithms.calogan.train CONFIG.yaml``.

The configuration (YAML, checked before anything is read)::

    data:                       # reference showers, CaloGAN HDF5 files (globs or folders), one entry per particle
      - {pdg_id: -11, files: [output/calogan_reference/eplus]}
      - {pdg_id: 22,  files: [output/calogan_reference/gamma]}
      - {pdg_id: 211, files: [output/calogan_reference/piplus]}
    model: {latent: 16, hidden: 128, min_fraction: 1.0e-5}
    training: {epochs: 60, batch_size: 256, lr: 2.0e-4, seed: 1, threads: 1, mmd_weight: 3.0, shape_lr: 0.0}
    artefact: {name: calogan-gan, version: 1, output: output/calogan_train/calogan-gan.safetensors}

Objective: the non-saturating GAN loss of a conditional critic (CaloGAN's
adversarial training, per-layer image generators) plus ``mmd_weight`` times a
maximum mean discrepancy between generated and reference (condition, log10
layer fractions), which keeps the longitudinal sharing on target from the
first epochs when the training is short.  The generator starts at the
reference's average (:func:`initialise`); the lateral shapes (image heads and
their noise gate) learn at ``shape_lr`` times the learning rate, 0 by default:
FastCaloSim's electromagnetic showers have one lateral shape per layer, and
the critic's pull moved it by several percent in every adversarial setting
tried, which a classifier sees at once.  Deterministic for a seed and a
number of threads.  The result is an artefact: safetensors weights with a
JSON sidecar (kind ``calogan``, schema ``hepreco-calogan/1``, geometry
``calogan``, the model sizes and what derived it).  :func:`train` is the
entry point a ``hepreco train`` command can call with the same mapping.
"""
from __future__ import annotations

import datetime
import glob
import hashlib
import json
import os
import sys
import time

import numpy as np

from hepreco.framework import extras
from hepreco.framework.artefacts import write_metadata
from hepreco.framework.errors import ConfigurationError, suggestion

from . import safetensors_io
from .model import LAYER_CELLS, ModelConfig, condition, critic, critic_features, generator

KIND = "calogan"
SCHEMA = "hepreco-calogan/1"
TRAINING_DEFAULTS = {"epochs": 30, "batch_size": 256, "lr": 2e-4, "seed": 1, "threads": 1, "mmd_weight": 1.0,
                     "critic_hidden": 128, "shape_lr": 0.0}
_SECTIONS = {"task", "data", "model", "training", "artefact"}
#: the ``task`` of a generator's training configuration, which routes ``hepreco train`` here
TASK = "generation"


def _fail(where: str, message: str) -> ConfigurationError:
    return ConfigurationError(f"{where}: {message}")


def _number(section: dict, key: str, kind: type, where: str, positive: bool = True):
    value = section[key]
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
        raise _fail(where, f"{key} must be {'a number' if kind is float else 'an integer'}, got {value!r}")
    if positive and not value > 0:
        raise _fail(where, f"{key} must be positive, got {value!r}")
    return kind(value)


def check_config(config, where: str = "training configuration") -> dict:
    """The validated configuration with defaults filled in; :class:`ConfigurationError` naming the problem."""
    if not isinstance(config, dict):
        raise _fail(where, f"expected a mapping with {sorted(_SECTIONS)}, got {type(config).__name__}")
    unknown = sorted(set(config) - _SECTIONS)
    if unknown:
        raise _fail(where, f"unknown section(s) {unknown}; valid: {sorted(_SECTIONS)}")
    if config.get("task", TASK) != TASK:
        raise _fail(where, f"task must be {TASK!r} for a generator, got {config['task']!r}")
    data = config.get("data")
    if not isinstance(data, list) or not data:
        raise _fail(where, "data must be a list of {pdg_id: ID, files: [FILES, GLOBS or FOLDERS]}")
    entries = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or set(entry) != {"pdg_id", "files"}:
            raise _fail(where, f"data[{i}] must be {{pdg_id: ID, files: [...]}}, got {entry!r}")
        if isinstance(entry["pdg_id"], bool) or not isinstance(entry["pdg_id"], int):
            raise _fail(where, f"data[{i}].pdg_id must be an integer PDG id, got {entry['pdg_id']!r}")
        files = entry["files"] if isinstance(entry["files"], list) else [entry["files"]]
        if not all(isinstance(f, str) for f in files):
            raise _fail(where, f"data[{i}].files must be paths, globs or folders, got {entry['files']!r}")
        entries.append({"pdg_id": entry["pdg_id"], "files": files})
    if len({abs(e["pdg_id"]) for e in entries}) != len(entries):
        raise _fail(where, "data names a particle twice (charge conjugates share one entry)")
    model = config.get("model", {}) or {}
    valid_model = set(ModelConfig.__dataclass_fields__) - {"particles"}
    if not isinstance(model, dict) or set(model) - valid_model:
        unknown = sorted(set(model) - valid_model) if isinstance(model, dict) else []
        raise _fail(where, f"model: unknown key(s) {unknown}; " + (
            suggestion(unknown[0], valid_model) if len(unknown) == 1 else f"valid: {sorted(valid_model)}"))
    model_cfg = ModelConfig(particles=tuple(e["pdg_id"] for e in entries), **model)
    for key in ("latent", "hidden"):
        _number(model_cfg.as_dict(), key, int, where + ": model")
    training = config.get("training", {}) or {}
    if not isinstance(training, dict) or set(training) - set(TRAINING_DEFAULTS):
        unknown = sorted(set(training) - set(TRAINING_DEFAULTS)) if isinstance(training, dict) else []
        raise _fail(where, f"training: unknown key(s) {unknown}; " + (
            suggestion(unknown[0], TRAINING_DEFAULTS) if len(unknown) == 1 else f"valid: {sorted(TRAINING_DEFAULTS)}"))
    training = {**TRAINING_DEFAULTS, **training}
    for key, default in TRAINING_DEFAULTS.items():
        training[key] = _number(training, key, type(default), where + ": training",
                                positive=key not in ("seed", "mmd_weight", "shape_lr"))
        if training[key] < 0:
            raise _fail(where + ": training", f"{key} must not be negative, got {training[key]!r}")
    artefact = config.get("artefact")
    if not isinstance(artefact, dict) or not {"name", "output"} <= set(artefact) or \
            set(artefact) - {"name", "version", "output"}:
        raise _fail(where, "artefact must be {name: NAME, version: N, output: FILE.safetensors}")
    if not str(artefact["output"]).endswith(".safetensors"):
        raise _fail(where, f"artefact.output must end in .safetensors, got {artefact['output']!r}")
    artefact = {"version": 1, **artefact}
    return {"data": entries, "model": model_cfg, "training": training, "artefact": artefact}


def load_config(path: str) -> dict:
    """Read and check a training configuration file (YAML, ``yaml.safe_load``)."""
    import yaml

    try:
        with open(path) as f:
            config = yaml.safe_load(f)
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the training configuration ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML ({exc})") from None
    return check_config(config, path)


def _files(patterns: list[str]) -> list[str]:
    out = []
    for pattern in patterns:
        if os.path.isdir(pattern):
            out += sorted(glob.glob(os.path.join(pattern, "*.h5")))
        else:
            out += sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
    return out


def read_showers(patterns: list[str], cell_unit: float = 0.001) -> tuple[np.ndarray, np.ndarray]:
    """Cells (events, 504) [GeV] and energies [GeV] of CaloGAN files (paths, globs or folders)."""
    import h5py

    from ..calo.outputs import layers_to_cells

    files = _files(patterns)
    missing = [f for f in files if not os.path.isfile(f)]
    if not files or missing:
        raise ConfigurationError(f"no CaloGAN files at {missing or patterns}; make them with "
                                 "'hepreco run jobs/calogan_reference.yaml'")
    cells, energy = [], []
    for path in files:
        with h5py.File(path, "r") as f:
            cells.append(layers_to_cells({k: f[k][()] for k in ("layer_0", "layer_1", "layer_2")}, cell_unit))
            energy.append(np.asarray(f["energy"][()], dtype=np.float64).reshape(-1))
    return np.concatenate(cells), np.concatenate(energy)


def mmd(torch, x, y, scales=(0.05, 0.2, 1.0)):
    """Maximum mean discrepancy of two samples (rows), Gaussian kernels of several widths."""
    xy = torch.cat([x, y])
    d2 = torch.cdist(xy, xy).pow(2)
    k = sum(torch.exp(-d2 / (2 * s * s)) for s in scales)
    n = len(x)
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()


def _summary_features(torch, cells, cond, energy):
    feats = critic_features(torch, cells, cond, energy)
    return feats[:, -(len(LAYER_CELLS) + cond.shape[1]):]  # log10 layer fractions and the condition


def initialise(torch, gen, cells: np.ndarray, energy: np.ndarray, types: np.ndarray) -> None:
    """Start the generator at the reference's average: per particle type, the mean normalised image of each
    layer (the image heads' weights on the type) and the mean log layer fraction (the energy head's), with the
    trunk's say scaled down; the adversarial training then learns the fluctuations and the energy dependence."""
    hidden = gen.config.hidden
    bounds = np.cumsum((0,) + LAYER_CELLS)
    with torch.no_grad():
        heads = [*gen.images, gen.energies]
        for head in heads:
            head.weight[:, :hidden] *= 0.05
            head.weight[:, hidden:] = 0.0
            head.bias.zero_()
        for t in range(len(gen.config.particles)):
            rows = types == t
            fractions = []
            for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
                layer = cells[rows, a:b].astype(np.float64)
                total = layer.sum(1)
                shape = (layer[total > 0] / total[total > 0, None]).mean(0) if (total > 0).any() else \
                    np.full(b - a, 1.0 / (b - a))
                gen.images[i].weight[:, hidden + 1 + t] = torch.from_numpy(np.log(np.maximum(shape, 1e-12)))
                fractions.append(max(float((total / energy[rows]).mean()), 1e-4))
            gen.energies.weight[:, hidden + 1 + t] = torch.log(torch.tensor(fractions, dtype=torch.float32))


def train(config: dict, log=print, history: list | None = None) -> str:
    """Train on ``config`` (checked by :func:`check_config`); write the artefact, return its path.

    ``history`` (a list) receives the per-epoch mean losses (critic, generator, mmd).
    """
    torch = extras.torch(needed_by="CaloGAN training")
    model_cfg, opts = config["model"], config["training"]
    torch.manual_seed(opts["seed"])
    torch.set_num_threads(opts["threads"])
    torch.use_deterministic_algorithms(True)
    cells, energy, types = [], [], []
    for i, entry in enumerate(config["data"]):
        c, e = read_showers(entry["files"])
        cells.append(c)
        energy.append(e)
        types.append(np.full(len(e), i))
        log(f"data: pdg_id {entry['pdg_id']}: {len(e)} showers from {entry['files']}")
    cells, energy, types = np.concatenate(cells), np.concatenate(energy), np.concatenate(types)
    cond = torch.from_numpy(condition(energy, types, len(model_cfg.particles)))
    cells_t = torch.from_numpy(cells.astype(np.float32))
    energy_t = torch.from_numpy(energy.astype(np.float32))

    gen, crit = generator(model_cfg), critic(model_cfg, opts["critic_hidden"])
    initialise(torch, gen, cells, energy, types)
    # the lateral shapes start at the reference's average and learn at shape_lr times the rate (0: not at all)
    shape_params = [*gen.images.parameters(), gen.shape_gate]
    shapes = {id(p) for p in shape_params}
    groups = [{"params": [p for p in gen.parameters() if id(p) not in shapes]}]
    if opts["shape_lr"] > 0:
        groups.append({"params": shape_params, "lr": opts["shape_lr"] * opts["lr"]})
    else:
        for p in shape_params:
            p.requires_grad_(False)
    opt_g = torch.optim.Adam(groups, lr=opts["lr"], betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(crit.parameters(), lr=opts["lr"], betas=(0.5, 0.9))
    softplus = torch.nn.functional.softplus
    n, batch = len(energy), opts["batch_size"]
    shuffle = torch.Generator().manual_seed(opts["seed"])
    start = time.perf_counter()
    history = [] if history is None else history
    for epoch in range(opts["epochs"]):
        order = torch.randperm(n, generator=shuffle)
        totals = np.zeros(3)
        for first in range(0, n - batch + 1, batch):
            idx = order[first:first + batch]
            real, c, e = cells_t[idx], cond[idx], energy_t[idx]
            fake = gen(torch.randn(batch, model_cfg.latent), c, e)
            loss_d = softplus(-crit(real, c, e)).mean() + softplus(crit(fake.detach(), c, e)).mean()
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            adv = softplus(-crit(fake, c, e)).mean()
            match = mmd(torch, _summary_features(torch, fake, c, e), _summary_features(torch, real, c, e))
            loss_g = adv + opts["mmd_weight"] * match
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            totals += (loss_d.item(), adv.item(), match.item())
        totals /= max(n // batch, 1)
        history.append([round(float(v), 5) for v in totals])
        log(f"epoch {epoch + 1}/{opts['epochs']}: critic {totals[0]:.4f}, generator {totals[1]:.4f}, "
            f"mmd {totals[2]:.5f} ({time.perf_counter() - start:.0f} s)")
    return save(gen, config, n, history, time.perf_counter() - start)


def save(gen, config: dict, n_events: int, history: list, seconds: float) -> str:
    """Write the generator's weights (safetensors) and the artefact sidecar; return the weights' path."""
    from hepreco.framework.report import versions

    art = config["artefact"]
    path = art["output"]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tensors = {k: v.detach().cpu().numpy() for k, v in gen.state_dict().items()}
    safetensors_io.save(path, tensors, {"format": "pt"})
    source = config.get("source", "")
    derived = {"command": config.get("command") or f"python -m hepreco.algorithms.calogan.train {source}".strip(),
               "config": source, "config_sha256": _sha(source), "events": n_events,
               "data": [{"pdg_id": e["pdg_id"], "files": e["files"]} for e in config["data"]],
               "training": config["training"], "loss_history_last": history[-1] if history else [],
               "seconds": round(seconds, 1), "date": datetime.datetime.now().isoformat(timespec="seconds"),
               "hepreco_version": versions().get("hepreco", "unknown")}
    write_metadata(path, {"name": art["name"], "version": int(art["version"]), "kind": KIND, "schema": SCHEMA,
                          "geometry": "calogan", "model": config["model"].as_dict(), "derived": derived})
    return path


def _sha(path: str) -> str:
    if not path or not os.path.isfile(path):
        return ""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def command(path: str, overrides: list[str], output_dir: str | None, progress: bool = True) -> dict:
    """What ``hepreco train CONFIG`` does for a generator (``task: generation``): read the configuration,
    apply the ``--set section.key=value`` overrides (values in YAML), put the artefact into ``output_dir``
    when given, train; returns the summary ``hepreco train`` prints (artefact, files, metrics)."""
    import yaml

    try:
        with open(path) as f:
            raw = yaml.safe_load(f)
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the training configuration ({exc.strerror})") from None
    if not isinstance(raw, dict):
        raise _fail(path, "expected a mapping")
    for text in overrides:
        key, sep, value = text.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or section not in _SECTIONS - {"data", "task"}:
            raise ConfigurationError(f"--set {text!r}: expected SECTION.KEY=VALUE with SECTION one of "
                                     f"{sorted(_SECTIONS - {'data', 'task'})}")
        valid = {"training": set(TRAINING_DEFAULTS), "model": set(ModelConfig.__dataclass_fields__) - {"particles"},
                 "artefact": {"name", "version", "output"}}[section]
        if name not in valid:
            raise ConfigurationError(f"--set {text}: unknown key {name!r} in {section}; {suggestion(name, valid)}")
        block = raw.setdefault(section, {}) or {}
        raw[section] = block
        block[name] = yaml.safe_load(value)
    if output_dir and isinstance(raw.get("artefact"), dict) and raw["artefact"].get("output"):
        raw["artefact"]["output"] = os.path.join(output_dir, os.path.basename(str(raw["artefact"]["output"])))
    config = check_config(raw, path)
    config["source"] = path
    config["command"] = " ".join(["hepreco train", path, *(f"--set {o}" for o in overrides)])
    log = (lambda text: print(text, file=sys.stderr)) if progress else (lambda text: None)
    history: list = []
    weights = train(config, log=log, history=history)
    last = history[-1] if history else [float("nan")] * 3
    return {"artefact": weights, "files": [weights, weights + ".json"],
            "metrics": {"epochs": len(history), "best_epoch": len(history),
                        "test": {"critic_loss": last[0], "generator_loss": last[1], "mmd": last[2]}}}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m hepreco.algorithms.calogan.train CONFIG.yaml", file=sys.stderr)
        return 2
    try:
        config = load_config(argv[0])
        config["source"] = argv[0]
        path = train(config)
    except ConfigurationError as exc:
        print(f"hepreco: error: {exc}", file=sys.stderr)
        return 1
    with open(path + ".json") as f:
        meta = json.load(f)
    print(f"wrote {path} ({os.path.getsize(path) / 1e3:.0f} kB), artefact {meta['name']}@{meta['version']}; "
          f"install it with: hepreco artefacts install {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
