"""Shower-shape building blocks for the fast calorimeter simulation.

Numba kernels only, called from :mod:`.simulation`:

* the regularised lower incomplete gamma function ``P(a, x)``, i.e. the
  cumulative longitudinal Gamma profile ``dE/dt ~ (b t)^(a-1) exp(-b t)``,
  so that the fraction of a shower in a depth interval is a difference of two
  ``P`` values;
* the normal cumulative distribution, tabulated (:func:`norm_cdf_fast`);
* the 1-D cell weights of a Gaussian lateral component over a row of cells,
  from which a separable (eta x phi) two-dimensional deposit is built (with
  a tabulated normal CDF: exact conservation, shape error below 1e-7).
"""
from __future__ import annotations

import math

import numpy as np

from .._numba import jit

_TINY = 1e-300
_EPS = 1e-15
_MAX_ITER = 1000


@jit
def gammainc_lower(a, x):
    """Regularised lower incomplete gamma function P(a, x), ``a > 0``.

    Series expansion for ``x < a + 1``, Lentz continued fraction for the
    complement above (Numerical Recipes ``gammp``); relative accuracy about
    1e-14.  ``P(a, x) = 0`` for ``x <= 0``.
    """
    if x <= 0.0:
        return 0.0
    log_prefactor = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1.0:
        term = 1.0 / a
        total = term
        ap = a
        for _ in range(_MAX_ITER):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * _EPS:
                break
        return min(1.0, total * math.exp(log_prefactor))
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITER):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < _TINY:
            d = _TINY
        c = b + an / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return max(0.0, 1.0 - math.exp(log_prefactor) * h)


def _cdf_table(limit=8.0, n=8192):
    x = np.linspace(-limit, limit, n + 1)
    table = np.array([0.5 * math.erfc(-v / math.sqrt(2.0)) for v in x])
    table[0] = 0.0
    table[-1] = 1.0
    return table


#: The normal CDF on [-8, 8] in 8192 steps, for :func:`norm_cdf_fast`.
_CDF_LIMIT = 8.0
_CDF_TABLE = _cdf_table(_CDF_LIMIT, 8192)
_CDF_SCALE = 8192 / (2 * _CDF_LIMIT)
_CDF_N = 8192


@jit
def norm_cdf_fast(x):
    """Normal CDF by linear interpolation in a table (error below 1e-7).

    Monotone, exactly 0 below -8 and 1 above 8: differences of it are
    non-negative cell weights that telescope exactly.
    """
    t = (x + _CDF_LIMIT) * _CDF_SCALE
    if not t > 0.0:
        return 0.0
    if t >= _CDF_N:
        return 1.0
    i = np.int64(t)
    f = t - i
    return _CDF_TABLE[i] + f * (_CDF_TABLE[i + 1] - _CDF_TABLE[i])


@jit
def gaussian_cell_weights(centre, sigma, first_edge, width, n, open_low, open_high,
                          out):
    """Fractions of a 1-D Gaussian falling in ``n`` adjacent cells.

    Parameters
    ----------
    centre, sigma : float
        Mean and standard deviation (same unit as the edges; ``sigma > 0``).
    first_edge, width : float
        Lower edge of the first cell and the common cell width.
    n : int
        Number of cells.
    open_low, open_high : bool
        When true the first (last) cell also collects the tail below (above)
        the window, so that nothing is lost at that end.
    out : float64 array
        ``out[:n]`` receives the weights; they sum to 1 when both ends are
        open.
    """
    inv = 1.0 / sigma
    previous = 0.0 if open_low else norm_cdf_fast((first_edge - centre) * inv)
    for i in range(n):
        if i == n - 1 and open_high:
            upper = 1.0
        else:
            upper = norm_cdf_fast((first_edge + (i + 1) * width - centre) * inv)
        out[i] = upper - previous
        previous = upper
