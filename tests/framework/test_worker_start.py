"""How workers start: forked from the client that built the job once, or fresh when a fork is unsafe;
end-of-job work on the live workers; the collector's freeze of a built job."""
import gc
import json
import os
import subprocess
import sys
import threading

import pytest

from hepreco.framework import job as job_module
from hepreco.framework import threads as policy
from hepreco.framework.executors import ProcessExecutor
from hepreco.framework.io.source import WorkItem

from ..conftest import build_job, run_job
from .outputs import hdf5_stream

PROBE = "  - type: InitProbe\n  - {type: Sleep, seconds: 0.1}\n"
forking = pytest.mark.skipif(ProcessExecutor.start_method != "fork", reason="workers are forked on Linux only")


def probe_job(toy_job, out):
    """The toy job with InitProbe, whose per-event process ids the H5 stream writes."""
    path = toy_job(out, evt_max=40, chunk_size=5, algorithms=PROBE)
    with open(path) as f:
        text = f.read()
    text = text.replace("    name: H5\n    collections: [HardParticles, SumPt, SmearedVector, Vector]",
                        "    name: H5\n    collections: [SumPt, InitPid, EventPid]")
    with open(path, "w") as f:
        f.write(text)
    return path


@forking
@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_workers_forked_from_the_client_start_with_the_job_it_built(toy_job, tmp_path, executor):
    if executor == "dask":
        pytest.importorskip("distributed")
    out = tmp_path / "forked"
    proc = subprocess.run([sys.executable, "-m", "hepreco.framework.cli", "run", probe_job(toy_job, str(out)),
                           "--executor", executor, "--workers", "2", "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["executor"] == {"name": executor, "workers": 2, "start": "fork"}
    seen = hdf5_stream(str(out), "H5")
    assert seen["event"] == list(range(40))
    assert len(set(seen["InitPid"])) == 1, "the job was initialised once, in the client"
    assert set(seen["InitPid"]).isdisjoint(seen["EventPid"]), "the events ran in the workers"
    assert len(set(seen["EventPid"])) == 2
    pngs = [p for p in report["histograms"] if p.endswith(".png")]
    assert len(pngs) == 2 and all((out / p).stat().st_size > 1000 for p in pngs)  # drawn by the workers

    reference = tmp_path / "sequential"
    assert run_job(probe_job(toy_job, str(reference)))["status"] == "ok"
    assert hdf5_stream(str(reference), "H5")["SumPt"] == seen["SumPt"]


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_a_fork_hazard_starts_the_workers_fresh_and_is_reported(toy_job, tmp_path, monkeypatch, executor):
    if executor == "dask":
        pytest.importorskip("distributed")
    monkeypatch.setattr(policy, "_fork_checks", {"busylib": lambda: "busylib's thread pool is running"})
    out = str(tmp_path / "spawned")
    report = run_job(probe_job(toy_job, out), f"job.executor={executor}", "job.workers=2")
    assert report["status"] == "ok" and report["executor"]["start"] == "spawn"
    if ProcessExecutor.start_method == "fork":
        assert "busylib's thread pool is running" in report["executor"]["not_forked"]
    seen = hdf5_stream(out, "H5")
    assert seen["InitPid"] == seen["EventPid"], "each fresh worker initialised its own job"
    assert os.getpid() not in seen["InitPid"], "the client did not build the job for nothing"


def test_a_process_kept_fit_to_fork_starts_no_thread_pool(monkeypatch):
    monkeypatch.setattr(policy, "_appliers", {})
    monkeypatch.setattr(policy, "_state", {})
    monkeypatch.setattr(policy, "_threads", None)
    monkeypatch.setattr(policy, "_starts_pool", set())
    monkeypatch.setattr(policy, "_start_pools", True)
    monkeypatch.setattr(policy, "_applied", threading.local())
    calls = []
    policy.register("plain", lambda n: calls.append(("plain", n)) or n)
    policy.register("pooled", lambda n: calls.append(("pooled", n)) or n, starts_pool=True)
    policy.apply(1, start_pools=False)
    assert calls == [("plain", 1)]
    policy.register("pooled-late", lambda n: calls.append(("pooled-late", n)) or n, starts_pool=True)
    assert calls == [("plain", 1)], "a pool-starting library imported later waits too"
    policy.apply(1)  # where the items run
    assert sorted(calls[1:]) == [("plain", 1), ("pooled", 1), ("pooled-late", 1)]


def pid_of(x):
    return x, os.getpid()


def n_events(item):
    return item.n_events


def test_end_of_job_work_runs_on_the_live_workers_in_order_and_here_without_them():
    items = [WorkItem(i, "ToySource", None, 0, i + 1) for i in range(4)]
    with ProcessExecutor(workers=2) as executor:
        assert sorted(executor.run(n_events, items)) == [1, 2, 3, 4]
        wait = executor.map_async(pid_of, range(6))
        done = wait()
    assert [x for x, _ in done] == list(range(6))
    assert os.getpid() not in {pid for _, pid in done}
    executor = ProcessExecutor(workers=2)  # no event loop ran: no workers
    assert executor.map_async(pid_of, range(3))() == [(0, os.getpid()), (1, os.getpid()), (2, os.getpid())]


def test_a_process_that_exists_for_the_job_freezes_it_for_the_collector(toy_job, tmp_path, monkeypatch):
    resolved = build_job(toy_job(str(tmp_path / "frozen"))).resolved()
    monkeypatch.setattr(job_module, "freeze_after_build", True)
    before = gc.get_freeze_count()
    try:
        proc = job_module.prepare(resolved, str(tmp_path / "frozen"), "freeze-test")
        assert gc.get_freeze_count() > before
        assert job_module.prepare(resolved, str(tmp_path / "frozen"), "freeze-test") is proc  # built once
    finally:
        gc.unfreeze()
        job_module._PROCESSORS.pop("freeze-test").finalize()


def test_another_running_thread_is_a_fork_hazard(monkeypatch):
    monkeypatch.setattr(policy, "_fork_checks", {})
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, name="busy-helper")
    worker.start()
    try:
        assert "busy-helper" in policy.fork_hazard()
    finally:
        stop.set()
        worker.join()


def test_the_progress_bar_starts_no_thread(capsys):
    from hepreco.framework.event_loop import _progress

    before = threading.active_count()
    bar = _progress(10, True)
    bar.update(5)
    assert threading.active_count() == before
    bar.close()
