"""Awkward products of the trigger algorithms, built from flat numpy columns through their layouts.

Building the layout directly (a ``RecordArray`` of ``NumpyArray`` columns in a
``ListOffsetArray``) is zero-copy and costs microseconds per product, where
``ak.zip`` and ``ak.unflatten`` broadcast and check (milliseconds per chunk).
"""
from __future__ import annotations

import awkward as ak
import numpy as np


def records(columns: dict, n: int | None = None):
    """An awkward array of records from equal-length numpy columns, built from its layout (no broadcasting)."""
    contents = [c if isinstance(c, ak.contents.Content) else ak.contents.NumpyArray(np.ascontiguousarray(c))
                for c in columns.values()]
    length = n if n is not None else (len(next(iter(columns.values()))) if columns else 0)
    return ak.contents.RecordArray(contents, list(columns), length=length)


def jagged_records(columns: dict, offsets):
    """``n_events * var * {columns}`` from flat numpy columns and int64 offsets (zero-copy)."""
    offsets = np.asarray(offsets, dtype=np.int64)
    return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), records(columns, int(offsets[-1]))))
