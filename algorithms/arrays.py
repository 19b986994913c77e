"""Jagged awkward collections to flat numpy columns plus per-event offsets, and back.

Kernels take flat arrays plus offsets: the entries of event ``e`` are
``column[offsets[e]:offsets[e + 1]]`` and ``offsets`` is int64 of length
``n_events + 1`` starting at 0.  Plugin classes convert the jagged records of
the store with :func:`flatten_jagged` (records) or :func:`flatten_values`
(lists of numbers) and build their outputs with :func:`unflatten_jagged`.

The columns are views of the collection's buffers where awkward allows
(a packed collection read straight from the store, and no ``dtype``
conversion): kernels must treat them as read-only, like everything else read
from the store.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import awkward as ak
import numpy as np

__all__ = ["jagged_offsets", "flatten_jagged", "flatten_values", "unflatten_jagged"]


def jagged_offsets(array) -> np.ndarray:
    """int64 offsets (``n_events + 1`` entries, from 0) of the first list level of ``array``."""
    counts = ak.to_numpy(ak.num(array, axis=1))
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def _column(values, dtype):
    """A numpy array for a flat column of numbers, the awkward array for anything deeper."""
    if values.ndim != 1 or ak.fields(values):
        return values
    column = ak.to_numpy(values)
    return column if dtype is None else np.ascontiguousarray(column, dtype=dtype)


def flatten_jagged(array, fields: Iterable[str] | None = None, *, dtype=None) -> tuple[dict, np.ndarray]:
    """Flat columns of a jagged collection of records, and its per-event offsets.

    Parameters
    ----------
    array : awkward.Array
        ``n_events * var * {field: ...}`` records.
    fields : iterable of str, optional
        The fields to take, in this order (default: all of them).
    dtype : numpy dtype, optional
        Convert the numeric columns to it (e.g. ``np.float64`` for kernels);
        by default they keep their type.

    Returns
    -------
    columns : dict
        ``{field: values}`` over all events: a numpy array for a field of
        numbers, an awkward array (one list level fewer) for a field with
        deeper structure, e.g. the constituent indices of jets.
    offsets : numpy.ndarray
        int64 ``[n_events + 1]``.
    """
    names = ak.fields(array) if fields is None else list(fields)
    flat = ak.flatten(array, axis=1)
    return {name: _column(flat[name], dtype) for name in names}, jagged_offsets(array)


def flatten_values(array, *, dtype=None) -> tuple[np.ndarray, np.ndarray]:
    """Flat values of a jagged array of numbers (``n * var * number``), and its offsets.

    A deeper array (``n * var * var * number``) loses its first list level
    and stays an awkward array.
    """
    return _column(ak.flatten(array, axis=1), dtype), jagged_offsets(array)


def unflatten_jagged(columns, offsets) -> ak.Array:
    """The inverse of :func:`flatten_jagged` (a mapping of columns) and of :func:`flatten_values` (one array).

    ``offsets`` must start at 0 and end at the length of the columns.
    """
    counts = np.diff(np.asarray(offsets, dtype=np.int64))
    if isinstance(columns, Mapping):
        return ak.unflatten(ak.zip(dict(columns), depth_limit=1), counts)
    return ak.unflatten(columns, counts)
