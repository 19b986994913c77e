"""The kernels' splitmix64 is the framework's, compiled by numba: same numbers."""
import numpy as np

from hepreco.algorithms import _random
from hepreco.algorithms._numba import jit
from hepreco.framework.services.random import splitmix64


@jit
def _kernel_splitmix64(values):
    out = np.empty_like(values)
    for i in range(values.shape[0]):
        out[i] = _random.splitmix64(values[i])
    return out


def test_kernel_splitmix64_equals_the_framework_one():
    rng = np.random.default_rng(7)
    edges = np.array([0, 1, 2**31 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1], dtype=np.uint64)
    values = np.concatenate([edges, rng.integers(0, 2**64, 10_000, dtype=np.uint64, endpoint=False)])
    kernel = _kernel_splitmix64(values)
    assert kernel.dtype == np.uint64
    np.testing.assert_array_equal(kernel, splitmix64(values))


def test_splitmix64_known_values():
    # the first outputs of the reference splitmix64 generator seeded with 0
    # (Vigna's splitmix64.c: state += golden gamma, then this finaliser)
    golden = np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        states = np.array([0, golden, golden * np.uint64(2)], dtype=np.uint64)
    np.testing.assert_array_equal(
        splitmix64(states),
        np.array([0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F], dtype=np.uint64))
