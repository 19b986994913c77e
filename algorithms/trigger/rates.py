"""Trigger rates in Hz from minimum bias with pile-up and weighted pT-hat slices, and the rates command.

Method
------
A bunch crossing holds Poisson(mu) inelastic interactions; crossings come
at ``R_x = colliding_bunches x revolution_frequency`` (2,544 x 11,245.5 Hz
= 28.6 MHz) and the instantaneous luminosity is ``L = mu R_x / sigma_inel``.
An item's rate is ``R_x x P(the item accepts a crossing)``, estimated from
two kinds of samples, each simulated with the same Poisson(mu) pile-up
overlay:

- **minimum bias** (Pythia ``SoftQCD:nonDiffractive`` plus pile-up):
  ``N_mb`` crossings; an event whose own interaction has pT-hat below the
  boundary ``pT0`` (the lowest slice edge) counts with weight ``R_x / N_mb``;
  events above it count 0 (the slices cover them);
- **pT-hat slices** (Pythia ``HardQCD:all`` with ``pTHatMin``/``pTHatMax``
  = ``[a_s, b_s)``, contiguous from ``pT0``, plus pile-up): a crossing holds
  a hard interaction of slice s with probability ``mu sigma_s / sigma_inel``
  (``<< 1``), so each of the ``N_s`` events counts with weight
  ``L sigma_s / N_s`` (``sigma_s`` from Pythia for that slice).

``rate = sum of the weights of the events the item accepts``, with the
statistical error ``sqrt(sum of squared weights)``: every event is counted
once (minimum bias below ``pT0``, slice s in ``[a_s, b_s)``), so there is no
double counting.  The unique rate of an item is that of the events it
accepts and no other item of its level does; the overlap of two items, that
of the events both accept; the total L1 (HLT) rate, that of the events with
an L1 (HLT) accept.  Approximations: the pile-up library interactions carry
their own (rare) hard tails, which are counted wherever they fall; the
minimum-bias sample is non-diffractive, the crossings' interactions
inelastic (diffractive interactions leave little transverse energy).

The command (``python -m hepreco.algorithms.trigger.rates JOB``) runs the
job (the minimum-bias sample, ``job.evt_max`` events) and then the same job
once per slice of its ``TriggerRates`` algorithm (``slice_events[k]`` events,
``source.settings`` replaced by the slice's), estimates each slice's cross
section with Pythia, combines them (:func:`combine`), prints the table and
writes ``rates.json`` and ``rates.png`` into its output folder.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

import awkward as ak
import numpy as np

from hepreco.framework import Algorithm, Input, Property, PropertyError

from .decision import LHC_REVOLUTION_HZ

#: mb -> cm^2
MB_CM2 = 1e-27
#: the output rate each level is designed for [Hz] (drawn on the rate plot)
BUDGET_HZ = {"L1": 100e3, "HLT": 1e3}


def crossing_rate(colliding_bunches: int = 2544, revolution_frequency: float = LHC_REVOLUTION_HZ) -> float:
    """Colliding-bunch crossings per second [Hz]."""
    return float(colliding_bunches) * float(revolution_frequency)


def luminosity(mu: float, sigma_inel_mb: float, colliding_bunches: int = 2544,
               revolution_frequency: float = LHC_REVOLUTION_HZ) -> float:
    """Instantaneous luminosity [cm^-2 s^-1]: ``mu x crossing rate / sigma_inel``."""
    return mu * crossing_rate(colliding_bunches, revolution_frequency) / (sigma_inel_mb * MB_CM2)


def event_weights(samples: list[dict], mu: float, sigma_inel_mb: float, crossing_hz: float) -> list[np.ndarray]:
    """Per sample, the rate weight [Hz] of each event (module docstring).

    Each sample is ``{"kind": "minbias", "pthat": array, "boundary": pT0}``
    or ``{"kind": "slice", "pthat": array, "range": [a, b], "sigma_mb": sigma}``
    (``b`` < 0 or inf: no upper edge); events of a slice outside its range
    get weight 0.
    """
    lumi_hz_per_mb = mu * crossing_hz / sigma_inel_mb  # L x (1 mb), in Hz per mb
    out = []
    for s in samples:
        pthat = np.asarray(s["pthat"], dtype=np.float64)
        n = len(pthat)
        if n == 0:
            out.append(np.zeros(0))
            continue
        if s["kind"] == "minbias":
            out.append(np.where(pthat < s["boundary"], crossing_hz / n, 0.0))
        elif s["kind"] == "slice":
            lo, hi = s["range"]
            hi = math.inf if hi is None or hi < 0 else hi
            inside = (pthat >= lo) & (pthat < hi)
            out.append(np.where(inside, lumi_hz_per_mb * s["sigma_mb"] / n, 0.0))
        else:
            raise ValueError(f"sample kind {s['kind']!r}: expected 'minbias' or 'slice'")
    return out


def combine(samples: list[dict], levels: dict[str, list[str]], mu: float, sigma_inel_mb: float,
            crossing_hz: float) -> dict:
    """The rate table from samples with per-event decisions.

    ``samples`` as :func:`event_weights`, each with ``"passed"``: ``{name:
    bool array}`` for every item and chain (after prescale) and ``"accept":
    {level: bool array}``; ``levels`` maps ``"L1"``/``"HLT"`` to the names of
    that level.  Returns ``{level: {"total": (rate, error), "items": {name:
    {rate_hz, rate_error_hz, unique_hz, unique_error_hz, events}},
    "overlap_hz": {a: {b: rate}}}}`` in Hz.
    """
    weights = event_weights(samples, mu, sigma_inel_mb, crossing_hz)
    w = np.concatenate(weights) if weights else np.zeros(0)

    def column(get):
        parts = [np.asarray(get(s), dtype=bool) for s in samples]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)

    def rate(mask):
        return float(np.sum(w[mask])), float(math.sqrt(np.sum(w[mask] ** 2)))

    table = {}
    for level, names in levels.items():
        passed = {name: column(lambda s, name=name: s["passed"][name]) for name in names}
        accept = column(lambda s: s["accept"][level])
        n_pass = np.zeros(len(w), dtype=np.int64)
        for mask in passed.values():
            n_pass += mask
        rows = {}
        for name, mask in passed.items():
            r, dr = rate(mask)
            u, du = rate(mask & (n_pass == 1))
            rows[name] = {"rate_hz": r, "rate_error_hz": dr, "unique_hz": u, "unique_error_hz": du,
                          "events": int(mask.sum())}
        overlap = {a: {b: rate(passed[a] & passed[b])[0] for b in names} for a in names}
        total, total_err = rate(accept)
        table[level] = {"total_hz": total, "total_error_hz": total_err, "items": rows, "overlap_hz": overlap}
    return table


# -- the per-event record in a job ----------------------------------------------------------------
class TriggerRates(Algorithm):
    """Records, per event, pT-hat and the L1 items and HLT chains accepted (after prescale), for the rates.

    Its properties are the rate configuration the rates command uses
    (module :mod:`hepreco.algorithms.trigger.rates`); in a plain run it only
    records (accumulator ``events`` in ``report.json``).
    """

    trigger_decision = Input("TriggerDecision", doc="the trigger decision (HLTTriggerMenu, or L1TriggerMenu)")
    pthat = Input("TruthPtHat", doc="pT-hat per event (PythiaSource) [GeV]; without it, 0", optional=True)
    mu = Property(60.0, doc="mean pile-up interactions per crossing of the sample (PileupOverlay.mu)", ge=0)
    sigma_inel_mb = Property(80.0, doc="inelastic pp cross section, for the luminosity", unit="mb", gt=0)
    colliding_bunches = Property(2544, doc="colliding bunch pairs", gt=0)
    revolution_frequency = Property(LHC_REVOLUTION_HZ, doc="revolution frequency", unit="Hz", gt=0)
    slices = Property([[30.0, 70.0], [70.0, 150.0], [150.0, 300.0], [300.0, -1.0]],
                      doc="pT-hat slices [min, max) in GeV (max < 0: none), contiguous; the first min is the "
                          "boundary below which minimum-bias events count")
    slice_settings = Property(["HardQCD:all = on"], doc="Pythia settings of the slices (the pT-hat range is "
                              "added)", items=str)
    slice_events = Property([300, 400, 100, 50], doc="events of each slice (one number per slice)", items=int)
    cross_section_events = Property(20000, doc="Pythia events (hard process only) per slice cross section", ge=100)

    def check(self, registry) -> None:
        s = self.slices
        ok = isinstance(s, list) and s and all(isinstance(x, list) and len(x) == 2 for x in s)
        if ok:
            for k, (lo, hi) in enumerate(s):
                last = k == len(s) - 1
                if not (0 <= lo and (hi > lo or (last and hi < 0))) or (not last and s[k + 1][0] != hi):
                    ok = False
        if not ok:
            raise PropertyError(self.name, "slices", f"expected contiguous [min, max) pT-hat ranges in GeV, the "
                                f"last max may be -1 (none), e.g. [[30, 70], [70, -1]]; got {s!r}")
        if len(self.slice_events) != len(s) or min(self.slice_events) < 1:
            raise PropertyError(self.name, "slice_events", f"expected one number of events (>= 1) per slice "
                                f"({len(s)}), got {self.slice_events!r}")

    def initialize(self) -> None:
        self.records = self.accumulate("events", "records")

    def execute(self, store):
        decision = store[self.trigger_decision]
        n = store.n_events
        pthat = (np.asarray(store[self.pthat], dtype=np.float64) if self.pthat in store
                 else np.zeros(n))
        levels = [lvl for lvl in ("L1", "HLT") if lvl in ak.fields(decision)]
        passed = {}
        for lvl in levels:
            after = decision[lvl].after_prescale
            passed[lvl] = {name: ak.to_numpy(after[name]).astype(bool) for name in ak.fields(after)}
        accept = {lvl: ak.to_numpy(decision[lvl].accept).astype(bool) for lvl in levels}
        ids = store.event_ids
        for i in range(n):
            self.records.append({"run": int(ids["run"][i]), "event": int(ids["event"][i]),
                                 "pthat": float(pthat[i]),
                                 **{lvl: [name for name, m in passed[lvl].items() if m[i]] for lvl in levels},
                                 **{f"{lvl}_accept": bool(accept[lvl][i]) for lvl in levels}})

    def rate_settings(self) -> dict:
        return {k: getattr(self, k) for k in ("mu", "sigma_inel_mb", "colliding_bunches", "revolution_frequency",
                                              "slices", "slice_settings", "slice_events", "cross_section_events")}


def sample_from_records(records: list[dict], levels: dict[str, list[str]]) -> dict:
    """``pthat``, ``passed`` and ``accept`` arrays of one sample from the ``TriggerRates`` records."""
    sample = {"pthat": np.array([r["pthat"] for r in records], dtype=np.float64), "passed": {}, "accept": {}}
    for lvl, names in levels.items():
        for name in names:
            sample["passed"][name] = np.array([name in r.get(lvl, ()) for r in records], dtype=bool)
        sample["accept"][lvl] = np.array([bool(r.get(f"{lvl}_accept", False)) for r in records], dtype=bool)
    return sample


def slice_cross_section(settings: list[str], lo: float, hi: float, beam_energy: float, n_events: int,
                        seed: int = 1) -> tuple[float, float]:
    """Pythia's cross section of a pT-hat slice [mb] and its error, from the hard process alone."""
    from hepreco.algorithms.generation.pythia_source import import_pythia

    py = import_pythia().Pythia("", False)
    commands = [f"Beams:eCM = {2 * beam_energy}", "PartonLevel:all = off", "HadronLevel:all = off",
                "Print:quiet = on", "Next:numberCount = 0", "Random:setSeed = on", f"Random:seed = {seed}",
                *settings, f"PhaseSpace:pTHatMin = {lo}", f"PhaseSpace:pTHatMax = {hi if hi > 0 else -1}"]
    for cmd in commands:
        py.readString(cmd)
    if not py.init():
        raise RuntimeError(f"Pythia initialisation failed for the slice [{lo}, {hi}) with {settings}")
    for _ in range(n_events):
        py.next()
    info = py.infoPython()
    return float(info.sigmaGen()), float(info.sigmaErr())


