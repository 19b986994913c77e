"""Combine the per-chunk parts of an output stream into fewer, larger files.

A job writes one part per work item and stream; at chunks of 100, a million
events are 10,000 files.  :func:`merge_stream` combines the parts a stream's
manifest lists, in event order, into files of about ``events_per_file``
events or ``size_mb`` megabytes each (parts are never split), written
atomically (temporary name, then rename) into a destination folder with its
own ``manifest.json`` listing every file with its events, size and SHA-256.
The parts are left as they are; :func:`~hepreco.framework.io.reader.read`
reads the merged folder like the parts.  ``hepreco merge`` is the command.
"""
from __future__ import annotations

import os

from ..errors import ConfigurationError
from .output import sha256
from .reader import part_source, read_parts, stream_parts

MANIFEST = "manifest.json"


def _reached(events: int, size: int, events_per_file: int, size_mb: float) -> bool:
    """Whether parts holding ``events`` events in ``size`` bytes make a file of the target size."""
    return bool((events_per_file and events >= events_per_file) or (size_mb and size >= size_mb * 1e6))


def _groups(parts: list[str], events: list[int], events_per_file: int, size_mb: float) -> list[list[int]]:
    """Consecutive part indices per output file."""
    groups, current, n, size = [], [], 0, 0
    for i, path in enumerate(parts):
        current.append(i)
        n += events[i]
        size += os.path.getsize(path)
        if _reached(n, size, events_per_file, size_mb):
            groups.append(current)
            current, n, size = [], 0, 0
    if current:
        groups.append(current)
    return groups


def _combine(parts: list[str], path: str, tree: str) -> int:
    """Write the events of ``parts`` (in order) to ``path``, through a temporary name; return their number."""
    ids, data = read_parts(parts, tree=tree)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        if path.endswith(".h5"):
            from .hdf5 import write_hdf5

            write_hdf5(tmp, ids, data)
        else:
            from .root import RootOutput

            RootOutput(name="merge", tree=tree).write_part(tmp, ids, data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return int(len(ids))


def merge_stream(stream_dir: str, destination: str, *, events_per_file: int = 0, size_mb: float = 0.0,
                 tree: str = "events") -> list[dict]:
    """Combine the parts of ``stream_dir`` into files in ``destination``; return their manifest entries."""
    if (events_per_file > 0) == (size_mb > 0):
        raise ConfigurationError("merge: give one of events_per_file or size_mb (a positive number)")
    if not os.path.isdir(stream_dir):
        raise ConfigurationError(f"merge: {stream_dir!r} is not a stream folder")
    parts = stream_parts(stream_dir)
    if not parts:
        raise ConfigurationError(f"merge: no part files in {stream_dir!r}")
    if os.path.realpath(destination) == os.path.realpath(stream_dir):
        raise ConfigurationError("merge: the destination must be another folder than the parts' own")
    if os.path.exists(os.path.join(destination, MANIFEST)) or (os.path.isdir(destination) and os.listdir(destination)):
        raise ConfigurationError(f"merge: {destination!r} is not empty; choose a new folder")
    extension = os.path.splitext(parts[0])[1]
    source = part_source(parts, tree=tree)
    counts = [source.inspect(p).n_events for p in parts]
    os.makedirs(destination, exist_ok=True)
    files = []
    for number, group in enumerate(_groups(parts, counts, events_per_file, size_mb)):
        path = os.path.join(destination, f"file-{number:05d}{extension}")
        n = _combine([parts[i] for i in group], path, tree)
        files.append({"file": os.path.basename(path), "events": n, "bytes": os.path.getsize(path),
                      "sha256": sha256(path), "parts": [os.path.basename(parts[i]) for i in group]})
    from ..manifest import atomic_write_json

    atomic_write_json(os.path.join(destination, MANIFEST), {"merged_from": os.path.abspath(stream_dir),
                                                            "files": files}, indent=1)
    return files


class Combiner:
    """Combines one stream's parts into files while a job runs, in item order.

    ``indices`` are the indices of the job's work items in order (a ``range``).
    The client calls :meth:`add` for each recorded work item (in any order);
    the parts of the completed items at the front (in item order) are
    gathered until they hold ``events_per_file`` events or ``size_mb`` MB,
    then combined into ``<stream>/file-<first item>.<ext>``: written under a
    temporary name, renamed, recorded in the job's journal, and only then
    are the parts deleted.  :meth:`flush` combines what is left at the end of
    a complete job.  The grouping depends only on the items and their parts,
    so every executor gives the same files; a resumed job continues it.
    """

    def __init__(self, stream, output_dir: str, manifest, indices):
        self.stream = stream.name
        self.tree = getattr(stream, "tree", "events")
        self.extension = stream.extension
        self.events_per_file = int(stream.events_per_file)
        self.size_mb = float(stream.file_size_mb)
        self.output_dir = output_dir
        self.manifest = manifest
        #: items whose parts an earlier run combined already (resume)
        self._done = {k for cf in manifest.combined.get(self.stream, []) for k in cf.items}
        self._order = indices  # the work items' indices in order (a range: no per-item state)
        self._next = 0
        self._waiting: dict[str, list[dict]] = {}  # parts of recorded items that wait for an earlier item
        self._group: list[tuple[str, dict]] = []
        self._events = self._bytes = 0

    def add(self, key: str, parts: list[dict]) -> None:
        """Call after item ``key`` was recorded with ``parts`` (or taken over from an earlier run): combine
        the parts of the items that became contiguous.  Only items waiting for an earlier one are held."""
        self._waiting[key] = [p for p in parts if p["stream"] == self.stream]
        order = self._order
        while self._next < len(order):
            k = f"{order[self._next]:05d}"  # WorkItem.key
            if k in self._done:
                self._next += 1
                continue
            if k not in self._waiting:
                break
            for p in self._waiting.pop(k):
                self._group.append((k, p))
                self._events += p["events"]
                self._bytes += p["bytes"]
            self._next += 1
            if _reached(self._events, self._bytes, self.events_per_file, self.size_mb):
                self._combine()

    def flush(self) -> None:
        """Combine the remaining parts (the job completed)."""
        if self._group:
            self._combine()

    def _combine(self) -> None:
        from ..manifest import CombinedFile

        group, self._group = self._group, []
        self._events = self._bytes = 0
        parts = [os.path.join(self.output_dir, p["file"]) for _, p in group]
        keys = list(dict.fromkeys(k for k, _ in group))
        name = os.path.join(self.stream, f"file-{keys[0]}{self.extension}")
        path = os.path.join(self.output_dir, name)
        n = _combine(parts, path, self.tree)
        self.manifest.record_combined(CombinedFile(
            self.stream, name, n, os.path.getsize(path), sha256(path), keys,
            [p["file"] for _, p in group]), [p for _, p in group])
