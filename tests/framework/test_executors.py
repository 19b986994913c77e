"""Same job, same outputs, histograms and accumulators: whatever the executor, worker count or chunk size."""
import json
import os

import pytest

from ..conftest import run_job
from .outputs import hdf5_stream, histograms, root_stream

MATRIX = [
    ("sequential", 1, 25),
    ("sequential", 1, 7),
    ("processes", 2, 25),
    ("processes", 2, 7),
    ("dask", 2, 25),
]

TALLY = "  - type: Tally\n"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return tmp_path_factory.mktemp("reference")


def collect(out):
    return root_stream(out, "Root"), hdf5_stream(out, "H5"), histograms(out)


@pytest.mark.parametrize("executor,workers,chunk", MATRIX, ids=[f"{e}-{w}w-chunk{c}" for e, w, c in MATRIX])
def test_identical_outputs_under_every_executor(toy_job, tmp_path, executor, workers, chunk):
    ref_out = str(tmp_path / "ref")
    report_ref = run_job(toy_job(ref_out, evt_max=60, chunk_size=20, algorithms=TALLY))
    out = str(tmp_path / "run")
    report = run_job(toy_job(out, evt_max=60, chunk_size=chunk, algorithms=TALLY), f"job.executor={executor}",
                     f"job.workers={workers}")
    assert report["status"] == "ok"
    assert report["events"] == report_ref["events"]
    assert report["decisions"] == report_ref["decisions"]
    root_ref, h5_ref, hist_ref = collect(ref_out)
    root, h5, hists = collect(out)
    assert root["event"] == root_ref["event"] and len(root["event"]) == report["decisions"]["Selected"]
    assert root == root_ref
    assert h5 == h5_ref and h5["event"] == list(range(60))
    assert hists == hist_ref and len(hists) == 2
    tally = report["accumulators"]["Tally"]
    assert tally == report_ref["accumulators"]["Tally"]
    assert tally["events"]["value"] == 60 and tally["above90"]["passed"] == report["decisions"]["SumPtFilter"]
    assert [r["event"] for r in tally["high"]["records"]] == [e for e, s in zip(h5["event"], h5["SumPt"])
                                                              if round(s * 4) / 4 > 150]
    with open(os.path.join(out, "report.json")) as f:
        written = json.load(f)
    assert written["executor"]["name"] == executor
    assert written["events"]["read"] == 60


def test_worker_crash_is_retried_then_job_completes(toy_job, tmp_path):
    out = str(tmp_path / "crash")
    marker = tmp_path / "crashed"
    extra = f"""  - type: Crasher
    event: 33
    marker: {marker}
"""
    path = toy_job(out, evt_max=60, chunk_size=10, algorithms=extra)
    report = run_job(path, "job.executor=processes", "job.workers=2")
    assert marker.exists(), "the crasher did kill a worker"
    assert report["status"] == "ok" and report["events"]["read"] == 60
    assert hdf5_stream(out, "H5")["event"] == list(range(60))
    retried = {r["index"]: r for r in report["retried_items"]}
    assert 3 in retried and (retried[3]["first"], retried[3]["last"]) == (30, 40)
    for entry in retried.values():  # the crashing item, and any that shared the pool when it died
        assert entry["attempts"] == len(entry["reasons"]) + 1 >= 2
        assert all("worker process died" in reason for reason in entry["reasons"])
    with open(os.path.join(out, "report.json")) as f:
        assert json.load(f)["retried_items"] == report["retried_items"]


def test_worker_that_always_dies_is_reported(toy_job, tmp_path):
    out = str(tmp_path / "dies")
    extra = """  - type: Crasher
    event: 33
"""
    path = toy_job(out, evt_max=40, chunk_size=10, algorithms=extra)
    report = run_job(path, "job.executor=processes", "job.workers=2", "job.max_retries=1")
    assert report["status"] == "incomplete"
    assert [(f["index"], f["first"], f["attempts"]) for f in report["failed_items"]] == [(3, 30, 2)]
    assert [r["index"] for r in report["retried_items"] if r["reasons"][-1] == "its worker process died"] == [3]
    assert report["events"]["read"] == 30


def item_events(item):
    """A picklable work function for the pool: the item's number of events."""
    return item.n_events


def test_process_pool_draws_the_items_as_workers_free_up_not_all_at_once():
    from hepreco.framework.executors import ProcessExecutor
    from hepreco.framework.io.source import WorkItem

    drawn = []

    def items():
        for i in range(8):
            drawn.append(i)
            yield WorkItem(i, "ToySource", None, 0, i + 1)

    with ProcessExecutor(workers=1) as executor:
        results = executor.run(item_events, items())
        first = next(results)
        assert len(drawn) <= 3  # two in flight per worker, and the next one looked at
        rest = list(results)
    assert sorted([first, *rest]) == list(range(1, 9)) and drawn == list(range(8))


def _worker_settings():
    import dask

    return (dask.config.get("distributed.worker.profile.enabled"), dask.config.get("distributed.admin.tick.interval"),
            dask.config.get("distributed.admin.system-monitor.interval"))


def test_dask_workers_run_without_the_task_profiler_and_poll_their_monitors_slowly():
    from hepreco.framework.executors import DaskExecutor

    executor = DaskExecutor(workers=1)
    try:
        executor._connect()
        settings = executor.client.run(_worker_settings)
    finally:
        executor.close()
    # the profiler sampling the task thread every 10 ms, and monitors every 20-500 ms, cost the tasks the GIL
    assert list(settings.values()) == [(False, "1s", "2s")]
