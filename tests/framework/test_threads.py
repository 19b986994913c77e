"""The job's threading policy (job.threads) reaches the libraries in every process that runs work items."""
import pytest

from hepreco.framework import threads as policy

from ..conftest import run_job
from .outputs import hdf5_stream

PROBE = """  - type: ThreadProbe
"""


@pytest.fixture
def keep_numba_threads():
    """Restore this process's numba thread count after a job ran in-process."""
    numba = pytest.importorskip("numba")
    before = numba.get_num_threads()
    yield
    policy.apply(before)


def probe_job(toy_job, out):
    """The toy job with ThreadProbe, whose per-event thread counts the H5 stream writes."""
    path = toy_job(out, evt_max=40, chunk_size=10, algorithms=PROBE)
    with open(path) as f:
        text = f.read()
    text = text.replace("    name: H5\n    collections: [HardParticles, SumPt, SmearedVector, Vector]",
                        "    name: H5\n    collections: [SumPt, NumbaThreads, NumbaPoolSize]")
    with open(path, "w") as f:
        f.write(text)
    return path


@pytest.mark.parametrize("executor,workers", [("sequential", 1), ("processes", 2), ("dask", 2)])
def test_job_threads_is_the_numba_thread_count_where_items_run(toy_job, tmp_path, keep_numba_threads,
                                                                 executor, workers):
    out = str(tmp_path / "run")
    report = run_job(probe_job(toy_job, out), f"job.executor={executor}", f"job.workers={workers}",
                     "job.threads=1")
    assert report["status"] == "ok"
    seen = hdf5_stream(out, "H5")
    assert seen["NumbaThreads"] == [1] * 40
    if executor != "sequential":
        # keep_numba_threads started numba's pool in this process, so the workers were spawned, not forked
        # (test_worker_start): they get the policy in their environment before numba is imported, a pool of one
        assert seen["NumbaPoolSize"] == [1] * 40
    assert report["threads"]["setting"] == 1 and report["threads"]["per_worker"] == 1
    applied = report["threads"]["applied"]  # every library registered in this process (numba; torch once imported)
    assert len(applied) == 1 and applied[0]["numba"] == 1 and set(applied[0].values()) == {1}


def test_default_threads_share_the_cores_among_workers(toy_job, tmp_path, monkeypatch):
    monkeypatch.setattr(policy, "usable_cores", lambda: 8)
    out = str(tmp_path / "run")
    report = run_job(toy_job(out, evt_max=20, chunk_size=10), "job.executor=processes", "job.workers=2")
    assert report["threads"] == {"setting": 0, "per_worker": 4, "usable_cores": 8, "applied": [{"threads": 4}]}


def test_resolve_threads_per_worker(monkeypatch):
    monkeypatch.setattr(policy, "usable_cores", lambda: 2)
    assert policy.resolve(0, 1) == 2
    assert policy.resolve(0, 2) == 1
    assert policy.resolve(0, 3) == 1  # at least one
    assert policy.resolve(3, 2) == 3  # an explicit setting wins


def test_applier_registered_after_the_policy_is_applied_at_once(monkeypatch):
    monkeypatch.setattr(policy, "_appliers", {})
    monkeypatch.setattr(policy, "_state", {})
    monkeypatch.setattr(policy, "_threads", None)
    calls = []
    policy.apply(3)
    policy.register("lib", lambda n: calls.append(n) or n)
    assert calls == [3]
    policy.apply(3)  # unchanged in this thread: not applied again
    assert calls == [3]
    policy.apply(2)
    assert calls == [3, 2] and policy.state() == {"threads": 2, "lib": 2}


def test_threads_flag_of_hepreco_run_reaches_the_report(toy_job, tmp_path, keep_numba_threads):
    import json

    from hepreco.framework.cli import main

    out = tmp_path / "cli"
    assert main(["run", toy_job(str(out), evt_max=20, chunk_size=10, algorithms=PROBE), "--threads", "1",
                 "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["job"]["threads"] == 1
    applied = report["threads"]["applied"]  # every library registered in this process (numba; torch once imported)
    assert len(applied) == 1 and applied[0]["numba"] == 1 and set(applied[0].values()) == {1}


def test_negative_threads_is_refused_with_the_setting_named(toy_job, tmp_path):
    from hepreco.framework.errors import PropertyError

    with pytest.raises(PropertyError, match=r"threads.*>= 0"):
        run_job(toy_job(str(tmp_path / "bad")), "job.threads=-1")
