"""The client side of a job: dispatch work items, merge results, write the report.

:func:`run_job` splits the source into work items, skips those the
manifest lists as complete (``resume``), hands the rest to the executor,
records every completed item, merges histograms, timing and counters in
item order (so results do not depend on the executor), merges histograms
and accumulators the same way, writes histograms and ``report.json``
(accumulators under ``"accumulators"``), and prints a summary.
"""
from __future__ import annotations

import datetime
import os
import sys
import time
from functools import partial

from . import threads as thread_policy
from .algorithm import call_end_of_job
from .errors import AlgorithmError, JobAborted
from .executors import ItemFailure, make_executor
from .job import Job, end_of_job_task, prepare, process_item
from .manifest import Manifest, atomic_write_json, writing
from .report import summary, versions
from .io.merge import Combiner
from .results import ResultMerger, item_order
from .services.histograms import draw_task
from .services.accumulators import AccumulatorSvc


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    class Bar(tqdm):
        # no monitor thread: the client forks its workers after the bar exists, and forks only a thread-free
        # process (the bar is refreshed as items complete anyway)
        monitor_interval = 0

    return Bar(total=total, unit="evt", unit_scale=True, dynamic_ncols=True, smoothing=0.1,
               disable=(not enabled) or None, file=sys.stderr, desc="events")


