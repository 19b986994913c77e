"""Output streams: chosen collections of accepted events, one part per chunk.

Each work item writes its own part file under ``<output dir>/<stream
name>/part-<item>.<ext>``.  The worker writes it under a temporary name
(``part-<item>.<ext>.tmp<pid>``, which no reader picks up); the client
renames it to its final name once the item is recorded in the job's
manifest (size and SHA-256), so every final part is one the manifest lists,
whatever happens to the job.
"""
from __future__ import annotations

import glob
import hashlib
import os
from typing import Any, Iterator

import numpy as np

from ..component import Component, Property
from ..errors import HeprecoError, OutputError
from .source import WorkItem


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies below it (both real paths)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _input_paths(patterns: list[str]) -> Iterator[tuple[str, str, bool]]:
    """``(pattern, real path, read recursively)`` for every file or folder a source's patterns name."""
    for pattern in patterns:
        if not any(c in pattern for c in "*?["):
            yield pattern, os.path.realpath(pattern), os.path.isdir(pattern)
            continue
        head = pattern
        while any(c in head for c in "*?["):
            head = os.path.dirname(head)
        yield pattern, os.path.realpath(head or "."), "**" in pattern
        for found in glob.glob(pattern, recursive=True):
            yield pattern, os.path.realpath(found), os.path.isdir(found)


def output_folder_conflicts(source, outputs: list, output_dir: str) -> Iterator[tuple["OutputStream", str]]:
    """``(stream, reason)`` for each output stream that would write where ``source`` reads.

    The source's ``files`` (paths, glob patterns or folders, as file-reading
    sources take them) are compared by real path with each stream's folder
    ``<output_dir>/<stream name>``: a stream may not write into a folder the
    source reads (or holding a file it reads), nor below a folder the source
    reads recursively (a folder, or a ``**`` pattern).
    """
    patterns = getattr(source, "files", None)
    if not isinstance(patterns, list) or not outputs:
        return
    out = os.path.realpath(output_dir)
    for pattern, path, recursive in _input_paths([p for p in patterns if isinstance(p, str)]):
        for stream in outputs:
            folder = os.path.join(out, stream.name)
            if _inside(path, folder) or (recursive and _inside(folder, path)):
                yield stream, (f"would write its parts into {folder}, which source {source.name!r} reads "
                               f"(files: {pattern!r}); writing there would delete or mix up the job's input")
                return


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
    events_per_file = Property(0, doc="combine the parts of consecutive work items into files of at least this "
                               "many events as the items complete (0: one part file per work item)", ge=0)
    file_size_mb = Property(0.0, doc="... or into files of at least this size (0: off)", unit="MB", ge=0)

    def check(self, registry) -> None:
        if self.events_per_file and self.file_size_mb:
            from ..errors import PropertyError

            raise PropertyError(self.name, "file_size_mb", "give events_per_file or file_size_mb, not both")

    @property
    def combines(self) -> bool:
        """Whether parts are combined into larger files while the job runs."""
        return bool(self.events_per_file or self.file_size_mb)

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
        """Write the selected events of one chunk under a temporary name; return the part's manifest entry.

        The entry's ``tmp`` is the temporary file (relative to ``output_dir``),
        which the client renames to ``file`` once the item is recorded.  A
        failed write leaves no file behind and raises :class:`OutputError`
        when the output folder could not be written.
        """
        path = self.part_path(output_dir, item)
        tmp = f"{path}.tmp{os.getpid()}"
        ids = store.event_ids[mask]
        data = {key: store[key][mask] for key in self.collections}
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self.write_part(tmp, ids, data)
            entry = {"stream": self.name, "file": os.path.relpath(path, output_dir), "events": int(mask.sum()),
                     "bytes": os.path.getsize(tmp), "sha256": sha256(tmp), "tmp": os.path.relpath(tmp, output_dir)}
        except BaseException as exc:
            if os.path.exists(tmp):
                os.remove(tmp)
            if isinstance(exc, OSError) and not isinstance(exc, HeprecoError):
                raise OutputError.from_os_error(output_dir, exc) from None
            raise
        return entry

    def write_part(self, path: str, event_ids: np.ndarray, data: dict[str, Any]) -> None:
        """Write one part file at ``path`` (subclasses)."""
        raise NotImplementedError
