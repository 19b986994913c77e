"""Sliding windows on a tower grid: 2 x 2 core sums and the local-maximum condition.

Both Level-1 algorithms (EM/tau on towers, jets on jet elements) slide a
window over a grid periodic in phi and find each object once, at the window
whose 2 x 2 *core* sum is a local maximum among the 8 overlapping cores
around it.

A core is named by its lower-left cell ``(i, j)``: it covers ``i, i + 1`` in
eta and ``j, j + 1`` (mod ``n_j``) in phi.  Cores start at ``i = 0 ...
n_i - 2`` (every core lies inside the grid in eta); phi wraps.

Local maximum and ties
----------------------
The core at ``(i, j)`` with sum ``C`` is a local maximum when ``C > 0`` and,
for each neighbouring core ``(i + di, j + dj)`` (``di, dj`` in -1, 0, 1, not
both 0, skipping neighbours outside ``0 <= i + di <= n_i - 2``):

* ``C >  C(i + di, j + dj)`` for the four neighbours *before* it,
  ``(di, dj)`` in ``(-1, -1), (-1, 0), (-1, 1), (0, -1)``;
* ``C >= C(i + di, j + dj)`` for the four *after* it,
  ``(0, 1), (1, -1), (1, 0), (1, 1)``.

Of two neighbouring cores with equal sums, only the one with the smaller eta
index (or, at equal eta index, the smaller phi index, counted from its
neighbour) can be a maximum: a plateau of equal cores gives exactly one
object, at its first core in (eta, phi) order.  (A plateau closing around the
whole phi circle, where "first" is undefined, gives none; trigger hardware
has the same blind spot.)

The algorithms test every core at once on a *padded* core array
(:func:`pad_cores`, :func:`local_maxima`): the cores with a copy of the last
and first phi columns on either side and a row of zeros below and above in
eta.  A zero neighbour never stops a core with ``C > 0``, exactly as a
neighbour outside the grid is skipped, so the test needs no bounds or wrap
arithmetic and runs as straight-line comparisons over whole rows.
"""
from __future__ import annotations

import numpy as np

from .._numba import jit


@jit
def core_sum(grid, i, j):
    """Sum of the 2 x 2 core with lower-left cell (i, j) of ``grid[n_i, n_j]`` (phi wraps)."""
    n_j = grid.shape[1]
    j1 = (j + 1) % n_j
    return np.int64(grid[i, j]) + grid[i + 1, j] + grid[i, j1] + grid[i + 1, j1]


@jit
def core_sums(grid):
    """All core sums: ``int64[n_i - 1, n_j]`` (empty when ``n_i < 2``)."""
    n_i, n_j = grid.shape
    out = np.zeros((max(n_i - 1, 0), n_j), dtype=np.int64)
    for i in range(n_i - 1):
        for j in range(n_j):
            out[i, j] = core_sum(grid, i, j)
    return out


@jit
def is_local_max(cores, i, j):
    """Whether core (i, j) of ``cores[n_i - 1, n_j]`` is a local maximum (module docstring)."""
    n_c, n_j = cores.shape
    c = cores[i, j]
    if c <= 0:
        return False
    for di in range(-1, 2):
        ii = i + di
        if ii < 0 or ii >= n_c:
            continue
        for dj in range(-1, 2):
            if di == 0 and dj == 0:
                continue
            other = cores[ii, (j + dj) % n_j]
            before = di < 0 or (di == 0 and dj < 0)
            if before:
                if c <= other:
                    return False
            elif c < other:
                return False
    return True


@jit
def window_sum(grid, i, j, lo, hi):
    """Sum of ``grid`` over eta ``i + lo .. i + hi`` and phi ``j + lo .. j + hi`` (wrapped); eta outside is 0."""
    n_i, n_j = grid.shape
    first = max(i + lo, 0)
    stop = min(i + hi + 1, n_i)
    total = np.int64(0)
    for jj in range(j + lo, j + hi + 1):
        column = jj % n_j  # one wrap per column, not per cell
        for ii in range(first, stop):
            total += grid[ii, column]
    return total


@jit
def set_core_row(padded, i, column):
    """Cores of eta row ``i`` into ``padded[i + 1, 1:n_j + 1]`` from ``column``: per phi cell, the sum over rows ``i``
    and ``i + 1`` of the grid(s), with one spare entry at ``n_j`` (set here to ``column[0]``: phi wraps)."""
    n_j = column.shape[0] - 1
    column[n_j] = column[0]
    row = padded[i + 1]
    for j in range(n_j):  # a straight pass that vectorises
        row[j + 1] = column[j] + column[j + 1]


@jit
def pad_cores(padded):
    """Complete ``padded[n_c + 2, n_j + 2]`` whose interior ``[1:n_c + 1, 1:n_j + 1]`` holds the cores.

    Columns 0 and ``n_j + 1`` get copies of the last and first phi columns; rows 0 and ``n_c + 1`` get 0.
    """
    n_rows, n_cols = padded.shape
    n_j = n_cols - 2
    for i in range(1, n_rows - 1):
        padded[i, 0] = padded[i, n_j]
        padded[i, n_j + 1] = padded[i, 1]
    for j in range(n_cols):
        padded[0, j] = 0
        padded[n_rows - 1, j] = 0


@jit
def local_maxima(padded, min_core, mask):
    """``mask[i, j] = 1`` where core ``(i, j)`` is a local maximum of at least ``max(min_core, 1)``; return how many.

    ``padded`` is the padded core array of :func:`pad_cores`; the result equals :func:`is_local_max` on the cores.
    """
    n_c, n_j = mask.shape
    floor = max(min_core, 1)
    n = 0
    for i in range(n_c):
        below = padded[i]
        row = padded[i + 1]
        above = padded[i + 2]
        for j in range(n_j):
            c = row[j + 1]
            ok = ((c >= floor) & (c > below[j]) & (c > below[j + 1]) & (c > below[j + 2]) & (c > row[j])
                  & (c >= row[j + 2]) & (c >= above[j]) & (c >= above[j + 1]) & (c >= above[j + 2]))
            mask[i, j] = ok
            n += ok
    return n
