"""Mergeable results: counters, sums, weighted sums, efficiencies, records, sets.

An algorithm books accumulators in ``initialize`` (``self.accumulate(name,
kind)``, like ``self.book`` for histograms) and fills them in ``execute``.
After every work item the framework hands over what was accumulated, merges
the items in item order (so the result does not depend on the executor or the
number of workers), writes the merged values to ``report.json`` and gives
them to the algorithm's ``end_of_job``.

================  =================  ===========================================
kind              class              content, filled with
================  =================  ===========================================
``counter``       :class:`Counter`   an integer; ``add(n=1)``
``sum``           :class:`Sum`       a float, or an array of a fixed ``shape``;
                                     ``add(values, at=None)``
``weighted_sum``  :class:`WeightedSum`  entries n, sum w, sum w^2; ``add(weights)``
``efficiency``    :class:`Efficiency`   passed and total; ``add(passed)``
``records``       :class:`Records`   a list of small JSON-like dicts;
                                     ``append(record)``, ``extend(records)``
``set``           :class:`Set`       distinct values in order of first
                                     appearance; ``add(value)``
================  =================  ===========================================

Merging (``a + b``, ``a += b``, :func:`merge`) is defined only between
accumulators of the same kind (and shape); anything else raises
:class:`~hepreco.framework.errors.MergeError`.  Counters, efficiencies,
records and sets merge exactly; float sums are exact across executors and
workers (fixed item order) and agree to rounding across chunk sizes.
"""
from __future__ import annotations

import copy
import math
from typing import Any, ClassVar, Iterable

import numpy as np

from .errors import AccumulatorError, MergeError, UnknownNameError


class Accumulator:
    """Base of the mergeable results: ``+``, ``+=``, :meth:`copy`, :meth:`reset`, :meth:`to_json`."""

    kind: ClassVar[str] = ""

    def _check(self, other: Any) -> None:
        if not isinstance(other, Accumulator) or type(other) is not type(self):
            theirs = other.kind if isinstance(other, Accumulator) else type(other).__name__
            raise MergeError(f"cannot merge a {self.kind!r} accumulator with a {theirs!r} one; "
                             "an accumulator merges only with one of the same kind")

    def _merge(self, other: "Accumulator") -> None:
        raise NotImplementedError

    def __iadd__(self, other: "Accumulator") -> "Accumulator":
        self._check(other)
        self._merge(other)
        return self

    def __add__(self, other: "Accumulator") -> "Accumulator":
        out = self.copy()
        out += other
        return out

    def copy(self) -> "Accumulator":
        return copy.deepcopy(self)

    def reset(self) -> None:
        """Back to the empty state (same kind and shape)."""
        raise NotImplementedError

    def restore(self, other: "Accumulator") -> None:
        """Take the content of ``other`` (a copy from :meth:`copy`), in place."""
        self._check(other)
        self.__dict__.update(copy.deepcopy(other.__dict__))

    def to_json(self) -> dict:
        """Plain data for ``report.json``: ``{"kind": ..., ...}``."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.to_json().items() if k != "kind")
        return f"{type(self).__name__}({fields})"


class Counter(Accumulator):
    """An integer count (events, objects, failures)."""

    kind = "counter"

    def __init__(self, value: int = 0):
        self.value = int(value)

    def add(self, n: int = 1) -> None:
        self.value += int(n)

    def _merge(self, other: "Counter") -> None:
        self.value += other.value

    def reset(self) -> None:
        self.value = 0

    def to_json(self) -> dict:
        return {"kind": self.kind, "value": self.value}


class Sum(Accumulator):
    """A float sum, or an array of sums of a fixed ``shape`` (one per bin).

    ``add(values)`` adds the sum of ``values``; with ``at`` (an index or a
    tuple of index arrays, as for ``numpy.add.at``) each value is added to
    its own element, in the order given.
    """

    kind = "sum"

    def __init__(self, shape: int | tuple = ()):
        self.shape = (shape,) if isinstance(shape, int) else tuple(int(n) for n in shape)
        self.value = np.zeros(self.shape, dtype=np.float64)

    def add(self, values, at=None) -> None:
        if at is None:
            self.value += np.sum(np.asarray(values, dtype=np.float64), axis=None if not self.shape else 0)
        else:
            np.add.at(self.value, at, np.asarray(values, dtype=np.float64))

    def _check(self, other: Any) -> None:
        super()._check(other)
        if other.shape != self.shape:
            raise MergeError(f"cannot merge a 'sum' accumulator of shape {self.shape} with one of shape "
                             f"{other.shape}")

    def _merge(self, other: "Sum") -> None:
        self.value = self.value + other.value

    def reset(self) -> None:
        self.value = np.zeros(self.shape, dtype=np.float64)

    def to_json(self) -> dict:
        return {"kind": self.kind, "shape": list(self.shape), "value": self.value.tolist()}


class WeightedSum(Accumulator):
    """Entries n, sum of weights and sum of squared weights; ``error`` = sqrt(sum w^2)."""

    kind = "weighted_sum"

    def __init__(self):
        self.n = 0
        self.sum_w = 0.0
        self.sum_w2 = 0.0

    def add(self, weights) -> None:
        w = np.atleast_1d(np.asarray(weights, dtype=np.float64))
        self.n += len(w)
        self.sum_w += float(np.sum(w))
        self.sum_w2 += float(np.sum(w * w))

    @property
    def value(self) -> float:
        return self.sum_w

    @property
    def error(self) -> float:
        return math.sqrt(self.sum_w2)

    def _merge(self, other: "WeightedSum") -> None:
        self.n += other.n
        self.sum_w += other.sum_w
        self.sum_w2 += other.sum_w2

    def reset(self) -> None:
        self.n, self.sum_w, self.sum_w2 = 0, 0.0, 0.0

    def to_json(self) -> dict:
        return {"kind": self.kind, "n": self.n, "sum_w": self.sum_w, "sum_w2": self.sum_w2, "error": self.error}


class Efficiency(Accumulator):
    """Passed over total, with the binomial error sqrt(eff (1 - eff) / total)."""

    kind = "efficiency"

    def __init__(self):
        self.passed = 0
        self.total = 0

    def add(self, passed) -> None:
        """Count one entry per element of the boolean array ``passed``."""
        p = np.atleast_1d(np.asarray(passed))
        if p.dtype != bool:
            raise TypeError(f"Efficiency.add needs booleans (one per entry), got {p.dtype}")
        self.passed += int(np.count_nonzero(p))
        self.total += len(p)

    @property
    def value(self) -> float:
        return self.passed / self.total if self.total else math.nan

    @property
    def error(self) -> float:
        if not self.total:
            return math.nan
        eff = self.passed / self.total
        return math.sqrt(eff * (1.0 - eff) / self.total)

    def _merge(self, other: "Efficiency") -> None:
        self.passed += other.passed
        self.total += other.total

    def reset(self) -> None:
        self.passed, self.total = 0, 0

    def to_json(self) -> dict:
        return {"kind": self.kind, "passed": self.passed, "total": self.total, "value": self.value,
                "error": self.error}


def _plain(value: Any) -> Any:
    """numpy scalars and arrays to Python values (records go to JSON)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class Records(Accumulator):
    """A list of small records (dicts of plain values), concatenated in item order.

    Meant for rare entries (failures, selected event ids, metadata), not for
    per-event data: more than ``limit`` records is an error.
    """

    kind = "records"

    def __init__(self, limit: int = 100_000):
        self.limit = int(limit)
        self.records: list[dict] = []

    def append(self, record: dict) -> None:
        if not isinstance(record, dict):
            raise TypeError(f"a record is a dict of plain values, got {type(record).__name__}")
        self.records.append(_plain(record))
        self._check_limit()

    def extend(self, records: Iterable[dict]) -> None:
        for record in records:
            self.append(record)

    def _check_limit(self) -> None:
        if len(self.records) > self.limit:
            raise AccumulatorError(f"a 'records' accumulator holds more than {self.limit} records; records are "
                                   "for rare entries: write per-event data to an output stream, or raise 'limit'")

    def _merge(self, other: "Records") -> None:
        self.records = self.records + copy.deepcopy(other.records)
        self._check_limit()

    def reset(self) -> None:
        self.records = []

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def to_json(self) -> dict:
        return {"kind": self.kind, "records": self.records}


