"""Killing and stopping a running job: no orphaned workers; SIGTERM and Ctrl-C stop cleanly and resume."""
import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from hepreco.framework.cli import main

from .outputs import hdf5_stream

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads processes from /proc (Linux)")

SLOW = "  - {type: Sleep, seconds: 0.3}\n"


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid``."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                parents[int(entry)] = st[1]
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        found += kids
        todo += kids
    return found


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] not in "ZX"  # a zombie has exited


def _start(path: str, log) -> subprocess.Popen:
    # a session of its own: Ctrl-C on a terminal signals the whole process group, as killpg does here
    # SIGINT as a terminal gives it: a test run started in the background (`cmd &`, nohup, some CI runners)
    # inherits SIGINT ignored, and a Python started so keeps ignoring it
    return subprocess.Popen([sys.executable, "-m", "hepreco.framework.cli", "run", path, "--executor", "processes",
                             "--workers", "2"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_parts(out: str, n: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while len(glob.glob(os.path.join(out, "H5", "part-*.h5"))) < n:
        assert proc.poll() is None, "the job ended before it could be stopped"
        assert time.monotonic() < deadline, "the job wrote no parts in time"
        time.sleep(0.1)
    assert proc.poll() is None, "the job ended before it could be stopped (the test looked too late)"


def _kill_all(pids) -> None:
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_workers_exit_when_the_main_process_is_killed(toy_job, tmp_path):
    out = str(tmp_path / "out")
    path = toy_job(out, evt_max=400, chunk_size=10, algorithms=SLOW)
    workers = []
    with open(tmp_path / "log", "w") as log:
        proc = _start(path, log)
        try:
            _wait_for_parts(out, 2, proc)
            workers = _children(proc.pid)
            assert len(workers) >= 2, "the pool has started its workers"
            proc.kill()
            proc.wait(timeout=30)
            deadline = time.monotonic() + 10
            while any(_alive(p) for p in workers) and time.monotonic() < deadline:
                time.sleep(0.1)
            left = [p for p in workers if _alive(p)]
            assert not left, f"worker processes {left} outlived the killed main process"
            parts = sorted(os.listdir(os.path.join(out, "H5")))
            time.sleep(1.0)
            assert sorted(os.listdir(os.path.join(out, "H5"))) == parts, "nothing is written after the kill"
            assert len([p for p in parts if p.endswith(".h5")]) < 40
        finally:
            proc.kill()
            proc.wait(timeout=30)
            _kill_all(workers)


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "ctrl-c"])
def test_sigterm_and_ctrl_c_stop_cleanly_write_the_report_and_resume(toy_job, tmp_path, signum, code):
    out = str(tmp_path / "out")
    path = toy_job(out, evt_max=400, chunk_size=10, algorithms=SLOW)  # 40 items of 0.3 s: 6 s on two workers
    workers = []
    with open(tmp_path / "log", "w") as log:
        proc = _start(path, log)
        try:
            _wait_for_parts(out, 2, proc)
            workers = _children(proc.pid)
            if signum == signal.SIGINT:
                os.killpg(proc.pid, signum)  # as a terminal's Ctrl-C: the main process and its workers
            else:
                proc.send_signal(signum)  # as a batch system or `kill`: the main process only
            assert proc.wait(timeout=60) == 128 + signum == code
            deadline = time.monotonic() + 10
            while any(_alive(p) for p in workers) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not [p for p in workers if _alive(p)], "the pool was shut down"
        finally:
            proc.kill()
            proc.wait(timeout=30)
            _kill_all(workers)
    text = (tmp_path / "log").read_text()
    assert "Traceback" not in text
    name = signal.Signals(signum).name
    assert f"hepreco: interrupted by {name}; what completed is recorded in {out}/report.json; " \
           "rerun with --resume to continue" in text
    assert "hepreco: job 'toy' interrupted" in text
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    assert report["status"] == "interrupted"
    assert report["interrupted"] == ("stopped by SIGTERM" if signum == signal.SIGTERM else "KeyboardInterrupt")
    assert 2 <= report["items"]["completed"] < report["items"]["total"] == 40
    assert report["events"]["read"] == 10 * report["items"]["completed"]

    assert main(["run", path, "--resume", "--quiet", "--executor", "processes", "--workers", "2"]) == 0
    with open(os.path.join(out, "report.json")) as f:
        resumed = json.load(f)
    assert resumed["status"] == "ok" and resumed["items"]["resumed"] == report["items"]["completed"]
    assert hdf5_stream(out, "H5")["event"] == list(range(400))
