"""Per-event random streams for numba kernels.

Every kernel that needs random numbers receives one 64-bit seed per event
(``seeds: uint64[n_events]``, derived by the framework from the global seed,
run, event number and component name).  Inside the kernel each event gets its
own small generator state, so an event's draws depend only on its seed: never
on the chunk it was processed in, on the other events of the chunk or on the
number of threads.

Generator
---------
*xoroshiro128++* (Blackman & Vigna 2019, 128-bit state, period 2**128 - 1),
seeded through *splitmix64* from ``seed`` mixed with a per-kernel ``stream``
constant, so that two kernels given the same event seed still draw
uncorrelated numbers.

splitmix64 has one home, :mod:`hepreco.framework.services.random`, which
derives the per-event seeds of a job with it.  The framework imports no
numba, so its mixing step (:func:`~hepreco.framework.services.random.splitmix64_mix`,
written with operators only) is compiled here by numba as :func:`splitmix64`
for the kernels: one definition, two compilations, identical numbers (a
test compares them).

The state is a ``uint64[2]`` array made by :func:`new_state`; the draw
functions advance it in place.  All functions are numba kernels (call them
from other kernels); :func:`standalone_seeds` and :func:`uniform_array` are the
Python-facing helpers, mainly for tests and calibration jobs.

Draws
-----
``next_u64``, ``uniform`` (open interval (0, 1)), ``normal`` and
``normal_pair`` (Doornik's ziggurat), ``fill_normal`` (the same sequence
into an array, with the state kept in registers: for dense noise),
``exponential``, ``gamma`` (Marsaglia & Tsang, with the ``k < 1`` boost),
``beta`` (two gammas), ``poisson`` (multiplication for small means,
Hormann's PTRS above 10), ``moyal`` (a Landau-like law with finite mean).
``xoroshiro_step`` exposes the raw step on a state held in two scalars.

Reproducibility: the bit streams are fixed by this module's code alone (no
numpy generator is involved), so they do not change with the numpy version;
draws that go through ``log``/``exp`` can differ in the last bits where a
platform's maths library does.
"""
from __future__ import annotations

import math

import numpy as np

from hepreco.framework.services.random import GOLDEN as _GOLDEN
from hepreco.framework.services.random import splitmix64_mix

from ._numba import jit

_S11 = np.uint64(11)
_S17 = np.uint64(17)
_S21 = np.uint64(21)
_S28 = np.uint64(28)
_S49 = np.uint64(49)
_S64 = np.uint64(64)
_ZERO = np.uint64(0)
_ONE = np.uint64(1)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53

#: Mean of the standard Moyal distribution (Euler gamma + ln 2).
MOYAL_MEAN = 0.5772156649015329 + math.log(2.0)


#: One splitmix64 output for a uint64 input (a bijective mixer), for kernels.
splitmix64 = jit(splitmix64_mix)


@jit
def _rotl(x, k):
    return (x << k) | (x >> (_S64 - k))


@jit
def seed_state(state, seed, stream):
    """Initialise ``state`` (``uint64[2]``) from an event seed and a stream id."""
    x = splitmix64(np.uint64(seed) ^ splitmix64(np.uint64(stream)))
    s0 = splitmix64(x)
    s1 = splitmix64(x + _GOLDEN)
    if s0 == _ZERO and s1 == _ZERO:  # the one forbidden state
        s1 = _ONE
    state[0] = s0
    state[1] = s1


@jit
def new_state(seed, stream):
    """A fresh ``uint64[2]`` generator state for one event and one stream."""
    state = np.empty(2, dtype=np.uint64)
    seed_state(state, seed, stream)
    return state


@jit
def xoroshiro_step(s0, s1):
    """One xoroshiro128++ step on a state held in two scalars.

    Returns ``(output, new_s0, new_s1)``; for tight loops that keep the
    state in registers (see :func:`fill_normal`).
    """
    result = _rotl(s0 + s1, _S17) + s0
    s1 ^= s0
    return result, _rotl(s0, _S49) ^ s1 ^ (s1 << _S21), _rotl(s1, _S28)


