"""The event-source interface and picklable work items.

A source splits its input into :class:`WorkItem`\\ s, each a contiguous range
of events of one input (file, first, last), small enough to be one chunk.
Any executor can ship a work item to any worker, which calls
:meth:`EventSource.read` on it.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..component import Component
from ..errors import ConfigurationError


@dataclass(frozen=True)
class WorkItem:
    """Events ``first`` .. ``last - 1`` of ``input`` (None for generators)."""

    index: int
    source: str
    input: str | None
    first: int
    last: int
    run: int = 0

    @property
    def n_events(self) -> int:
        return self.last - self.first

    @property
    def key(self) -> str:
        return f"{self.index:05d}"


class EventSource(Component):
    """Base of event sources.

    Subclasses implement :meth:`work_items` and :meth:`read`, and declare the
    keys they put with ``Output`` attributes (or override :meth:`provides`
    when the keys depend on the input file).
    """

    kind = "source"
    services: Any = None
    #: True for sources that make events rather than read them: they need ``job.evt_max`` >= 0.
    generator: bool = False

    def initialize(self) -> None:
        """Called once per process before the first :meth:`read`."""

    def finalize(self) -> None:
        """Called once per process at the end."""

    def provides(self) -> list[str]:
        """Store keys this source puts into every chunk."""
        return list(self.output_keys().values())

    def work_items(self, evt_max: int, chunk_size: int, run: int) -> list[WorkItem]:
        """Split the input into work items of at most ``chunk_size`` events.

        ``evt_max`` limits the total number of events (-1: the whole input).
        """
        raise NotImplementedError

    def read(self, item: WorkItem) -> tuple[np.ndarray, dict[str, Any]]:
        """Return ``(event_ids, {store key: event-aligned array})`` for ``item``."""
        raise NotImplementedError


def split_range(source: str, input: str | None, n_events: int, chunk_size: int, run: int,
                start_index: int = 0, offset: int = 0) -> list[WorkItem]:
    """Work items covering events ``offset`` .. ``offset + n_events - 1`` in chunks."""
    items = []
    for k, first in enumerate(range(offset, offset + n_events, chunk_size)):
        last = min(first + chunk_size, offset + n_events)
        items.append(WorkItem(start_index + k, source, input, first, last, run))
    return items


def expand_files(patterns: list[str], extension: str, owner: str) -> list[str]:
    """Files named by paths, glob patterns or folders (all ``*extension`` inside, sorted)."""
    files: list[str] = []
    for pattern in patterns:
        if os.path.isdir(pattern):
            found = sorted(glob.glob(os.path.join(pattern, "**", "*" + extension), recursive=True))
        else:
            found = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
        missing = [f for f in found if not os.path.exists(f)]
        if not found or missing:
            raise ConfigurationError(f"{owner}: no input file matches {pattern!r}")
        files.extend(found)
    if not files:
        raise ConfigurationError(f"{owner}: no input files given (property 'files')")
    return files


def items_over_files(source: str, counts: list[tuple[str, int]], evt_max: int, chunk_size: int,
                     run: int) -> list[WorkItem]:
    """Work items over files with ``counts`` entries each; chunks never cross files."""
    items: list[WorkItem] = []
    remaining = evt_max if evt_max >= 0 else sum(n for _, n in counts)
    for path, n in counts:
        take = min(n, remaining)
        if take <= 0:
            break
        items.extend(split_range(source, path, take, chunk_size, run, start_index=len(items)))
        remaining -= take
    return items
