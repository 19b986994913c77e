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


def run_toy(folder, evt_max: int = 60, chunk_size: int = 7) -> tuple[str, str]:
    """Write the toy job into ``folder`` (a pathlib folder) and run it into ``folder/out``: (job path, output)."""
    from ..conftest import TOY_JOB, run_job

    path = folder / "toy.yaml"
    path.write_text(TOY_JOB.format(evt_max=evt_max, chunk_size=chunk_size, out=folder / "out"))
    run_job(str(path))
    return str(path), str(folder / "out")


def same_events(a: ak.Array, b: ak.Array) -> None:
    """Assert two arrays of event records (from ``hepreco.framework.io.read``) hold the same values."""
    assert ak.fields(a) == ak.fields(b)
    for field in ak.fields(a):
        assert ak.to_list(a[field]) == ak.to_list(b[field]), field
