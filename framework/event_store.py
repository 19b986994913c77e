"""The write-once event store of one chunk, and views on subsets of its events.

Every collection in the store is event-aligned: its first axis is the event.
Dense data are numpy arrays of shape ``(n_events, ...)``; jagged data are
awkward arrays of length ``n_events``.  A key can be put once; each product
remembers who made it (:class:`Provenance`).

Algorithms never see the :class:`EventStore` itself but a :class:`StoreView`
on the events they are asked to process.  A view of all events reads and
writes the store directly; a view of a subset (the events that passed the
filters before it) slices what it reads and, when it writes, fills the events
it did not process with empty values: zeros for dense arrays, empty lists for
jagged ones, ``None`` for other awkward layouts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import awkward as ak
import numpy as np

from .errors import DuplicateProduct, MissingProduct, UndeclaredOutput

EVENT_ID_DTYPE = np.dtype([("run", np.int64), ("event", np.int64)])


def make_event_ids(run: int | np.ndarray, events: np.ndarray) -> np.ndarray:
    """A structured ``(run, event)`` array for the given event numbers."""
    events = np.asarray(events, dtype=np.int64)
    ids = np.empty(len(events), dtype=EVENT_ID_DTYPE)
    ids["run"] = run
    ids["event"] = events
    return ids


@dataclass(frozen=True)
class Provenance:
    """Who made a product: the producer's name, configuration hash, resolved settings and artefacts.

    ``artefacts`` holds ``(name@version, sha256)`` of every artefact (calibration
    table, conditions, weights) resolved for the producer; their sha256 are
    also part of ``config_hash``.
    """

    producer: str
    config_hash: str = ""
    settings: dict = field(default_factory=dict, compare=False)
    artefacts: tuple = ()


def _length(value: Any) -> int:
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            raise TypeError("a product must be event-aligned, got a 0-d numpy array")
        return value.shape[0]
    if isinstance(value, ak.Array):
        return len(value)
    raise TypeError(f"a product must be a numpy array or an awkward Array, got {type(value).__name__}")


def _expand(value: Any, index: np.ndarray, n_total: int) -> Any:
    """Place ``value`` (one entry per selected event) back on all ``n_total`` events."""
    if isinstance(value, np.ndarray):
        out = np.zeros((n_total,) + value.shape[1:], dtype=value.dtype)
        out[index] = value
        return out
    layout = ak.to_layout(value)
    if layout.is_list or (layout.is_option and layout.content.is_list):
        counts = np.zeros(n_total, dtype=np.int64)
        counts[index] = ak.to_numpy(ak.fill_none(ak.num(value, axis=1), 0))
        return ak.unflatten(ak.flatten(ak.fill_none(value, [], axis=0), axis=1), counts)
    if layout.is_numpy and layout.purelist_depth == 1:
        return _expand(ak.to_numpy(value), index, n_total)
    where = np.full(n_total, -1, dtype=np.int64)
    where[index] = np.arange(len(index))
    return value[ak.mask(ak.Array(np.maximum(where, 0)), where >= 0)]


class EventStore:
    """Products of one chunk of events.

    Parameters
    ----------
    event_ids
        Structured array with fields ``run`` and ``event`` (see
        :func:`make_event_ids`), one entry per event of the chunk.
    """

    def __init__(self, event_ids: np.ndarray):
        if event_ids.dtype != EVENT_ID_DTYPE:
            raise TypeError(f"event_ids must have dtype {EVENT_ID_DTYPE}, got {event_ids.dtype}")
        self.event_ids = event_ids
        self.n_events = len(event_ids)
        #: events still being processed; cleared for events an algorithm failed on
        self.alive = np.ones(self.n_events, dtype=bool)
        self._data: dict[str, Any] = {}
        self._provenance: dict[str, Provenance] = {}

    # -- mapping-like reading ------------------------------------------------
    def __contains__(self, key: str) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return self.n_events

    def keys(self) -> list[str]:
        return list(self._data)

    def get(self, key: str, reader: str | None = None) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise MissingProduct(key, list(self._data), reader) from None

    __getitem__ = get

    def provenance(self, key: str) -> Provenance:
        self.get(key)
        return self._provenance[key]

    # -- writing -------------------------------------------------------------
    def put(self, key: str, value: Any, producer: str, config_hash: str = "", settings: dict | None = None,
            artefacts: tuple = ()) -> None:
        """Add a product covering all events of the chunk (write-once)."""
        if key in self._data:
            raise DuplicateProduct(key, self._provenance[key].producer, producer)
        n = _length(value)
        if n != self.n_events:
            raise ValueError(f"{producer} put {key!r} with {n} entries; the chunk has {self.n_events} events "
                             "(products are event-aligned: first axis = event)")
        self._data[key] = value
        self._provenance[key] = Provenance(producer, config_hash, settings or {}, tuple(artefacts))

    def discard(self, producer: str) -> list[str]:
        """Remove every product of ``producer`` (used to roll back a failed call)."""
        gone = [k for k, p in self._provenance.items() if p.producer == producer]
        for k in gone:
            del self._data[k], self._provenance[k]
        return gone

    def view(self, index: np.ndarray | None = None, producer: Any = None) -> "StoreView":
        """A view on the events ``index`` (all events when None)."""
        if index is None:
            index = np.arange(self.n_events)
        return StoreView(self, np.asarray(index, dtype=np.int64), producer)


class StoreView:
    """What an algorithm sees: the events it processes, reading and writing through.

    ``producer`` is the component that executes on this view; its declared
    outputs are the only keys it may put, and products are recorded with its
    name and configuration hash.
    """

    def __init__(self, store: EventStore, index: np.ndarray, producer: Any = None):
        self.store = store
        self.index = index
        self.producer = producer
        self.full = len(index) == store.n_events
        self.n_events = len(index)
        self._cache: dict[str, Any] = {}

    @property
    def event_ids(self) -> np.ndarray:
        return self.store.event_ids if self.full else self.store.event_ids[self.index]

    def __len__(self) -> int:
        return self.n_events

    def __contains__(self, key: str) -> bool:
        return key in self.store

    def keys(self) -> list[str]:
        return self.store.keys()

    def get(self, key: str) -> Any:
        value = self.store.get(key, reader=getattr(self.producer, "name", None))
        if self.full:
            return value
        if key not in self._cache:
            self._cache[key] = value[self.index]
        return self._cache[key]

    __getitem__ = get

    def provenance(self, key: str) -> Provenance:
        return self.store.provenance(key)

    def put(self, key: str, value: Any) -> None:
        """Add a product for the events of this view (write-once)."""
        name = getattr(self.producer, "name", "unknown")
        if self.producer is not None:
            declared = list(self.producer.output_keys().values())
            if key not in declared:
                raise UndeclaredOutput(key, name, declared)
        n = _length(value)
        if n != self.n_events:
            raise ValueError(f"{name} put {key!r} with {n} entries for {self.n_events} events "
                             "(products are event-aligned: first axis = event)")
        if not self.full:
            value = _expand(value, self.index, self.store.n_events)
        if self.producer is None:
            self.store.put(key, value, name)
        else:
            digests = getattr(self.producer, "artefact_digests", None)
            self.store.put(key, value, name, self.producer.config_hash(), self.producer.resolved(),
                           digests() if digests is not None else ())

    def view(self, index: np.ndarray, producer: Any = None) -> "StoreView":
        """A view on a subset of this view's events (positions within this view)."""
        return StoreView(self.store, self.index[np.asarray(index, dtype=np.int64)], producer or self.producer)


class ScratchView(StoreView):
    """A view whose writes stay in the view (for trial runs on single events)."""

    def __init__(self, store: EventStore, index: np.ndarray, producer: Any = None):
        super().__init__(store, index, producer)
        self.full = False
        self._scratch: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        if key in self._scratch:
            return self._scratch[key]
        return super().get(key)

    def put(self, key: str, value: Any) -> None:
        if key in self._scratch:
            raise DuplicateProduct(key, getattr(self.producer, "name", "?"), getattr(self.producer, "name", "?"))
        self._scratch[key] = value