class Set(Accumulator):
    """Distinct plain values (names, versions) in order of first appearance."""

    kind = "set"

    def __init__(self):
        self.values: list = []

    def add(self, value: Any) -> None:
        value = _plain(value)
        if value not in self.values:
            self.values.append(value)

    def update(self, values: Iterable) -> None:
        for value in values:
            self.add(value)

    def _merge(self, other: "Set") -> None:
        self.values = list(self.values)
        self.update(other.values)

    def reset(self) -> None:
        self.values = []

    def __iter__(self):
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def to_json(self) -> dict:
        return {"kind": self.kind, "values": self.values}


KINDS: dict[str, type[Accumulator]] = {cls.kind: cls
                                       for cls in (Counter, Sum, WeightedSum, Efficiency, Records, Set)}


def make(kind: str, **options) -> Accumulator:
    """A new empty accumulator of ``kind`` (see :data:`KINDS`); ``options`` go to its constructor."""
    try:
        cls = KINDS[kind]
    except KeyError:
        raise UnknownNameError("accumulator kind", kind, list(KINDS)) from None
    return cls(**options)


def merge(items: Iterable[dict[str, Accumulator]],
          total: dict[str, Accumulator] | None = None) -> dict[str, Accumulator]:
    """Merge dicts of accumulators key by key, in the order given (onto ``total`` when given, which is
    updated; the items are not modified)."""
    total = {} if total is None else total
    for item in items:
        for key, acc in item.items():
            if key not in total:
                total[key] = acc.copy()
            else:
                try:
                    total[key] += acc
                except MergeError as exc:
                    raise MergeError(f"accumulator {key!r}: {exc}") from None
    return total