# -- the command ----------------------------------------------------------------------------------
def _find_component(job, type_name):
    """The first algorithm of ``job`` of the registered type ``type_name`` (None if there is none)."""
    for comp in job.top.walk():
        if comp.type_name == type_name:
            return comp
    return None


def _levels(job) -> dict[str, list[str]]:
    """``{"L1": item names, "HLT": chain names}`` of the job's menus."""
    from .decision import L1TriggerMenu
    from .hlt import HLTTriggerMenu

    levels = {}
    for comp in job.top.walk():
        if isinstance(comp, L1TriggerMenu):
            levels["L1"] = comp.load().item_names
        elif isinstance(comp, HLTTriggerMenu):
            levels["HLT"] = comp.load().chain_names
    return levels


def run_samples(job_file: str, overrides: list[str], output_dir: str, minbias_events: int | None = None,
                slice_events: int | None = None, quiet: bool = True, log=print) -> dict:
    """Run the minimum-bias job and one job per slice; return the combined rate table (also in ``rates.json``)."""
    from hepreco.framework import config
    from hepreco.framework.event_loop import run_job
    from hepreco.framework.job import build

    def load(extra):
        options = config.load(job_file)
        for text in [*overrides, *extra]:
            config.apply_override(options, text)
        return build(options)

    base = load([f"job.output_dir={os.path.join(output_dir, 'minbias')}"]
                + ([f"job.evt_max={minbias_events}"] if minbias_events else []))
    rates_alg = _find_component(base, "TriggerRates")
    if rates_alg is None:
        raise PropertyError("rates", "job", f"{job_file} has no TriggerRates algorithm")
    cfg = rates_alg.rate_settings()
    pileup = _find_component(base, "PileupOverlay")
    if pileup is not None and float(pileup.mu) != float(cfg["mu"]):
        raise PropertyError(rates_alg.name, "mu", f"{rates_alg.name}.mu = {cfg['mu']} but PileupOverlay.mu = "
                            f"{pileup.mu}: the luminosity must use the sample's mu")
    source = base.source
    n_slices = [slice_events] * len(cfg["slices"]) if slice_events else list(cfg["slice_events"])
    crossing_hz = crossing_rate(cfg["colliding_bunches"], cfg["revolution_frequency"])
    lumi = luminosity(cfg["mu"], cfg["sigma_inel_mb"], cfg["colliding_bunches"], cfg["revolution_frequency"])
    log(f"rates: mu = {cfg['mu']:g}, {cfg['colliding_bunches']} colliding bunches, crossing rate "
        f"{crossing_hz:.4g} Hz, sigma_inel = {cfg['sigma_inel_mb']:g} mb: L = {lumi:.3g} cm^-2 s^-1")

    runs = []
    log(f"rates: minimum bias, {base.settings.evt_max} events -> {base.settings.output_dir}")
    report = run_job(base, quiet=quiet, overwrite=True)
    runs.append(("minbias", None, report))
    boundary = float(cfg["slices"][0][0])
    for k, (lo, hi) in enumerate(cfg["slices"]):
        settings = [*cfg["slice_settings"], f"PhaseSpace:pTHatMin = {lo}", f"PhaseSpace:pTHatMax = {hi}"]
        folder = os.path.join(output_dir, f"slice{k}")
        job = load([f"job.output_dir={folder}", f"job.evt_max={n_slices[k]}",
                    f"job.run={base.settings.run + 1 + k}", f"{source.name}.settings={json.dumps(settings)}"])
        log(f"rates: slice [{lo:g}, {hi if hi > 0 else 'inf'}) GeV, {n_slices[k]} events -> {folder}")
        runs.append(("slice", (lo, hi), run_job(job, quiet=quiet, overwrite=True)))

    samples, levels = [], None
    for kind, rng, rep in runs:
        records = rep["accumulators"][rates_alg.name]["events"]["records"]
        if levels is None:
            levels = _levels(base)
        sample = sample_from_records(records, levels)
        sample["kind"] = kind
        if kind == "minbias":
            sample["boundary"] = boundary
        else:
            sigma, err = slice_cross_section(cfg["slice_settings"], rng[0], rng[1], source.beam_energy,
                                             cfg["cross_section_events"], seed=int(base.settings.seed) % 900_000_000
                                             + 1)
            sample.update({"range": list(rng), "sigma_mb": sigma, "sigma_error_mb": err})
        samples.append(sample)
    table = combine(samples, levels, cfg["mu"], cfg["sigma_inel_mb"], crossing_hz)
    hlt_time = next((t for t in runs[0][2].get("trigger", {}).values() if t.get("level") == "HLT"), None)
    result = {"mu": cfg["mu"], "sigma_inel_mb": cfg["sigma_inel_mb"], "colliding_bunches": cfg["colliding_bunches"],
              "revolution_frequency_hz": cfg["revolution_frequency"], "crossing_rate_hz": crossing_hz,
              "luminosity_cm2s": lumi, "boundary_gev": boundary, "job": job_file,
              "samples": [{"kind": s["kind"], "events": int(len(s["pthat"])),
                           **({"range_gev": s["range"], "sigma_mb": s["sigma_mb"],
                               "sigma_error_mb": s["sigma_error_mb"]} if s["kind"] == "slice" else
                              {"events_below_boundary": int(np.sum(s["pthat"] < boundary))})} for s in samples],
              "hlt_ms_per_l1_accepted_event_minbias": hlt_time["ms_per_l1_accepted_event"] if hlt_time else None,
              "levels": table}
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "rates.json"), "w") as f:
        json.dump(result, f, indent=1)
    plot(result, os.path.join(output_dir, "rates.png"))
    return result


