"""Compare the float model, hls4ml's C++ model and our emulator on the same inputs.

``python -m hepreco.algorithms.fpga.compare ARTEFACT [--inputs FILE] [-n N]``

Inputs: a ``.npy`` array ``(n, features)``, a ``.npz`` with ``x``, or an HDF5
file and dataset (``FILE.h5:dataset``, e.g. a column table written by a job),
else N synthetic inputs.  The float model comes from the artefact's float
weights; the hls4ml model is converted with the artefact's recorded precision
and compiled once (cached in ``$HEPRECO_CACHE/hls4ml``), and must have the
project hash the artefact was checked against.  Prints the bit-exact count
(emulator vs hls4ml), the largest float-vs-fixed difference and the argmax
agreement.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from hepreco.framework import extras


def load_inputs(spec: str, n: int, n_inputs: int, seed: int = 3) -> np.ndarray:
    if not spec:
        from .derive import synthetic_dataset

        return synthetic_dataset(n, seed, n_inputs)[0]
    if ":" in spec and spec.split(":", 1)[0].endswith((".h5", ".hdf5")):
        import h5py

        path, dataset = spec.split(":", 1)
        with h5py.File(path, "r") as f:
            x = np.asarray(f[dataset])
    elif spec.endswith(".npz"):
        with np.load(spec) as f:
            x = f["x"]
    else:
        x = np.load(spec)
    x = np.asarray(x, dtype=np.float32)[:n] if n else np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != n_inputs:
        raise ValueError(f"{spec}: inputs of shape {x.shape}; the network takes (n, {n_inputs})")
    return x


def compare(artefact_path: str, x: np.ndarray) -> dict:
    torch = extras.torch("the L1 network comparison")

    from . import hls
    from .artefact import read
    from .derive import model_from_record

    art = read(artefact_path)
    rec = art.content.get("hls4ml", {})
    if "float_model" not in rec or "precision" not in rec:
        raise ValueError(f"{artefact_path}: no float model or precision recorded; derive it with "
                         "python -m hepreco.algorithms.fpga.derive")
    model = model_from_record(rec["float_model"])
    precision = hls.Precision(**rec["precision"])
    hm, folder = hls.compiled(model, precision, art.network.n_inputs)
    project = folder.rsplit("/", 1)[-1]
    if rec.get("project_hash") and rec["project_hash"] != project:
        raise ValueError(f"{artefact_path} was checked against hls4ml project {rec['project_hash']}, "
                         f"this conversion gives {project} (another hls4ml version?)")
    with torch.no_grad():
        y_float = model(torch.from_numpy(x)).numpy().astype(np.float64)
    t0 = time.perf_counter()
    y_hls = hls.predict(hm, x)
    t1 = time.perf_counter()
    y_emu = art.network.run(x)
    t2 = time.perf_counter()
    exact = np.all(y_hls == y_emu, axis=1)
    return {"inputs": len(x), "bit_exact": int(exact.sum()), "project": project,
            "max_abs_float_vs_fixed": float(np.abs(y_float - y_emu).max(initial=0)),
            "argmax_agreement_float_fixed": float(np.mean(y_float.argmax(1) == y_emu.argmax(1))),
            "hls4ml_inputs_per_s": len(x) / max(t1 - t0, 1e-9), "emulator_inputs_per_s": len(x) / max(t2 - t1, 1e-9)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m hepreco.algorithms.fpga.compare", description=__doc__.split("\n")[0])
    p.add_argument("artefact")
    p.add_argument("--inputs", default="", help="FILE.npy, FILE.npz (x) or FILE.h5:dataset; default synthetic")
    p.add_argument("-n", type=int, default=10000, help="number of inputs (0: all of the file)")
    a = p.parse_args(argv)
    from .artefact import read

    x = load_inputs(a.inputs, a.n, read(a.artefact).network.n_inputs)
    r = compare(a.artefact, x)
    print(f"{r['inputs']} inputs; emulator vs hls4ml C++ ({r['project']}): {r['bit_exact']} bit-exact; "
          f"float vs fixed: max |diff| {r['max_abs_float_vs_fixed']:.4g}, argmax agreement "
          f"{r['argmax_agreement_float_fixed']:.4f}; inputs/s: hls4ml {r['hls4ml_inputs_per_s']:.0f}, "
          f"emulator {r['emulator_inputs_per_s']:.0f}")
    return 0 if r["bit_exact"] == r["inputs"] else 1


if __name__ == "__main__":
    sys.exit(main())