@jit
def next_u64(state):
    """Next 64 random bits (xoroshiro128++)."""
    result, s0, s1 = xoroshiro_step(state[0], state[1])
    state[0] = s0
    state[1] = s1
    return result


@jit
def uniform(state):
    """Uniform double in the open interval (0, 1), 53 random bits."""
    return (np.float64(next_u64(state) >> _S11) + 0.5) * _INV53


@jit
def exponential(state):
    """Exponential variate with unit mean."""
    return -math.log(uniform(state))


def _ziggurat_tables(n_layers=128, r=3.442619855899, v=9.91256303526217e-3):
    """Layer edges x[0..n] and ratios x[i+1]/x[i] of Doornik's ZIGNOR."""
    x = np.zeros(n_layers + 1)
    f = math.exp(-0.5 * r * r)
    x[0] = v / f
    x[1] = r
    for i in range(2, n_layers):
        x[i] = math.sqrt(-2.0 * math.log(v / x[i - 1] + f))
        f = math.exp(-0.5 * x[i] * x[i])
    ratio = x[1:] / x[:-1]
    return x, ratio


_ZIG_X, _ZIG_RATIO = _ziggurat_tables()
_ZIG_R = 3.442619855899
_ZIG_MASK = np.uint64(0x7F)


@jit
def _normal_tail(state, negative):
    while True:
        x = math.log(uniform(state)) / _ZIG_R
        y = math.log(uniform(state))
        if -2.0 * y >= x * x:
            return x - _ZIG_R if negative else _ZIG_R - x


@jit
def _normal_slow(state, u, i):
    """Wedge and tail of the ziggurat, after a rejected fast-path draw."""
    while True:
        if i == 0:
            return _normal_tail(state, u < 0.0)
        x = u * _ZIG_X[i]
        f0 = math.exp(-0.5 * (_ZIG_X[i] * _ZIG_X[i] - x * x))
        f1 = math.exp(-0.5 * (_ZIG_X[i + 1] * _ZIG_X[i + 1] - x * x))
        if f1 + uniform(state) * (f0 - f1) < 1.0:
            return x
        bits = next_u64(state)
        u = 2.0 * ((np.float64(bits >> _S11) + 0.5) * _INV53) - 1.0
        i = np.int64(bits & _ZIG_MASK)
        if abs(u) < _ZIG_RATIO[i]:
            return u * _ZIG_X[i]


@jit
def normal(state):
    """One standard normal variate (ziggurat, Doornik's ZIGNOR, 128 layers).

    One 64-bit draw per variate in about 99% of the cases: the top 53 bits
    give the abscissa, the lowest 7 bits (independent of them) the layer.
    """
    bits = next_u64(state)
    u = 2.0 * ((np.float64(bits >> _S11) + 0.5) * _INV53) - 1.0
    i = np.int64(bits & _ZIG_MASK)
    if abs(u) < _ZIG_RATIO[i]:
        return u * _ZIG_X[i]
    return _normal_slow(state, u, i)


@jit
def fill_normal(state, out):
    """Fill ``out`` with standard normal variates.

    The same sequence as ``out[i] = normal(state)`` in a loop, about twice
    as fast: the generator state stays in registers on the fast path.
    """
    s0 = state[0]
    s1 = state[1]
    for k in range(out.shape[0]):
        bits, s0, s1 = xoroshiro_step(s0, s1)
        u = 2.0 * ((np.float64(bits >> _S11) + 0.5) * _INV53) - 1.0
        i = np.int64(bits & _ZIG_MASK)
        if abs(u) < _ZIG_RATIO[i]:
            out[k] = u * _ZIG_X[i]
        else:
            state[0] = s0
            state[1] = s1
            out[k] = _normal_slow(state, u, i)
            s0 = state[0]
            s1 = state[1]
    state[0] = s0
    state[1] = s1


@jit
def normal_pair(state):
    """Two independent standard normal variates."""
    z0 = normal(state)
    z1 = normal(state)
    return z0, z1