def table_lines(result: dict) -> list[str]:
    """The rate table as text."""
    lines = [f"rates at mu = {result['mu']:g}: L = {result['luminosity_cm2s']:.3g} cm^-2 s^-1 "
             f"(sigma_inel {result['sigma_inel_mb']:g} mb, {result['colliding_bunches']} bunches, crossings "
             f"{result['crossing_rate_hz']:.4g} Hz); minimum bias below pT-hat {result['boundary_gev']:g} GeV, "
             "slices above"]
    for s in result["samples"]:
        if s["kind"] == "minbias":
            lines.append(f"  sample minimum bias: {s['events']} events ({s['events_below_boundary']} below the "
                         f"boundary)")
        else:
            hi = s["range_gev"][1]
            lines.append(f"  sample slice [{s['range_gev'][0]:g}, {hi if hi > 0 else 'inf'}) GeV: {s['events']} "
                         f"events, sigma {s['sigma_mb']:.4g} +- {s['sigma_error_mb']:.2g} mb")
    for level, t in result["levels"].items():
        lines.append(f"  {level:<4} {'name':<18} {'rate [Hz]':>11} {'+-':>9} {'unique [Hz]':>11} {'+-':>9} "
                     f"{'events':>6}")
        for name, row in t["items"].items():
            lines.append(f"       {name:<18} {row['rate_hz']:>11.4g} {row['rate_error_hz']:>9.3g} "
                         f"{row['unique_hz']:>11.4g} {row['unique_error_hz']:>9.3g} {row['events']:>6}")
        lines.append(f"       {'total ' + level:<18} {t['total_hz']:>11.4g} {t['total_error_hz']:>9.3g}")
    return lines


