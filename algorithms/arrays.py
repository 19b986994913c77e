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

A collection stored as awkward's plain list-offset layout over records (or
numbers), as the store's collections are, is read straight from its layout,
and flat columns of numbers are built straight into one; anything else
(lists made by indexing with an array, option types, deeper fields) goes
through awkward's functions.  Each of those costs about 50 us per call, which
for small chunks of fast kernels was most of an algorithm's time.
"""
from __future__ import annotations

import math

from collections.abc import Iterable, Mapping

import awkward as ak
import numpy as np

__all__ = ["jagged_offsets", "flatten_jagged", "flatten_values", "unflatten_jagged", "dense_values"]


def _list_offsets(array):
    """``(offsets from 0, start, stop, content)`` of a plain list-offset layout, or None for any other layout."""
    layout = array.layout if isinstance(array, ak.Array) else None
    if not isinstance(layout, ak.contents.ListOffsetArray):
        return None
    offsets = np.asarray(layout.offsets.data)
    start, stop = int(offsets[0]), int(offsets[-1])
    return offsets.astype(np.int64) - start if start else offsets.astype(np.int64, copy=True), start, stop, \
        layout.content


def dense_values(content, start: int, stop: int) -> np.ndarray | None:
    """``content[start:stop]`` as a numpy view when it holds numbers or fixed-size arrays of numbers (an image,
    a cell window: one more axis per fixed size), else None (what only awkward can convert)."""
    length, shape = content.length, []
    while isinstance(content, ak.contents.RegularArray) and not content.parameters:
        shape.append(content.size)
        content = content.content
    if not isinstance(content, ak.contents.NumpyArray) or content.parameters:
        return None
    data = np.asarray(content.data)
    count = length * math.prod(shape)  # a content may run past what the arrays use (math.prod: np.prod costs 4 us)
    return data[:count].reshape(length, *shape, *data.shape[1:])[start:stop]


def _numbers(content, start: int, stop: int, dtype):
    """``content[start:stop]`` as numpy when it is a flat column of numbers, else None."""
    column = dense_values(content, start, stop)
    if column is None or column.ndim != 1:
        return None
    return column if dtype is None else np.ascontiguousarray(column, dtype=dtype)


def jagged_offsets(array) -> np.ndarray:
    """int64 offsets (``n_events + 1`` entries, from 0) of the first list level of ``array``."""
    packed = _list_offsets(array)
    if packed is not None:
        return packed[0]
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
    packed = _list_offsets(array)
    record = None if packed is None else packed[3]
    is_record = isinstance(record, ak.contents.RecordArray) and not record.is_tuple
    names = (list(record.fields) if is_record else ak.fields(array)) if fields is None else list(fields)
    if is_record and all(name in record.fields for name in names):
        offsets, start, stop, _ = packed
        columns = {name: _numbers(record.content(name), start, stop, dtype) for name in names}
        deeper = [name for name, column in columns.items() if column is None]
        if deeper:
            flat = ak.flatten(array, axis=1)
            columns.update({name: _column(flat[name], dtype) for name in deeper})
        return columns, offsets
    flat = ak.flatten(array, axis=1)
    return {name: _column(flat[name], dtype) for name in names}, jagged_offsets(array)


def flatten_values(array, *, dtype=None) -> tuple[np.ndarray, np.ndarray]:
    """Flat values of a jagged array of numbers (``n * var * number``), and its offsets.

    A deeper array (``n * var * var * number``) loses its first list level
    and stays an awkward array.
    """
    packed = _list_offsets(array)
    if packed is not None:
        column = _numbers(packed[3], packed[1], packed[2], dtype)
        if column is not None:
            return column, packed[0]
    return _column(ak.flatten(array, axis=1), dtype), jagged_offsets(array)


def unflatten_jagged(columns, offsets) -> ak.Array:
    """The inverse of :func:`flatten_jagged` (a mapping of columns) and of :func:`flatten_values` (one array).

    ``offsets`` must start at 0 and end at the length of the columns.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    flat = list(columns.values()) if isinstance(columns, Mapping) else [columns]
    if flat and len(offsets) and offsets[0] == 0 and all(
            isinstance(c, np.ndarray) and c.ndim == 1 and len(c) == offsets[-1] for c in flat):
        # columns of numbers: the layout is built directly (awkward's zip and unflatten cost about 50 us each)
        content = (ak.contents.RecordArray([ak.contents.NumpyArray(c) for c in flat], list(columns),
                                           length=int(offsets[-1]))
                   if isinstance(columns, Mapping) else ak.contents.NumpyArray(columns))
        return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), content))
    counts = np.diff(offsets)
    if isinstance(columns, Mapping):
        return ak.unflatten(ak.zip(dict(columns), depth_limit=1), counts)
    return ak.unflatten(columns, counts)
