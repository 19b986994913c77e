"""Framework overhead: events/s through 10 trivial algorithms, start-up time, streaming memory.

Run:  python benchmarks/framework_overhead.py [--events N] [--chunk N]

Prints, each next to its reference measured in the same run:
1. events/s of a chain of 10 trivial algorithms over generated collections
   (sequential executor, one core), against the same ten numpy operations
   called in a plain Python loop over the same chunks (ratio = framework cost);
2. start-up time of ``hepreco run`` for a 10-event job, against ``python -c
   "import numpy, awkward"`` (the floor any such tool pays);
3. peak resident memory of the client of a streaming job (a cheap synthetic
   source writing HDF5, chunks of 100) over 1,000 and 10,000 work items, and
   the growth per work item (flat means the client keeps no per-item state).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import awkward as ak
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from hepreco.framework import Algorithm, EventSource, Input, Output, Property, hookimpl  # noqa: E402
from hepreco.framework.event_store import make_event_ids  # noqa: E402
from hepreco.framework.io.source import split_range  # noqa: E402


class SyntheticSource(EventSource):
    """Cheap generated collections: a dense (event,) float array and jagged particles."""

    values = Output("Values")
    particles = Output("Particles")
    multiplicity = Property(20, doc="particles per event")

    def work_items(self, evt_max, chunk_size, run):
        return split_range(self.name, None, evt_max, chunk_size, run)

    def read(self, item):
        n = item.n_events
        ids = make_event_ids(item.run, np.arange(item.first, item.last))
        values = np.arange(item.first, item.last, dtype=np.float64)
        flat = np.linspace(0.0, 1.0, n * self.multiplicity)
        parts = ak.unflatten(ak.zip({"pt": flat, "eta": flat}), np.full(n, self.multiplicity))
        return ids, {self.values: values, self.particles: parts}


class Step(Algorithm):
    """Trivial algorithm: out = in + 1 over the chunk."""

    src = Input("Values")
    dst = Output("{name}Out")

    def execute(self, store):
        store.put(self.dst, store[self.src] + 1.0)


@hookimpl
def hepreco_register_algorithms():
    return [Step]


@hookimpl
def hepreco_register_sources():
    return [SyntheticSource]


def chain_job(out: str, events: int, chunk: int, n_algs: int = 10, stream: bool = False) -> str:
    lines = [f"job: {{name: overhead, evt_max: {events}, chunk_size: {chunk}, output_dir: {out}, progress: false,",
             "      plugins: [framework_overhead]}", "source: {type: SyntheticSource}", "algorithms:"]
    src = "Values"
    for i in range(n_algs):
        lines.append(f"  - {{type: Step, name: Step{i}, src: {src}}}")
        src = f"Step{i}Out"
    if stream:
        lines += ["outputs:", f"  - {{type: Hdf5Output, name: Stream, collections: [Particles, {src}]}}"]
    path = os.path.join(out, "job.yaml")
    os.makedirs(out, exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def plain_loop(events: int, chunk: int, n_algs: int = 10) -> float:
    """The reference: the same source arrays and ten numpy +1 operations, no framework."""
    src = SyntheticSource()
    t0 = time.perf_counter()
    for item in src.work_items(events, chunk, 1):
        _, data = src.read(item)
        x = data["Values"]
        for _ in range(n_algs):
            x = x + 1.0
    return time.perf_counter() - t0


def framework_loop(events: int, chunk: int) -> tuple[float, float]:
    """(seconds for the whole run_job, seconds inside the event loop proper)."""
    from hepreco.framework import config
    from hepreco.framework.event_loop import run_job
    from hepreco.framework.job import build

    with tempfile.TemporaryDirectory() as tmp:
        job = build(config.load(chain_job(tmp, events, chunk)))
        t0 = time.perf_counter()
        report = run_job(job, quiet=True)
        total = time.perf_counter() - t0
        algs = sum(row["seconds"] for name, row in report["timing"].items())
    return total, algs


def startup(args: list[str], repeat: int = 3) -> float:
    best = float("inf")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")]))
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - t0)
    return best


def peak_rss_mb(events: int, chunk: int) -> float:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")]))
    with tempfile.TemporaryDirectory() as tmp:
        job = chain_job(tmp, events, chunk, n_algs=2, stream=True)
        proc = subprocess.Popen([sys.executable, "-m", "hepreco.framework.cli", "run", job, "--quiet"], env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        if status != 0:
            raise RuntimeError("streaming job failed")
    return usage.ru_maxrss / 1024.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=2_000_000, help="events for the throughput test")
    p.add_argument("--chunks", type=int, nargs="+", default=[1_000, 10_000, 50_000],
                   help="chunk sizes for the throughput test")
    p.add_argument("--items", type=int, nargs=2, default=[1_000, 10_000],
                   help="work items (of 100 events) for the memory test")
    p.add_argument("--only-memory", action="store_true", help="run only the memory test")
    args = p.parse_args()
    if args.only_memory:
        return memory(args)

    print(f"1. chain of 10 trivial algorithms over {args.events:,} generated events (sequential, one core)")
    print(f"   {'chunk':>8} {'plain numpy loop':>18} {'hepreco job':>14} {'ratio':>7} {'framework cost':>16}")
    framework_loop(args.chunks[0], args.chunks[0])  # warm caches
    for chunk in args.chunks:
        plain = min(plain_loop(args.events, chunk) for _ in range(3))
        total, inside = min(framework_loop(args.events, chunk) for _ in range(3))
        print(f"   {chunk:>8,} {args.events / plain / 1e6:12.2f} M/s  {args.events / total / 1e6:9.2f} M/s "
              f"{total / plain:7.2f} {1e6 * (total - plain) / args.events:10.3f} us/evt")

    ref = startup([sys.executable, "-c", "import numpy, awkward"])
    with tempfile.TemporaryDirectory() as tmp:
        job = chain_job(tmp, 10, 10)
        run = startup([sys.executable, "-m", "hepreco.framework.cli", "run", job, "--quiet", "--overwrite"])
    print("2. start-up, 10-event job")
    print(f"   python -c 'import numpy, awkward' (reference)  {ref:6.2f} s")
    print(f"   hepreco run (10 events)                       {run:6.2f} s   (ratio {run / ref:.2f})")

    memory(args)


def memory(args) -> None:
    print("3. peak memory of a streaming job (synthetic source -> HDF5, chunks of 100, sequential)")
    low, high = args.items
    rss = {n: peak_rss_mb(n * 100, 100) for n in (low, high)}
    for n, mb in rss.items():
        print(f"   {n:>7,} work items ({n * 100:>10,} events)   peak RSS {mb:7.1f} MB")
    print(f"   ratio {high:,} / {low:,} items: {rss[high] / rss[low]:.2f} (1.00 = flat); "
          f"{1024 * (rss[high] - rss[low]) / (high - low):.2f} kB per work item")


if __name__ == "__main__":
    sys.modules.setdefault("framework_overhead", sys.modules[__name__])
    main()
