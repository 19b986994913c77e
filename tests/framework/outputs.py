"""Read back what a job wrote, for comparisons in tests."""
from __future__ import annotations

import glob
import os

import awkward as ak
import numpy as np
import uproot

from hepreco.framework.io.hdf5 import read_hdf5


def root_stream(out: str, stream: str) -> dict:
    files = sorted(glob.glob(os.path.join(out, stream, "part-*.root")))
    arrays = uproot.concatenate([f + ":events" for f in files], how="zip")
    return {k: ak.to_list(arrays[k]) for k in ak.fields(arrays)}


def hdf5_stream(out: str, stream: str) -> dict:
    files = sorted(glob.glob(os.path.join(out, stream, "part-*.h5")))
    merged: dict = {}
    for f in files:
        ids, data = read_hdf5(f)
        data = {"run": ids["run"], "event": ids["event"], **data}
        for k, v in data.items():
            merged.setdefault(k, []).append(v)
    return {k: ak.to_list(ak.concatenate(v)) if isinstance(v[0], ak.Array) else np.concatenate(v).tolist()
            for k, v in merged.items()}


def histograms(out: str) -> dict:
    with uproot.open(os.path.join(out, "histograms.root")) as f:
        return {k: (h.values(flow=True).tolist(), h.variances(flow=True).tolist())
                for k, h in ((k, f[k]) for k in f.keys(cycle=False, filter_classname="TH*"))}
