"""Error policies in a whole job: the report names failing events, other events are intact."""
import pytest

from hepreco.framework import JobAborted

from ..conftest import run_job
from .outputs import hdf5_stream, histograms


def exploder(policy, events):
    return f"  - {{type: Exploder, on_error: {policy}, bad_events: {events}}}\n"


def test_skip_event_job_completes_and_names_the_event(toy_job, tmp_path):
    ref = str(tmp_path / "ref")
    run_job(toy_job(ref, evt_max=40, chunk_size=10, algorithms=exploder("skip_event", [])))
    out = str(tmp_path / "skip")
    report = run_job(toy_job(out, evt_max=40, chunk_size=10, algorithms=exploder("skip_event", [17])))
    assert report["status"] == "ok"
    assert report["events"] == {"read": 40, "accepted": report["events"]["accepted"], "failed": 1, "processed": 40}
    [err] = report["errors"]
    assert err["algorithm"] == "Exploder" and err["events"] == [[1, 17]] and err["policy"] == "skip_event"
    assert "cannot handle event 17" in err["message"]
    ref_h5, h5 = hdf5_stream(ref, "H5"), hdf5_stream(out, "H5")
    keep = [i for i, e in enumerate(ref_h5["event"]) if e != 17]
    assert h5["event"] == [e for e in range(40) if e != 17]
    for key in ("HardParticles", "SumPt", "Vector"):
        assert h5[key] == [ref_h5[key][i] for i in keep]
    # the failing event is not in the exploder's histogram, every other event is
    ref_values, values = histograms(ref)["Exploder/sumpt"][0], histograms(out)["Exploder/sumpt"][0]
    assert sum(ref_values) - sum(values) == 1
    # the same for its accumulators: what the failing call counted is rolled back
    assert report["accumulators"]["Exploder"]["events"] == {"kind": "counter", "value": 39}


def test_skip_chunk_drops_the_chunk_only(toy_job, tmp_path):
    out = str(tmp_path / "chunk")
    report = run_job(toy_job(out, evt_max=40, chunk_size=10, algorithms=exploder("skip_chunk", [17])))
    assert report["status"] == "ok" and report["events"]["failed"] == 10
    assert hdf5_stream(out, "H5")["event"] == [*range(10), *range(20, 40)]


@pytest.mark.parametrize("executor", ["sequential", "processes"])
def test_abort_stops_the_job_with_a_clear_message(toy_job, tmp_path, executor):
    out = str(tmp_path / "abort")
    path = toy_job(out, evt_max=40, chunk_size=10, algorithms=exploder("abort", [17]))
    with pytest.raises(JobAborted, match=r"Exploder failed on event \(run 1, event 17\): ValueError: cannot handle "
                                         r"event 17 .*set on_error: skip_event or skip_chunk on Exploder"):
        run_job(path, f"job.executor={executor}", "job.workers=2")
    import json
    import os

    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    assert report["status"] == "aborted" and report["abort"]["events"] == [[1, 17]]
