"""The allocator policy (job.malloc): large blocks freed by one chunk are reused by the next, not faulted in again."""
import json
import subprocess
import sys
import textwrap

import pytest

from hepreco.framework import allocator

from ..conftest import run_job

glibc = pytest.mark.skipif(allocator._glibc_mallopt() is None, reason="the policy acts on glibc's malloc only")

#: malloc, touch and free a 40 MB block five times (as torch's CPU allocator does); print the page faults of the
#: last four rounds
FAULTS = textwrap.dedent("""
    import ctypes, resource, sys
    from hepreco.framework import allocator
    print(allocator.apply(sys.argv[1]))
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    size = 40 << 20
    def round_trip():
        block = libc.malloc(size)
        ctypes.memset(block, 1, size)
        libc.free(block)
    round_trip()  # the first round faults in the heap
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(4):
        round_trip()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def _faults(policy):
    out = subprocess.run([sys.executable, "-c", FAULTS, policy], capture_output=True, text=True, check=True)
    applied, faults = out.stdout.split()
    return applied, int(faults)


@glibc
def test_reuse_keeps_a_freed_large_block_for_the_next_allocation():
    applied, system = _faults("system")
    # glibc maps a block above 32 MB afresh every round: a fault per page (per 2 MB with transparent huge pages)
    assert applied == "system" and system >= 4 * (40 << 20) // (2 << 20)
    applied, reuse = _faults("reuse")
    assert applied == "reuse" and reuse < system / 10  # kept in the heap: next to no faults after the first round


def test_the_first_policy_of_a_process_stays(monkeypatch):
    monkeypatch.setattr(allocator, "_applied", None)
    assert allocator.apply("system") == "system"
    assert allocator.apply("reuse") == "system" and allocator.state() == "system"
    with pytest.raises(ValueError, match=r"malloc policy 'fast' is not one of reuse, system"):
        allocator.apply("fast")


@glibc
def test_a_job_applies_its_policy_and_the_report_records_it(toy_job, tmp_path):
    first = run_job(toy_job(str(tmp_path / "run"), evt_max=20, chunk_size=10))
    assert first["status"] == "ok"
    assert first["malloc"] == {"setting": "reuse", "applied": ["reuse"]}
    # a new process for the other policy (the first policy of a process stays)
    out = tmp_path / "system"
    subprocess.run([sys.executable, "-m", "hepreco.framework.cli", "run",
                    toy_job(str(out), evt_max=20, chunk_size=10), "--set", "job.malloc=system",
                    "--set", "job.executor=processes", "--set", "job.workers=2", "--quiet"], check=True)
    report = json.loads((out / "report.json").read_text())
    assert report["malloc"] == {"setting": "system", "applied": ["system"]}
    assert report["physics_hash"] == first["physics_hash"]  # an execution setting: the physics is the same


def test_an_unknown_policy_is_refused_with_the_choices(toy_job, tmp_path):
    from hepreco.framework.errors import PropertyError

    with pytest.raises(PropertyError, match=r"malloc.*'fast' is not one of"):
        run_job(toy_job(str(tmp_path / "bad")), "job.malloc=fast")
