"""The numba policy: kernels compiled once, cached on disk, and a notice while they compile."""
import os
import subprocess
import sys

import numpy as np

from hepreco.algorithms import _numba

PROBE = ("import numpy as np; from hepreco.algorithms.calo.resolution import cone_sums; "
         "print(cone_sums(np.ones((2, 3)), np.zeros(3), np.zeros(3), np.zeros(2), np.zeros(2), 0.4))")


def _kernel(module: str):
    def add_one(x):
        return x + 1.0

    add_one.__module__ = module
    return _numba.jit(cache=False)(add_one)


def test_first_compilation_of_a_hepreco_kernel_prints_the_notice_once(monkeypatch, capsys):
    monkeypatch.setattr(_numba.NOTICE, "said", False)
    assert _kernel("someone_else.kernels")(1.0) == 2.0
    assert capsys.readouterr().err == "", "kernels of other packages are not ours to announce"
    assert _kernel("hepreco.algorithms.probe")(1.0) == 2.0
    assert _kernel("hepreco.algorithms.probe")(np.float32(1.0)) == 2.0
    assert capsys.readouterr().err == _numba.COMPILING + "\n"
    assert _numba.NOTICE.said


def test_a_later_process_loads_the_cached_kernels_without_the_notice(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}  # an empty cache of its own
    runs = [subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=300)
            for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    assert runs[0].stdout == runs[1].stdout == "[3. 3.]\n"
    assert runs[0].stderr == _numba.COMPILING + "\n"
    assert runs[1].stderr == ""
    assert any(name.endswith(".nbi") for _, _, files in os.walk(tmp_path) for name in files)


FORK_PROBE = """
import numba, numpy as np
from hepreco.framework import threads
import hepreco.algorithms._numba
threads.apply(1, start_pools=False)  # a process kept fit to fork: numba's thread count waits
print(threads.fork_hazard())
@numba.njit(parallel=True, cache=False)
def total(a):
    s = 0.0
    for i in numba.prange(a.size):
        s += a[i]
    return s
total(np.ones(8))
print(threads.fork_hazard())
"""


def test_numba_threading_layer_once_started_is_a_fork_hazard():
    proc = subprocess.run([sys.executable, "-c", FORK_PROBE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    before, after = proc.stdout.splitlines()
    assert before == "None"
    assert after.startswith("numba's ") and after.endswith("threading layer is running in this process")


FORKED_WORKER_COMPILES = """
import multiprocessing, os
from concurrent.futures import ProcessPoolExecutor
import numba, numpy as np
import hepreco.algorithms._numba
from hepreco.framework import executors

def work(n):
    @numba.njit(parallel=True, cache=False)
    def total(a):
        s = 0.0
        for i in numba.prange(a.size):
            s += a[i]
        return s

    @numba.njit(cache=False)
    def plain(a):
        return a.sum()

    return total(np.ones(n)) + plain(np.ones(n))  # a compilation after the worker's pool started

if __name__ == "__main__":
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                             initializer=executors._worker_init, initargs=(os.getpid(), 1)) as pool:
        print(pool.submit(work, 8).result())
"""


def test_a_forked_worker_compiles_kernels_after_its_thread_pool_started(tmp_path):
    # numba re-reads NUMBA_NUM_THREADS at every compilation and refuses a value changed since its pool started:
    # a forked worker keeps the client's environment
    script = tmp_path / "forked.py"
    script.write_text(FORKED_WORKER_COMPILES)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "16.0"
