"""Output streams: chosen collections of accepted events, one part per chunk.

Each work item writes its own part file under ``<output dir>/<stream
name>/part-<item>.<ext>``; the part is written to a temporary name and
renamed when complete, so a killed job never leaves a half-written part
under a final name.  The client lists every part (size and SHA-256) in the
job's manifest.
"""
from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np

from ..component import Component, Property
from .source import WorkItem


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class OutputStream(Component):
    """Base of output streams.

    An event is written when it passed any filter named in ``accept`` (all
    events when empty), every one named in ``require``, and none named in
    ``veto``.  Names are those of filters or sequences.
    """

    kind = "output"
    extension = ""
    services: Any = None

    collections = Property([], doc="store keys to write", items=str)
    accept = Property([], doc="write events that passed ANY of these filters/sequences (empty: all)", items=str)
    require = Property([], doc="... and passed ALL of these", items=str)
    veto = Property([], doc="... and passed NONE of these", items=str)

    #: filter/sequence name -> decision key, filled in by the job builder
    decision_keys: dict[str, str] = {}

    def initialize(self) -> None:
        """Called once per process."""

    def finalize(self) -> None:
        """Called once per process at the end."""

    def selected(self, store) -> np.ndarray:
        """Boolean mask of the events this stream writes (before dropping failed events)."""
        n = store.n_events
        mask = np.ones(n, dtype=bool)
        if self.accept:
            mask = np.zeros(n, dtype=bool)
            for name in self.accept:
                mask |= store[self.decision_keys[name]]
        for name in self.require:
            mask &= store[self.decision_keys[name]]
        for name in self.veto:
            mask &= ~store[self.decision_keys[name]]
        return mask & store.alive

    def part_path(self, output_dir: str, item: WorkItem) -> str:
        return os.path.join(output_dir, self.name, f"part-{item.key}{self.extension}")

    def write(self, item: WorkItem, store, mask: np.ndarray, output_dir: str) -> dict | None:
        """Write the selected events of one chunk; return the part's manifest entry."""
        path = self.part_path(output_dir, item)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp{os.getpid()}"
        ids = store.event_ids[mask]
        data = {key: store[key][mask] for key in self.collections}
        self.write_part(tmp, ids, data)
        os.replace(tmp, path)
        return {"stream": self.name, "file": os.path.relpath(path, output_dir), "events": int(mask.sum()),
                "bytes": os.path.getsize(path), "sha256": sha256(path)}

    def write_part(self, path: str, event_ids: np.ndarray, data: dict[str, Any]) -> None:
        """Write one part file at ``path`` (subclasses)."""
        raise NotImplementedError