def plot(result: dict, path: str) -> None:
    """Horizontal bars of the rates (and unique rates) per level, log scale, with errors."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = list(result["levels"].items())
    fig, axes = plt.subplots(1, len(levels), figsize=(6 * len(levels), 4.5), squeeze=False)
    for ax, (level, t) in zip(axes[0], levels):
        names = [*t["items"], f"total {level}"]
        rates = [r["rate_hz"] for r in t["items"].values()] + [t["total_hz"]]
        errors = [r["rate_error_hz"] for r in t["items"].values()] + [t["total_error_hz"]]
        unique = [r["unique_hz"] for r in t["items"].values()] + [0.0]
        y = np.arange(len(names))
        ax.barh(y + 0.2, rates, height=0.4, xerr=errors, label="rate", color="tab:blue")
        ax.barh(y - 0.2, unique, height=0.4, label="unique", color="tab:orange")
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        budget = BUDGET_HZ.get(level)
        if budget:
            ax.axvline(budget, ls="--", color="gray", label=f"budget {budget:g} Hz")
        positive = [r for r in rates + unique + ([budget] if budget else []) if r > 0]
        if positive:
            ax.set_xscale("log")
            ax.set_xlim(min(positive) / 3, max(positive) * 3)
        ax.set_xlabel("rate [Hz]")
        ax.set_title(f"{level} at mu = {result['mu']:g}, L = {result['luminosity_cm2s']:.2g} cm$^{{-2}}$s$^{{-1}}$")
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hepreco.algorithms.trigger.rates",
                                description="trigger rates from minimum bias with pile-up and pT-hat slices")
    p.add_argument("job", help="job options with a TriggerRates algorithm (e.g. jobs/trigger_rates.yaml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME.PROP=VALUE",
                   help="override a property of every sample's job")
    p.add_argument("--minbias-events", type=int, help="minimum-bias events (default: the job's evt_max)")
    p.add_argument("--slice-events", type=int, help="events per slice (default: TriggerRates.slice_events)")
    p.add_argument("-o", "--output-dir", default="output/trigger_rates", help="folder of the samples and tables")
    p.add_argument("--verbose", action="store_true", help="progress bars and job summaries")
    args = p.parse_args(argv)
    from hepreco.framework.errors import ConfigurationError

    try:
        result = run_samples(args.job, args.overrides, args.output_dir, args.minbias_events, args.slice_events,
                             quiet=not args.verbose)
    except ConfigurationError as exc:
        print(f"hepreco: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(table_lines(result)))
    print(f"rates: wrote {os.path.join(args.output_dir, 'rates.json')} and "
          f"{os.path.join(args.output_dir, 'rates.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
