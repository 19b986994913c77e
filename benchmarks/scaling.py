"""Scaling of the main job with worker processes: sequential (one thread) against 2 workers.

Run:  python benchmarks/scaling.py [--events 1000] [--workers 2] [--repeat 1] [--executors sequential,processes,dask]

Every measurement is one fresh ``hepreco run jobs/main.yaml`` process, timed
from its start to its exit, exactly as a user runs it.  Included: Python
start-up and imports, building and validating the job, starting the worker
processes (forked from the prepared client where the system allows it, else
spawned: then each worker's imports), Pythia initialisation and loading of
the compiled numba kernels, generation, the whole chain, writing the ROOT
parts, histograms, PNGs and the report.  Excluded: numba compilation and
Python's compilation of modules to bytecode (a warm-up run per executor
before the measurements fills the on-disk kernel cache and a bytecode cache
in the benchmark's temporary folder, as any earlier run does on an ordinary
installation; their time is printed but not counted).  The runs use that
bytecode cache (``PYTHONPYCACHEPREFIX``) even where ``PYTHONDONTWRITEBYTECODE``
is set, which would otherwise compile hepreco's own modules from source at
every start (0.1-0.15 s of each run); nothing is written into the source tree.

Prints events/s for ``sequential`` with one thread (``--threads 1``) and for
``processes`` and ``dask`` with ``--workers`` workers of one thread each,
their ratio to sequential, and the CPU seconds the run's processes used (a
ratio far from the wall-clock one means the machine was busy with other
work).  ``loop s`` and ``loop ratio`` are the same for the event loop alone
(``report.json`` ``wall.event_loop``: from handing out the first item, which
includes starting and preparing the workers, to the last result), without
the start-up before it and the end of job after it, which every executor
pays once; ``start`` is how the workers started (``fork`` from the prepared
client, or ``spawn``).  With ``--repeat N`` the best (shortest) of N runs is shown.  The load
average before each measurement is printed: figures taken on a busy machine
understate the scaling.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOB = os.path.join(ROOT, "jobs", "main.yaml")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def hepreco_run(job: str, out: str, events: int, executor: str, workers: int, threads: int,
                chunk_size: int | None, pycache: str) -> tuple[float, float, dict]:
    """One ``hepreco run`` process: (wall s, CPU s of it and its workers, report)."""
    cmd = [sys.executable, "-m", "hepreco.framework.cli", "run", job, "--evt-max", str(events),
           "--executor", executor, "--workers", str(workers), "--threads", str(threads),
           "--output-dir", out, "--set", "job.progress=false"]
    if chunk_size:
        cmd += ["--chunk-size", str(chunk_size)]
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    cpu = children_cpu() - cpu0
    if proc.returncode != 0:
        sys.exit(f"scaling: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    return wall, cpu, report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=1000, help="events of the main job per run")
    p.add_argument("--workers", type=int, default=2, help="workers of the processes and dask runs")
    p.add_argument("--repeat", type=int, default=1, help="runs per configuration (the best is shown)")
    p.add_argument("--executors", default="sequential,processes,dask",
                   help="comma-separated executors to measure (sequential is the reference)")
    p.add_argument("--chunk-size", type=int, default=None, help="override job.chunk_size (default: the job's)")
    p.add_argument("--job", default=JOB, help="job options file (default jobs/main.yaml)")
    args = p.parse_args()

    executors = [e for e in args.executors.split(",") if e]
    with tempfile.TemporaryDirectory(prefix="hepreco-scaling-") as tmp:
        pycache = os.path.join(tmp, "pycache")
        warm = []
        for executor in executors:
            wall, _, _ = hepreco_run(args.job, os.path.join(tmp, f"warm-{executor}"), 4, executor,
                                     1 if executor == "sequential" else args.workers, 1, None, pycache)
            warm.append(f"{executor} {wall:.1f} s")
        print(f"warm-up (fills the numba kernel and bytecode caches; not counted): 4 events, {', '.join(warm)}")
        print(f"{os.path.relpath(args.job, ROOT)}, {args.events} events per run, whole `hepreco run` process timed "
              f"(start-up, workers, Pythia init, kernel cache loading, outputs included), best of {args.repeat}")
        print(f"{'executor':>11} {'workers':>7} {'threads':>7} {'chunk':>6} {'wall s':>8} {'events/s':>9} "
              f"{'ratio':>6} {'loop s':>7} {'loop ratio':>10} {'start':>6} {'CPU s':>7}  "
              "load average (1, 5, 15 min) before")
        reference = loop_reference = None
        ratios: dict[str, float] = {}
        warned = False
        for executor in executors:
            workers = 1 if executor == "sequential" else args.workers
            runs = []
            for i in range(args.repeat):
                load = os.getloadavg()
                wall, cpu, report = hepreco_run(args.job, os.path.join(tmp, f"{executor}-{i}"), args.events,
                                                executor, workers, 1, args.chunk_size, pycache)
                assert report["events"]["read"] == args.events, report["events"]
                runs.append((wall, cpu, load, report))
            wall, cpu, load, report = min(runs, key=lambda r: r[0])
            rate = args.events / wall
            loop = report["wall"]["event_loop"]
            if reference is None:
                reference, loop_reference = rate, args.events / loop
            elif executor != executors[0]:
                ratios[executor] = rate / reference
            chunk = report["config"]["job"]["chunk_size"]
            if workers > 1 and args.events < 4 * workers * chunk and not warned:
                warned = True
                print(f"  (only {-(-args.events // chunk)} work items of {chunk} events for {workers} workers: "
                      f"start-up and the last item dominate; scaling needs 1,000 events or more)")
            threads = report["threads"]["per_worker"]
            start = report["executor"].get("start", "-")
            print(f"{executor:>11} {workers:>7} {threads:>7} {chunk:>6} {wall:8.1f} {rate:9.2f} "
                  f"{rate / reference:6.2f} {loop:7.1f} {args.events / loop / loop_reference:10.2f} {start:>6} "
                  f"{cpu:7.1f}  {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}")
        if reference is not None and len(executors) > 1:
            goal = 0.9 * args.workers
            print(f"goal: {args.workers} workers >= {goal:.1f}x one sequential thread: "
                  + ", ".join(f"{name} {'met' if ratio >= goal else 'not met'} ({ratio:.2f}x)"
                              for name, ratio in ratios.items()))


if __name__ == "__main__":
    main()
