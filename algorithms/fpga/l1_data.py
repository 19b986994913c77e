"""Training data and the rate-versus-efficiency comparison of the L1 network item (``L1_NNTT``).

``python -m hepreco.algorithms.fpga.l1_data make --background DIR --signal DIR --output l1.npz``
    The ``L1NNEventInputs`` records of the output folders of
    ``jobs/l1nn/l1_minbias_mu60.yaml`` (label 0) and ``jobs/l1nn/l1_ttbar_mu60.yaml``
    (label 1) as an ``.npz`` for ``derive --data`` (``x`` standardised with the
    train split's mean and std, ``y``, ``split`` from run and event, ``mean``,
    ``std``, ``features``).

``python -m hepreco.algorithms.fpga.l1_data compare --rates DIR --signal DIR --artefact l1nn-ttbar.json``
    On the minimum-bias events of a rates job (``jobs/l1nn/l1_rates_mu60.yaml``)
    and the test split of the signal sample: for each target rate, the
    network threshold that gives it, the HT and four-jet thresholds that give
    the same rate, and the signal efficiency of each item, with
    ``rate = accepted fraction x 2544 x 11245.5 Hz``.  Scores are those of the
    bit-exact emulator of the artefact.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import awkward as ak
import numpy as np

from hepreco.framework.errors import ConfigurationError

from .l1_inputs import FIELDS

COLLECTION = "L1NNEventInputs"
#: colliding bunch pairs and LHC revolution frequency [Hz] of the menu's rate column
CROSSING_HZ = 2544 * 11245.5


def read_inputs(folder: str, stream: str = "L1Inputs") -> dict[str, np.ndarray]:
    """The per-event input columns, run and event of a job's output stream."""
    from hepreco.framework.io import read

    path = os.path.join(folder, stream)
    if not os.path.isdir(path):
        raise ConfigurationError(f"{folder}: no {stream} stream here; run jobs/l1nn/l1_*_mu60.yaml with this "
                                 "output folder first")
    data = read(path)
    out = {name: ak.to_numpy(data[COLLECTION][name]).astype(np.float64) for name in FIELDS}
    out["run"], out["event"] = ak.to_numpy(data["run"]), ak.to_numpy(data["event"])
    if "L1NNScores" in ak.fields(data):
        out["scores"] = {f: ak.to_numpy(data["L1NNScores"][f]) for f in ak.fields(data["L1NNScores"])}
    return out


def matrix(columns: dict) -> np.ndarray:
    return np.stack([columns[name] for name in FIELDS], axis=1)


def make(background: str, signal: str, output: str) -> dict:
    from hepreco.algorithms.ml.splits import split_of

    parts = [read_inputs(background), read_inputs(signal)]
    x = np.concatenate([matrix(p) for p in parts])
    y = np.concatenate([np.full(len(p["run"]), k, dtype=np.int64) for k, p in enumerate(parts)])
    split = np.concatenate([split_of(p["run"], p["event"], (0.8, 0.1, 0.1)) for p in parts]).astype(np.int8)
    mean, std = x[split == 0].mean(axis=0), x[split == 0].std(axis=0)
    std[std == 0] = 1.0
    arrays = {"x": ((x - mean) / std).astype(np.float32), "y": y, "split": split, "mean": mean, "std": std,
              "features": np.array(FIELDS)}
    np.savez(output, **arrays)
    return {"events": np.bincount(y).tolist(), "splits": np.bincount(split, minlength=3).tolist()}


def threshold_for_rate(values: np.ndarray, rate_hz: float) -> float:
    """The smallest threshold ``t`` among the values such that ``mean(values > t) x CROSSING_HZ <= rate_hz``."""
    v = np.sort(values)[::-1]
    k = int(np.floor(rate_hz / CROSSING_HZ * len(v)))   # events allowed above threshold
    if k >= len(v):
        return -np.inf
    return float(v[k])


def compare(rates: str, signal: str, artefact_path: str, targets_hz=(100e3, 200e3, 400e3)) -> list[dict]:
    """Per target rate: thresholds and signal efficiencies of the network, HT and four-jet items (see module doc)."""
    from hepreco.algorithms.ml.splits import split_of

    from .artefact import read

    art = read(artefact_path)
    mb, sig = read_inputs(rates, "L1"), read_inputs(signal)
    test = split_of(sig["run"], sig["event"], (0.8, 0.1, 0.1)) == 2
    score_field = art.outputs[-1]
    mb_score = art.network.run(art.standardise(matrix(mb)))[:, -1]
    if "scores" in mb and score_field in mb["scores"] and not np.array_equal(mb["scores"][score_field], mb_score):
        raise ValueError(f"{rates}: the job's scores differ from the artefact's emulator ({artefact_path})")
    sig_score = art.network.run(art.standardise(matrix(sig)[test]))[:, -1]
    quantities = {"NN": (mb_score, sig_score),
                  "HT": (mb["ht"], sig["ht"][test]),
                  "4J": (_fourth_jet(mb), _fourth_jet(sig)[test])}
    rows = []
    for target in targets_hz:
        row = {"target_rate_hz": target, "minbias_events": len(mb_score), "signal_events": len(sig_score)}
        for name, (bkg, sgn) in quantities.items():
            t = threshold_for_rate(bkg, target)
            f = float(np.mean(bkg > t))
            row[name] = {"threshold": t, "rate_hz": f * CROSSING_HZ,
                         "rate_error_hz": float(np.sqrt(f * (1 - f) / len(bkg))) * CROSSING_HZ,
                         "signal_efficiency": float(np.mean(sgn > t))}
        rows.append(row)
    return rows


def _fourth_jet(columns: dict) -> np.ndarray:
    """E_T (GeV) of the fourth-leading L1 jet with |eta| < 2.5 among the six leading (an L1_4J item's quantity)."""
    et = np.stack([columns[f"j{k}_et"] for k in range(1, 7)], axis=1)
    eta = np.stack([columns[f"j{k}_eta"] for k in range(1, 7)], axis=1)
    et = np.where(np.abs(eta) < 2.5, et, 0.0)
    return -np.sort(-et, axis=1)[:, 3]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m hepreco.algorithms.fpga.l1_data", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make", help="training .npz from the minimum-bias and signal inputs")
    m.add_argument("--background", required=True)
    m.add_argument("--signal", required=True)
    m.add_argument("--output", required=True)
    c = sub.add_parser("compare", help="network against threshold items at the same rate")
    c.add_argument("--rates", required=True, help="output folder of jobs/l1nn/l1_rates_mu60.yaml")
    c.add_argument("--signal", required=True, help="output folder of jobs/l1nn/l1_ttbar_mu60.yaml (test split used)")
    c.add_argument("--artefact", required=True)
    c.add_argument("--json", default="", help="also write the rows to this file")
    a = p.parse_args(argv)
    if a.command == "make":
        info = make(a.background, a.signal, a.output)
        print(f"wrote {a.output}: events per class {info['events']}, splits {info['splits']}")
        return 0
    rows = compare(a.rates, a.signal, a.artefact)
    print(f"{rows[0]['minbias_events']} minimum-bias events (rates), {rows[0]['signal_events']} signal events (test)")
    print("target rate kHz | item | threshold | rate kHz | signal efficiency")
    for row in rows:
        for name in ("NN", "HT", "4J"):
            r = row[name]
            print(f"{row['target_rate_hz'] / 1e3:8.0f} | {name} | {r['threshold']:.4g} | "
                  f"{r['rate_hz'] / 1e3:.0f} +- {r['rate_error_hz'] / 1e3:.0f} | {r['signal_efficiency']:.3f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
