"""Level-1 network emulator speed against hls4ml's compiled predict(), with the bit-exact count.

Run:  python benchmarks/l1nn.py [--inputs N] [--hls-inputs N] [--precision TYPE] [--accum TYPE ...]

The 16-64-32-32-5 network (ReLU, softmax) with random weights at one
uniform precision (default ``ap_fixed<16,6>``), once with that type as the
accumulator too (every product quantised to it) and once for each
``--accum`` (default ``ap_fixed<32,12>``, which holds the products
exactly), converted and
compiled once by hls4ml (cached in ``$HEPRECO_CACHE/hls4ml``).  Both run on one core in this
process: the emulator on numba's one thread over chunks of 10,000 inputs,
including the float-to-``ap_fixed`` input conversion; hls4ml's ``predict()``
(one ctypes call per input) on the first ``--hls-inputs`` of the same inputs.
Each side runs ``--repeat`` times (default 3) in turn and its best pass
counts, as both rates vary with the load of a shared machine (the spread of
predict()'s passes is printed).  Prints inputs/s of each, their ratio, and how
many of the ``--hls-inputs`` outputs were bit-exact; rates per wall-clock
second and per CPU second of this process (the latter is the one-core figure
on a machine shared with other work).
"""
from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--inputs", type=int, default=1_000_000, help="inputs for the emulator")
    p.add_argument("--hls-inputs", type=int, default=20_000, help="inputs for hls4ml predict() (the same, first N)")
    p.add_argument("--precision", default="ap_fixed<16,6>")
    p.add_argument("--accum", nargs="*", default=["ap_fixed<32,12>"], help="further accumulator types")
    p.add_argument("--chunk", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=3, help="passes of each side; the best counts")
    a = p.parse_args()
    for accum in [a.precision, *a.accum]:
        run(a, accum)


def run(a, accum: str) -> None:
    import torch

    from hepreco.algorithms.fpga import hls
    from hepreco.algorithms.fpga.derive import make_network

    numba.set_num_threads(1)
    torch.manual_seed(0)
    model = make_network().eval()
    t0 = time.perf_counter()
    hm, folder = hls.compiled(model, hls.Precision.uniform(a.precision, accum=accum), 16)
    net, _ = hls.read_project(folder)
    print(f"hls4ml project {os.path.basename(folder)} ready in {time.perf_counter() - t0:.1f} s (compiled once, cached)")
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(a.inputs, 16)) * rng.choice([0.5, 2.0, 8.0], size=(a.inputs, 1))).astype(np.float32)
    net.run(x[:10])   # compile or load the kernels
    out = np.empty((a.inputs, 5))
    n_hls = min(a.hls_inputs, a.inputs)
    emu, hls_runs = [], []

    def timed(fn) -> tuple[float, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        return time.perf_counter() - t0, time.process_time() - c0

    def emulate():
        for k in range(0, a.inputs, a.chunk):
            out[k:k + a.chunk] = net.run(x[k:k + a.chunk])

    ref = []

    def reference():
        ref[:] = [hls.predict(hm, x[:n_hls])]

    for _ in range(a.repeat):   # alternating, so that both sides see the same load
        emu.append(timed(emulate))
        hls_runs.append(timed(reference))
    ref = ref[0]
    exact = int(np.all(ref == out[:n_hls], axis=1).sum())
    t_emu, c_emu = min(t for t, _ in emu), min(c for _, c in emu)
    t_hls, c_hls = min(t for t, _ in hls_runs), min(c for _, c in hls_runs)
    print(f"precision {a.precision}, accumulators {accum}, 16-64-32-32-5, one core "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores), best of {a.repeat} passes of each side")
    print(f"{'':16s} {'inputs':>9s} {'wall s':>8s} {'inputs/s':>12s} {'CPU s':>8s} {'inputs/CPU s':>13s}")
    for label, n, t, c in (("emulator", a.inputs, t_emu, c_emu), ("hls4ml predict", n_hls, t_hls, c_hls)):
        print(f"{label:16s} {n:>9d} {t:8.2f} {n / t:12,.0f} {c:8.2f} {n / c:13,.0f}")
    print(f"hls4ml predict passes: {', '.join(f'{n_hls / c:,.0f}' for _, c in hls_runs)} inputs/CPU s; "
          f"emulator passes: {', '.join(f'{a.inputs / c:,.0f}' for _, c in emu)} inputs/CPU s")
    print(f"speed-up {(a.inputs / t_emu) / (n_hls / t_hls):.0f}x (wall), {(a.inputs / c_emu) / (n_hls / c_hls):.0f}x "
          f"(CPU); bit-exact: {exact} of {n_hls}")


if __name__ == "__main__":
    main()