def run_job(job: Job, resume: bool = False, quiet: bool = False, overwrite: bool = False) -> dict:
    """Run ``job``; return its report (also written to ``<output dir>/report.json``).

    ``resume`` continues an earlier run in the output folder; ``overwrite``
    replaces one (without either, an earlier run there is an error).
    Raises :class:`~hepreco.framework.errors.JobAborted` when an algorithm
    with ``on_error: abort`` fails; the report is written first, and
    :class:`~hepreco.framework.errors.OutputError` when the output folder
    cannot be written.  An interruption (Ctrl-C, or SIGTERM through the
    command line) stops dispatching, writes the report (status
    ``interrupted``) and is re-raised; ``resume=True`` then continues from
    the completed items.
    """
    s = job.settings
    out = os.path.abspath(s.output_dir)
    started = time.time()
    resolved = job.resolved()
    config_hash = job.config_hash()
    items = job.source.work_items(s.evt_max, s.chunk_size, s.run)
    manifest = Manifest(out, config_hash, [o.name for o in job.outputs], resume=resume, overwrite=overwrite)
    if manifest.damaged:
        shown = "; ".join(f"{d['file']}: {d['problem']}" for d in manifest.damaged)
        print(f"hepreco: resume: {len(manifest.damaged)} part(s) of earlier items are missing or damaged "
              f"({shown}); running their {len(manifest.rerun)} work item(s) again", file=sys.stderr)
    done = manifest.completed()  # grows as items complete
    n_resumed = len(done)
    order = item_order(it.index for it in items)  # a range: the client holds no per-item order
    combiners = [Combiner(stream, out, manifest, order) for stream in job.outputs if stream.combines]
    merged = ResultMerger(order)
    with writing(out):
        for it in items:
            if it.key in done:
                res = manifest.load_result(it.key)
                merged.add(res, resumed=True)
                for combiner in combiners:
                    combiner.add(it.key, res.parts)
    failures: list[ItemFailure] = []
    retries: dict[int, dict] = {}
    abort: BaseException | None = None
    interrupted: KeyboardInterrupt | None = None

    job.registry.manager.hook.hepreco_job_start(config=resolved, output_dir=out)
    pins = {who: art.sha256 for who, art in job.artefacts().items()}
    workers = s.workers if s.executor != "sequential" else 1
    threads = thread_policy.resolve(s.threads, workers)
    job_key = f"{job.config_hash(physics_only=False)}:{out}"
    fn = partial(process_item, resolved, out, job_key, artefacts=pins, threads=threads)
    # what fn builds on its first call, built in this process by an executor that forks its workers from it:
    # one thread, and no thread pool started, which a fork would break
    warm = partial(prepare, resolved, out, job_key, artefacts=pins, threads=1, start_pools=False)
    bar = _progress(sum(it.n_events for it in items if it.key not in done), s.progress and not quiet)
    todo = (it for it in items if it.key not in done)  # lazily: no second list of the items
    executor = results = None
    loop_start = time.time()
    try:
        executor = make_executor(s.executor, s.workers, s.max_retries, s.scheduler, threads)
        retries = executor.retries
        results = executor.run(fn, todo, prepare=warm)
        for res in results:
            if isinstance(res, ItemFailure):
                failures.append(res)
                merged.skip(res.index)
                continue
            key = f"{res.index:05d}"
            manifest.record(key, res)
            bar.update(res.n_read)
            merged.add(res)
            with writing(out):
                for combiner in combiners:
                    combiner.add(key, res.parts)
    except AlgorithmError as exc:
        abort = exc
    except KeyboardInterrupt as exc:
        interrupted = exc  # what completed is kept: --resume continues from there
    except BaseException:
        if results is not None:
            results.close()
        if executor is not None:
            executor.close()
        manifest.close(complete=False, raising=False)  # keep what completed: --resume continues from there
        raise
    finally:
        bar.close()
        if results is not None:
            results.close()  # stopped early: the executor lets the items in flight finish (and write their parts)
        manifest.discard_unrecorded()  # parts of items that were not recorded (abort, error) go
    loop_end = time.time()
    if interrupted is not None and abort is None and not failures and merged.items + merged.waiting == len(items):
        interrupted = None  # the stop came while the executor was shutting down: every item is complete

    merged.finish()
    job.services.artefacts.derivation = {
        "job": s.name, "job_options": os.path.abspath(job.file) if os.path.exists(job.file) else job.file,
        "config_hash": config_hash, "events": merged.n_read,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "hepreco_version": versions().get("hepreco", "unknown")}
    histograms, accumulators = merged.histograms, merged.accumulators
    complete = abort is None and not failures and merged.items == len(items)
    try:
        with writing(out):
            for combiner in combiners if complete and interrupted is None else []:
                combiner.flush()
            # the executor's workers run the end of job of algorithms that only write plots and tables (the
            # longest tasks, so they go first) and draw the histograms, while this process writes the rest
            local, remote = [], []
            for alg in job.algorithms() if interrupted is None else []:
                prefix = alg.name + "/"
                owned = {k[len(prefix):]: h for k, h in histograms.items() if k.startswith(prefix)}
                owned_acc = {k[len(prefix):]: a for k, a in accumulators.items() if k.startswith(prefix)}
                if owned or owned_acc:
                    on_workers = alg.end_of_job_on_workers and executor is not None and executor.has_workers
                    (remote if on_workers else local).append((alg, owned, owned_acc))
            summarising = executor.map_async(
                partial(end_of_job_task, resolved, out, job_key, artefacts=pins, threads=threads),
                [(alg.name, owned, owned_acc) for alg, owned, owned_acc in remote]) if remote else list
            hist_svc = job.services.histograms
            tasks = hist_svc.drawing_tasks(histograms, out)
            drawing = executor.map_async(draw_task, tasks) if executor else (lambda: [draw_task(t) for t in tasks])
            hist_files = hist_svc.write_root(histograms, out)
            written = {alg.name: call_end_of_job(alg, owned, owned_acc, out) for alg, owned, owned_acc in local}
            written.update({alg.name: paths for (alg, _, _), paths in zip(remote, summarising())})
            summaries = [path for alg in job.algorithms() for path in written.get(alg.name, [])]
            hist_files += hist_svc.drawn(tasks, drawing())
    except BaseException:
        manifest.close(complete=False, raising=False)
        raise
    finally:
        if executor is not None:
            executor.close()
    method, why = getattr(executor, "started", ("", ""))
    executor_start = {"start": method, **({"not_forked": why} if why else {})} if method else {}
    manifest.close(complete=complete)
    finished = time.time()
    report = {
        "job": s.name,
        "status": "ok" if complete else ("aborted" if abort else "interrupted" if interrupted else "incomplete"),
        "started": datetime.datetime.fromtimestamp(started).isoformat(timespec="seconds"),
        "finished": datetime.datetime.fromtimestamp(finished).isoformat(timespec="seconds"),
        "wall_seconds": finished - started,
        # building the client's job comes before ``started``; the event loop includes starting the workers
        "wall": {"setup": loop_start - started, "event_loop": loop_end - loop_start, "end_of_job": finished - loop_end},
        "job_options": job.file,
        "output_dir": out,
        "config": resolved,
        "config_hash": job.config_hash(physics_only=False),
        "physics_hash": config_hash,
        "versions": versions(),
        "plugins": [vars(p) for p in job.registry.plugins],
        "executor": {"name": s.executor, "workers": workers, **executor_start},
        "threads": {"setting": s.threads, "per_worker": threads, "usable_cores": thread_policy.usable_cores(),
                    "applied": merged.threads},
        "malloc": {"setting": s.malloc, "applied": merged.malloc},
        "items": {"total": len(items), "completed": merged.items, "resumed": n_resumed,
                  "rerun": len(manifest.rerun), "failed": len(failures)},
        "damaged_parts": manifest.damaged,
        "events": {"read": merged.n_read, "accepted": merged.n_accepted, "failed": merged.n_failed,
                   "processed": merged.processed},
        "decisions": merged.decisions,
        "accumulators": AccumulatorSvc.report(accumulators),
        "timing": merged.timing_table(),
        "messages": merged.messages,
        "errors": merged.errors,
        "failed_items": [vars(f) for f in failures],
        "retried_items": [retries[i] for i in sorted(retries)],
        "outputs": manifest.outputs(),
        "histograms": [os.path.relpath(p, out) for p in hist_files],
        "summaries": [os.path.relpath(p, out) for p in summaries],
        "artefacts": {who: art.summary() for who, art in job.artefacts().items()},
        "artefacts_derived": [{**art.summary(), "install": f"hepreco artefacts install {_shown(art.path)}"}
                              for art in job.services.artefacts.derived],
    }
    if interrupted is not None:
        report["interrupted"] = str(interrupted) or "KeyboardInterrupt"
    if abort is not None:
        report["abort"] = {"algorithm": abort.algorithm, "events": abort.events,
                           "exception": abort.exception, "message": abort.message}
    job.registry.manager.hook.hepreco_job_end(report=report)
    with writing(out):
        atomic_write_json(os.path.join(out, "report.json"), report, indent=1, default=str)
    if not quiet:
        print(summary(report), file=sys.stderr)
    if interrupted is not None:
        interrupted.report = os.path.join(out, "report.json")
        raise interrupted
    if abort is not None:
        raise JobAborted(f"job aborted: {abort} (on_error: abort; set on_error: skip_event or skip_chunk "
                         f"on {abort.algorithm} to carry on). Report: {out}/report.json") from abort
    return report


def _shown(path: str) -> str:
    """``path`` relative to the working folder when it is below it (for commands to copy)."""
    rel = os.path.relpath(path)
    return path if rel.startswith(os.pardir) else rel
