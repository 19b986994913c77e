"""The client side of a job: dispatch work items, merge results, write the report.

:func:`run_job` splits the source into work items, skips those the
manifest lists as complete (``resume``), hands the rest to the executor,
records every completed item, merges histograms, timing and counters in
item order (so results do not depend on the executor), writes histograms
and ``report.json``, and prints a summary.
"""
from __future__ import annotations

import datetime
import json
import os
import sys
import time
from functools import partial

from . import threads as thread_policy
from .errors import AlgorithmError, JobAborted
from .executors import ItemFailure, make_executor
from .job import Job, ItemResult, process_item
from .manifest import Manifest
from .report import summary, versions
from .services.histograms import HistogramSvc
from .services.messages import MessageSvc
from .services.timing import TimingSvc


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="evt", unit_scale=True, dynamic_ncols=True, smoothing=0.1,
                disable=(not enabled) or None, file=sys.stderr, desc="events")


def run_job(job: Job, resume: bool = False, quiet: bool = False) -> dict:
    """Run ``job``; return its report (also written to ``<output dir>/report.json``).

    Raises :class:`~hepreco.framework.errors.JobAborted` when an algorithm
    with ``on_error: abort`` fails; the report is written first.
    """
    s = job.settings
    out = os.path.abspath(s.output_dir)
    started = time.time()
    resolved = job.resolved()
    config_hash = job.config_hash()
    items = job.source.work_items(s.evt_max, s.chunk_size, s.run)
    manifest = Manifest(out, config_hash, [o.name for o in job.outputs], resume=resume)
    done = manifest.completed()
    todo = [it for it in items if it.key not in done]
    results: dict[int, ItemResult] = {it.index: manifest.load_result(it.key) for it in items if it.key in done}
    failures: list[ItemFailure] = []
    abort: BaseException | None = None

    job.registry.manager.hook.hepreco_job_start(config=resolved, output_dir=out)
    workers = s.workers if s.executor != "sequential" else 1
    threads = thread_policy.resolve(s.threads, workers)
    fn = partial(process_item, resolved, out, f"{job.config_hash(physics_only=False)}:{out}", threads=threads)
    bar = _progress(sum(it.n_events for it in todo), s.progress and not quiet)
    try:
        with make_executor(s.executor, s.workers, s.max_retries, s.scheduler, threads) as executor:
            for res in executor.run(fn, todo):
                if isinstance(res, ItemFailure):
                    failures.append(res)
                    continue
                manifest.record(f"{res.index:05d}", res)
                results[res.index] = res
                bar.update(res.n_read)
    except AlgorithmError as exc:
        abort = exc
    except BaseException:
        manifest.close(complete=False)  # keep what completed: --resume continues from there
        raise
    finally:
        bar.close()

    ordered = [results[i] for i in sorted(results)]
    histograms = HistogramSvc.merge(r.histograms for r in ordered)
    hist_files = job.services.histograms.write(histograms, out)
    summaries = []
    for alg in job.algorithms():
        prefix = alg.name + "/"
        owned = {k[len(prefix):]: h for k, h in histograms.items() if k.startswith(prefix)}
        if owned:
            summaries += alg.end_of_job(owned, out)
    complete = abort is None and not failures and len(results) == len(items)
    manifest.close(complete=complete)
    finished = time.time()
    processed = sum(results[i].n_read for i in results if f"{i:05d}" not in done)
    report = {
        "job": s.name,
        "status": "ok" if complete else ("aborted" if abort else "incomplete"),
        "started": datetime.datetime.fromtimestamp(started).isoformat(timespec="seconds"),
        "finished": datetime.datetime.fromtimestamp(finished).isoformat(timespec="seconds"),
        "wall_seconds": finished - started,
        "job_options": job.file,
        "output_dir": out,
        "config": resolved,
        "config_hash": job.config_hash(physics_only=False),
        "physics_hash": config_hash,
        "versions": versions(),
        "plugins": [vars(p) for p in job.registry.plugins],
        "executor": {"name": s.executor, "workers": workers},
        "threads": {"setting": s.threads, "per_worker": threads, "usable_cores": thread_policy.usable_cores(),
                    "applied": _distinct(getattr(r, "threads", {}) for r in ordered)},
        "items": {"total": len(items), "completed": len(results), "resumed": len(done & {it.key for it in items}),
                  "failed": len(failures)},
        "events": {"read": sum(r.n_read for r in ordered), "accepted": sum(r.n_accepted for r in ordered),
                   "failed": sum(r.n_failed for r in ordered), "processed": processed},
        "decisions": _sum_dicts(r.decisions for r in ordered),
        "timing": TimingSvc.merge(r.timing for r in ordered),
        "messages": MessageSvc.merge(r.messages for r in ordered),
        "errors": [err for r in ordered for err in r.errors],
        "failed_items": [vars(f) for f in failures],
        "outputs": [p for r in ordered for p in r.parts],
        "histograms": [os.path.relpath(p, out) for p in hist_files],
        "summaries": [os.path.relpath(p, out) for p in summaries],
    }
    if abort is not None:
        report["abort"] = {"algorithm": abort.algorithm, "events": abort.events,
                           "exception": abort.exception, "message": abort.message}
    job.registry.manager.hook.hepreco_job_end(report=report)
    tmp = os.path.join(out, "report.json.tmp")
    with open(tmp, "w") as f:
        json.dump(report, f, indent=1, default=str)
    os.replace(tmp, os.path.join(out, "report.json"))
    if not quiet:
        print(summary(report), file=sys.stderr)
    if abort is not None:
        raise JobAborted(f"job aborted: {abort} (on_error: abort; set on_error: skip_event or skip_chunk "
                         f"on {abort.algorithm} to carry on). Report: {out}/report.json") from abort
    return report


def _distinct(dicts) -> list[dict]:
    """The distinct dicts among ``dicts``, in order of first appearance."""
    out: list[dict] = []
    for d in dicts:
        if d and d not in out:
            out.append(d)
    return out


def _sum_dicts(dicts) -> dict[str, int]:
    total: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            total[k] = total.get(k, 0) + v
    return total