@jit
def gamma(state, k):
    """Gamma variate with shape ``k > 0`` and unit scale (mean ``k``).

    Marsaglia & Tsang (2000) squeeze method; for ``k < 1`` the
    ``G(k + 1) * U**(1/k)`` boost.
    """
    if k <= 0.0:
        return 0.0
    boost = 1.0
    if k < 1.0:
        boost = uniform(state) ** (1.0 / k)
        k = k + 1.0
    d = k - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = normal(state)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform(state)
        x2 = x * x
        if u < 1.0 - 0.0331 * x2 * x2:
            return d * v * boost
        if math.log(u) < 0.5 * x2 + d * (1.0 - v + math.log(v)):
            return d * v * boost


@jit
def beta(state, a, b):
    """Beta(a, b) variate from two gamma variates."""
    x = gamma(state, a)
    y = gamma(state, b)
    s = x + y
    if s <= 0.0:
        return a / (a + b)
    return x / s


@jit
def poisson(state, lam):
    """Poisson variate with mean ``lam`` (returned as int64).

    Multiplication method for ``lam < 10``; above, the transformed rejection
    method with squeeze (PTRS) of W. Hormann (1993), as in numpy.
    """
    if lam <= 0.0:
        return 0
    if lam < 10.0:
        limit = math.exp(-lam)
        k = 0
        prod = uniform(state)
        while prod > limit:
            k += 1
            prod *= uniform(state)
        return k
    slam = math.sqrt(lam)
    loglam = math.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    while True:
        u = uniform(state) - 0.5
        v = uniform(state)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + lam + 0.43)
        if us >= 0.07 and v <= vr:
            return np.int64(k)
        if k < 0.0 or (us < 0.013 and v > us):
            continue
        if (math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)
                <= -lam + k * loglam - math.lgamma(k + 1.0)):
            return np.int64(k)


@jit
def moyal(state):
    """Standard Moyal variate ``-ln(Z**2)``, Z standard normal.

    A Landau-like law (long upper tail) with finite mean :data:`MOYAL_MEAN`
    and variance pi**2 / 2; ``mpv + width * moyal(state)`` models an
    ionisation-loss fluctuation with most probable value ``mpv``.
    """
    z = normal(state)
    z2 = z * z
    if z2 < 1e-300:
        z2 = 1e-300
    return -math.log(z2)


@jit
def _standalone_seeds(base, first, n, stream):
    out = np.empty(n, dtype=np.uint64)
    key = splitmix64(np.uint64(base) ^ splitmix64(np.uint64(stream)))
    for i in range(n):
        out[i] = splitmix64(key + splitmix64(np.uint64(first + i)))
    return out


def standalone_seeds(base_seed, n_events, first_event=0, stream=0):
    """Per-event seeds for ``n_events`` consecutive events (tests, calibration).

    In a job the framework derives the seeds from (global seed, run, event,
    component) with :func:`hepreco.framework.services.random.event_seeds`;
    this helper gives an equivalent, reproducible set (other numbers) for
    stand-alone use outside a job.

    Parameters
    ----------
    base_seed : int
        Non-negative 64-bit base seed.
    n_events : int
        Number of events.
    first_event : int, optional
        Index of the first event; seeds of event ``i`` do not depend on
        ``n_events`` or ``first_event`` other than through ``i``.
    stream : int, optional
        Extra key separating independent uses of the same base seed.

    Returns
    -------
    numpy.ndarray
        ``uint64[n_events]``.
    """
    if base_seed < 0 or first_event < 0 or stream < 0:
        raise ValueError("base_seed, first_event and stream must be non-negative")
    return _standalone_seeds(np.uint64(base_seed), np.int64(first_event),
                             np.int64(n_events), np.uint64(stream))


@jit
def _uniform_array(seed, stream, n):
    state = new_state(seed, stream)
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        out[i] = uniform(state)
    return out


def uniform_array(seed, n, stream=0):
    """``n`` uniform doubles from one stream (for tests of the generator)."""
    return _uniform_array(np.uint64(seed), np.uint64(stream), np.int64(n))
