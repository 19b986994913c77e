"""Merging work-item results in item order as they arrive.

The client of a job receives one :class:`~hepreco.framework.job.ItemResult`
per work item, in whatever order the executor finishes them.  Histograms,
accumulators, timing, message counts, decisions and errors are merged in
item order, so that the totals do not depend on the executor; a
:class:`ResultMerger` does that as results arrive and keeps only those that
came early (waiting for an earlier item), so the client's memory does not
grow with the number of work items.
"""
from __future__ import annotations

from .accumulators import merge as merge_accumulators
from .services.histograms import HistogramSvc
from .services.messages import MessageSvc
from .services.timing import TimingSvc


def item_order(indices) -> "range | list[int]":
    """The work-item indices in order: a ``range`` when they are consecutive (as every source makes them),
    so that holding the order costs the same for any number of items."""
    order = sorted(indices)
    if order and order[-1] - order[0] == len(order) - 1:
        return range(order[0], order[-1] + 1)  # sorted and as many as the span: no gaps, no repeats
    return order


class ResultMerger:
    """Running, item-ordered totals of work-item results.

    Parameters
    ----------
    indices
        Indices of the work items whose results will be given to :meth:`add`
        (or declared lost with :meth:`skip`); held as a ``range`` when they
        are consecutive (:func:`item_order`).
    """

    def __init__(self, indices):
        self._order = indices if isinstance(indices, range) and indices.step == 1 else item_order(indices)
        self._next = 0
        self._pending: dict[int, object] = {}
        self._lost: set[int] = set()
        self.items = 0
        self.n_read = self.n_accepted = self.n_failed = 0
        self.histograms: dict = {}
        self.accumulators: dict = {}
        self.timing: dict[str, list] = {}
        self.messages: dict[str, dict[str, int]] = {}
        self.decisions: dict[str, int] = {}
        self.errors: list = []
        #: the distinct thread settings the workers reported, in item order
        self.threads: list[dict] = []
        #: the distinct allocator policies in effect in the workers (framework.allocator)
        self.malloc: list[str] = []
        #: events read by results that were not resumed from an earlier run
        self.processed = 0
        self._resumed: set[int] = set()

    @property
    def waiting(self) -> int:
        """Results held back until an earlier item arrives."""
        return len(self._pending)

    def add(self, result, resumed: bool = False) -> None:
        """Take the result of one work item (merged as soon as every earlier item is in)."""
        if resumed:
            self._resumed.add(result.index)
        self._pending[result.index] = result
        self._drain()

    def skip(self, index: int) -> None:
        """Item ``index`` will never come (its worker died for good)."""
        self._lost.add(index)
        self._drain()

    def finish(self) -> "ResultMerger":
        """Merge what is still held back (the job ended before the items between came), in item order."""
        for index in sorted(self._pending):
            self._merge(self._pending.pop(index))
        return self

    def _drain(self) -> None:
        order = self._order
        while self._next < len(order):
            index = order[self._next]
            if index in self._pending:
                self._merge(self._pending.pop(index))
            elif index not in self._lost:
                return
            self._next += 1

    def _merge(self, r) -> None:
        self.items += 1
        self.n_read += r.n_read
        self.n_accepted += r.n_accepted
        self.n_failed += r.n_failed
        if r.index in self._resumed:
            self._resumed.discard(r.index)
        else:
            self.processed += r.n_read
        HistogramSvc.merge([r.histograms], self.histograms)
        merge_accumulators([r.accumulators], self.accumulators)
        for name, (sec, ev, calls) in r.timing.items():
            row = self.timing.setdefault(name, [0.0, 0, 0])
            row[0] += sec
            row[1] += ev
            row[2] += calls
        self.messages = MessageSvc.merge([self.messages, r.messages])
        for key, n in r.decisions.items():
            self.decisions[key] = self.decisions.get(key, 0) + n
        self.errors.extend(r.errors)
        threads = getattr(r, "threads", None)
        if threads and threads not in self.threads:
            self.threads.append(threads)
        malloc = getattr(r, "malloc", None)
        if malloc and malloc not in self.malloc:
            self.malloc.append(malloc)

    def timing_table(self) -> dict[str, dict]:
        """``{name: {seconds, events, calls, us_per_event}}`` of the merged timing."""
        return TimingSvc.merge([self.timing])
