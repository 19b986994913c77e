"""Accumulators booked per algorithm, merged across chunks and workers.

Algorithms book accumulators in ``initialize`` (``self.accumulate(name,
kind)``) and fill them in ``execute``.  As for histograms, the service hands
over what was accumulated after each work item and starts from empty, so the
client merges the items in a fixed order and a resumed job reuses the items
it already has.  See :mod:`hepreco.framework.accumulators` for the kinds.
"""
from __future__ import annotations

from typing import Iterable

from .. import accumulators
from ..accumulators import Accumulator
from . import Service


class AccumulatorSvc(Service):
    """Books, snapshots, harvests and merges accumulators."""

    def __init__(self, name: str | None = None, **values):
        super().__init__(name, **values)
        self.booked: dict[str, Accumulator] = {}

    def book(self, owner: str, name: str, kind: str, **options) -> Accumulator:
        """Book the accumulator ``owner/name`` of ``kind`` (``counter``, ``sum``, ...); ``options`` go to it
        (``shape=`` for sums, ``limit=`` for records)."""
        key = f"{owner}/{name}"
        if key in self.booked:
            raise ValueError(f"accumulator {key!r} is booked twice")
        acc = self.booked[key] = accumulators.make(kind, **options)
        return acc

    def owned(self, owner: str) -> dict[str, Accumulator]:
        prefix = owner + "/"
        return {k: a for k, a in self.booked.items() if k.startswith(prefix)}

    def snapshot(self, owner: str) -> dict[str, Accumulator] | None:
        """Copies of ``owner``'s accumulators (None when it has none)."""
        owned = self.owned(owner)
        return {k: a.copy() for k, a in owned.items()} if owned else None

    def restore(self, owner: str, snap: dict[str, Accumulator] | None) -> None:
        for k, saved in (snap or {}).items():
            self.booked[k].restore(saved)

    def harvest(self) -> dict[str, Accumulator]:
        out = {k: a.copy() for k, a in self.booked.items()}
        for a in self.booked.values():
            a.reset()
        return out

    @staticmethod
    def merge(items: Iterable[dict[str, Accumulator]]) -> dict[str, Accumulator]:
        """Merge harvested accumulators, in the order given."""
        return accumulators.merge(items)

    @staticmethod
    def report(merged: dict[str, Accumulator]) -> dict[str, dict[str, dict]]:
        """``{owner: {name: plain data}}`` for ``report.json``."""
        out: dict[str, dict[str, dict]] = {}
        for key, acc in sorted(merged.items()):
            owner, _, name = key.partition("/")
            out.setdefault(owner, {})[name] = acc.to_json()
        return out
