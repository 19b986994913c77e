"""Small synthetic datasets in the layout of the dataset jobs (an Hdf5Output part of per-event records)."""
from __future__ import annotations

import os

import awkward as ak
import numpy as np

from hepreco.algorithms.ml.splits import split_of
from hepreco.framework.event_store import make_event_ids
from hepreco.framework.io.hdf5 import write_hdf5

C = 10          # constituents per object
IMAGE = (25, 25)
LAYERS = {"cells_em1": (3, 7), "cells_em2": (5, 5)}


def records(n_events: int = 400, seed: int = 0, run: int = 1, separation: float = 1.5):
    """``(event_ids, per-event records)``: 1-3 objects per event, label 0 or 1, features that separate them."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 4, n_events)
    n = int(counts.sum())
    events = np.arange(n_events, dtype=np.int64)
    ev = np.repeat(events, counts)
    label = rng.integers(0, 2, n).astype(np.int32)
    sig = label == 1
    m = np.where(sig, rng.normal(80.0, 10.0, n), rng.exponential(40.0, n)).astype(np.float32)
    pt = rng.uniform(350.0, 1000.0, n).astype(np.float32)
    tau21 = np.clip(rng.normal(np.where(sig, 0.35, 0.35 + 0.25 * separation / 1.5), 0.12, n), 0, 1).astype(np.float32)
    n_const = rng.integers(3, C + 1, n).astype(np.int32)
    real = np.arange(C)[None, :] < n_const[:, None]
    raw = rng.exponential(1.0, (n, C)) * real
    # signal: two hard prongs at a distance, background: one
    raw[sig, 1] += 2.0 * real[sig, 1]
    frac = (raw / raw.sum(axis=1, keepdims=True)).astype(np.float32)
    order = np.argsort(-frac, axis=1)
    frac = np.take_along_axis(frac, order, axis=1)
    spread = np.where(sig, 0.4, 0.1)[:, None]
    deta = (rng.normal(0, 1, (n, C)) * spread * real).astype(np.float32)
    dphi = (rng.normal(0, 1, (n, C)) * spread * real).astype(np.float32)
    image = rng.exponential(0.01, (n,) + IMAGE).astype(np.float32)
    image[:, 12, 12] += 1.0
    image[sig, 12, 17] += 0.6  # a second prong
    true_e = np.exp(rng.uniform(np.log(5.0), np.log(200.0), n)).astype(np.float32)
    cells = {}
    for k, (h, w) in LAYERS.items():
        share = rng.dirichlet(np.ones(h * w), n).reshape(n, h, w)
        cells[k] = (share * true_e[:, None, None] * (0.45 if k == "cells_em1" else 0.5)
                    * rng.normal(1.0, 0.05, n)[:, None, None]).astype(np.float32)
    fields = {"label": label, "weight": np.ones(n, np.float32), "split": split_of(run, ev), "run":
              np.full(n, run, np.int64), "event": ev, "m": m, "pt": pt, "tau21": tau21, "image": image,
              "const_pt_frac": frac, "const_deta": deta, "const_dphi": dphi, "n_const": n_const,
              "true_e": true_e, **cells}
    flat = ak.zip({k: ak.from_numpy(v, regulararray=True) for k, v in fields.items()}, depth_limit=1)
    return make_event_ids(run, events), ak.unflatten(flat, counts)


def write(folder: str, collection: str = "JetDataset", **options) -> str:
    """Write one part file ``folder/part-00000.h5`` and return the folder."""
    os.makedirs(folder, exist_ok=True)
    ids, recs = records(**options)
    write_hdf5(os.path.join(folder, "part-00000.h5"), ids, {collection: recs})
    return folder
