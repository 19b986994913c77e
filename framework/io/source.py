"""The event-source interface and picklable work items.

A source splits its input into :class:`WorkItem`\\ s, each a contiguous range
of events of one input (file, first, last), small enough to be one chunk.
Any executor can ship a work item to any worker, which calls
:meth:`EventSource.read` on it.

:class:`FileSource` is the base of sources that read files: it lists the
files once (each file once, however often ``files`` names it), and checks
every file when the job is built (readable, of the right format, carrying
the requested collections), so that a bad input is refused before the first
event with the file's name and what is wrong with it.
"""
from __future__ import annotations

import bisect
import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..component import Component
from ..errors import ConfigurationError, InputFileError, suggestion


@dataclass(frozen=True, slots=True)  # slots: made for every chunk, shipped to workers, held while in flight
class WorkItem:
    """Events ``first`` .. ``last - 1`` of ``input`` (None for generators).

    ``event_offset`` is the event number of entry 0 of ``input`` for inputs
    that carry no event numbers: the number of entries in the files before
    it, so that events are numbered 0, 1, ... across all files of a source.
    """

    index: int
    source: str
    input: str | None
    first: int
    last: int
    run: int = 0
    event_offset: int = 0

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

    def check_inputs(self) -> None:
        """Check the inputs (files exist, can be read, carry what is asked for).

        Called once when the job is built by the client and by ``hepreco
        validate``, not in workers; raise
        :class:`~hepreco.framework.errors.ConfigurationError` naming the input.
        """

    def work_items(self, evt_max: int, chunk_size: int, run: int) -> Sequence[WorkItem]:
        """Split the input into work items of at most ``chunk_size`` events (a sequence: :class:`WorkItems`
        computes them when asked for).

        ``evt_max`` limits the total number of events (-1: the whole input).
        """
        raise NotImplementedError

    def read(self, item: WorkItem) -> tuple[np.ndarray, dict[str, Any]]:
        """Return ``(event_ids, {store key: event-aligned array})`` for ``item``."""
        raise NotImplementedError


class WorkItems(Sequence):
    """Work items computed when asked for: a job of a million chunks holds no million objects.

    The concatenation of ``parts``, each a run of equal chunks over one input
    (``(input, first, n_events, event_offset)``), numbered consecutively from
    ``start_index``.  Indexing, slicing, ``len`` and iteration behave as on
    the list of items.
    """

    __slots__ = ("source", "run", "chunk_size", "start_index", "_parts", "_starts")

    def __init__(self, source: str, run: int, chunk_size: int, parts=(), start_index: int = 0):
        self.source, self.run, self.chunk_size, self.start_index = source, run, max(1, int(chunk_size)), start_index
        self._parts: list[tuple[str | None, int, int, int]] = []
        self._starts = [0]  # item number of each part's first item; the last entry is len(self)
        for part in parts:
            self.add(*part)

    def add(self, input: str | None, first: int, n_events: int, event_offset: int = 0) -> None:
        """Append the chunks of events ``first`` .. ``first + n_events - 1`` of ``input``."""
        if n_events > 0:
            self._parts.append((input, first, n_events, event_offset))
            self._starts.append(self._starts[-1] + -(-n_events // self.chunk_size))

    def __len__(self) -> int:
        return self._starts[-1]

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        n = len(self)
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise IndexError("work item index out of range")
        p = bisect.bisect_right(self._starts, k) - 1
        input, first, n_events, event_offset = self._parts[p]
        lo = first + (k - self._starts[p]) * self.chunk_size
        return WorkItem(self.start_index + k, self.source, input, lo, min(lo + self.chunk_size, first + n_events),
                        self.run, event_offset)

    def __iter__(self):
        k = self.start_index
        for input, first, n_events, event_offset in self._parts:
            end = first + n_events
            for lo in range(first, end, self.chunk_size):
                yield WorkItem(k, self.source, input, lo, min(lo + self.chunk_size, end), self.run, event_offset)
                k += 1

    def __repr__(self) -> str:
        return f"<{len(self)} work items of {self.source}>"


def split_range(source: str, input: str | None, n_events: int, chunk_size: int, run: int,
                start_index: int = 0, offset: int = 0, event_offset: int = 0) -> WorkItems:
    """Work items covering events ``offset`` .. ``offset + n_events - 1`` in chunks (computed when asked for)."""
    return WorkItems(source, run, chunk_size, [(input, offset, n_events, event_offset)], start_index)


def expand_files(patterns: list[str], extension: str, owner: str, log=None) -> list[str]:
    """Files named by paths, glob patterns or folders (all ``*extension`` inside, sorted).

    A file named more than once (a folder and one of its files, overlapping
    globs, a symbolic link and its target) is listed once, at its first
    place; with ``log``, a warning names it.
    """
    files: list[str] = []
    seen: dict[str, tuple[str, str]] = {}  # real path -> (path as listed, pattern that named it)
    repeated: list[str] = []
    for pattern in patterns:
        if os.path.isdir(pattern):
            found = sorted(glob.glob(os.path.join(pattern, "**", "*" + extension), recursive=True))
        else:
            found = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
        missing = [f for f in found if not os.path.exists(f)]
        if not found or missing:
            raise ConfigurationError(f"{owner}: no input file matches {pattern!r}")
        for path in found:
            real = os.path.realpath(path)
            if real in seen:
                first, by = seen[real]
                repeated.append(f"{path!r} (named by {pattern!r}; also named by {by!r})" if path == first else
                                f"{path!r} (named by {pattern!r}; the same file as {first!r})")
                continue
            seen[real] = (path, pattern)
            files.append(path)
    if not files:
        raise ConfigurationError(f"{owner}: no input files given (property 'files')")
    if repeated and log is not None:
        more = f" and {len(repeated) - 3} more" if len(repeated) > 3 else ""
        log.warning("%s: input files named more than once in 'files' are read once: %s%s",
                    owner, "; ".join(repeated[:3]), more)
    return files


def items_over_files(source: str, counts: list[tuple[str, int]], evt_max: int, chunk_size: int,
                     run: int) -> WorkItems:
    """Work items over files with ``counts`` entries each; chunks never cross files.

    Each item's ``event_offset`` is the number of entries in the files before
    its own (numbering for inputs without event numbers).
    """
    items = WorkItems(source, run, chunk_size)
    remaining = evt_max if evt_max >= 0 else sum(n for _, n in counts)
    before = 0
    for path, n in counts:
        if remaining <= 0:
            break
        take = min(n, remaining)  # an empty file (a part with no accepted events) is skipped, not the end
        items.add(path, 0, take, before)
        remaining -= take
        before += n
    return items


@dataclass(frozen=True)
class InputFile:
    """What a :class:`FileSource` found in one file, from its metadata."""

    path: str
    n_events: int
    keys: tuple[str, ...]  # collections (or branches) it carries, in file order
    has_event_numbers: bool = True


MAGIC = {b"root": "ROOT", b"\x89HDF\r\n\x1a\n": "HDF5"}
OTHER_FORMAT = {"empty": "zero bytes", "ROOT": "it is a ROOT file: read it with RootSource",
                "HDF5": "it is an HDF5 file: read it with Hdf5Source", None: "unknown format"}


def file_format(path: str, source: str) -> str | None:
    """``"ROOT"``, ``"HDF5"``, ``"empty"`` or None (something else), from the first bytes of ``path``.

    Raises :class:`~hepreco.framework.errors.InputFileError` for a file that
    cannot be read at all.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise InputFileError(source, path, f"cannot be read ({exc.strerror or exc})") from None
    if not head:
        return "empty"
    return next((fmt for magic, fmt in MAGIC.items() if head.startswith(magic)), None)


def _files_phrase(paths: list[str], n_files: int) -> str:
    shown = ", ".join(repr(p) for p in paths[:3])
    if len(paths) > 3:
        shown += f" and {len(paths) - 3} more"
    if len(paths) == n_files and n_files > 1:
        return f"any of the {n_files} input files ({shown})"
    return shown


class FileSource(EventSource):
    """Base of sources reading files: one file list, every file checked when the job is built.

    Subclasses declare ``files`` (a Property), set ``extension``, ``what``
    (``"branch"``, ``"collection"``) and ``what_property`` (the property that
    selects them), and implement
    :meth:`inspect` (read one file's metadata, raise
    :class:`~hepreco.framework.errors.InputFileError` when it cannot be
    used), :meth:`requested` and :meth:`read`.
    """

    extension: str = ""
    what: str = "collection"
    what_property: str = "collections"
    files: Any = ()

    def inspect(self, path: str) -> InputFile:
        """Number of events and keys of ``path``, from its metadata only."""
        raise NotImplementedError

    def requested(self) -> dict[str, str] | None:
        """``{store key: name in the file}`` asked for, or None for everything in the first file."""
        raise NotImplementedError

    def input_files(self, log=None) -> list[str]:
        """The input files, each once, in the order ``files`` names them."""
        return expand_files(list(self.files), self.extension, self.name, log)

    def scan(self) -> list[InputFile]:
        """Inspect every input file and check it carries the requested keys (cached)."""
        cached = self.__dict__.get("_scan")
        if cached is not None and cached[0] == self.config_hash():
            return cached[1]
        found = [self.inspect(path) for path in self.input_files(self.log)]
        mapping = self.requested()
        first = found[0]
        wanted = list(mapping.values()) if mapping is not None else list(first.keys)
        problems = []
        for name in dict.fromkeys(wanted):
            lacking = [f for f in found if name not in f.keys]
            if not lacking:
                continue
            where = _files_phrase([f.path for f in lacking], len(found))
            if mapping is None:
                problems.append(f"{self.what} {name!r} of the first input file {first.path!r} (which sets what "
                                f"this source provides) is not in {where}")
            else:
                keys = [k for k, v in mapping.items() if v == name]
                asked = f" (store key {keys[0]!r})" if keys and keys[0] != name else ""
                having = len(found) - len(lacking)
                others = "" if not having else \
                    f" (the other {having} input file{'s' if having > 1 else ''} ha{'ve' if having > 1 else 's'} it)"
                problems.append(f"{self.what} {name!r}{asked} is not in {where}{others}; "
                                f"{suggestion(name, [k for f in lacking for k in f.keys])}")
        if problems:
            hint = "" if mapping is not None else f"; list the ones every file has in '{self.what_property}'"
            raise ConfigurationError(f"{self.name}: " + "; ".join(problems) + hint)
        numbered = [f for f in found if f.has_event_numbers]
        if numbered and len(numbered) < len(found):
            other = next(f for f in found if not f.has_event_numbers)
            raise ConfigurationError(
                f"{self.name}: {numbered[0].path!r} carries event numbers but {other.path!r} does not, so "
                "their (run, event) ids could repeat; read such files in separate jobs")
        self.__dict__["_scan"] = (self.config_hash(), found)
        return found

    def check_inputs(self) -> None:
        self.scan()

    def mapping(self) -> dict[str, str]:
        """``{store key: name in the file}`` read from every file."""
        requested = self.requested()
        if requested is not None:
            return requested
        cached = self.__dict__.get("_scan")
        if cached is not None and cached[0] == self.config_hash():
            first = cached[1][0]
        else:  # a worker: the client checked every file, the first one says what there is
            first = self.__dict__.get("_first")
            if first is None:
                first = self.__dict__["_first"] = self.inspect(self.input_files()[0])
        return {k: k for k in first.keys}

    def provides(self) -> list[str]:
        return list(self.mapping())

    def work_items(self, evt_max: int, chunk_size: int, run: int) -> list[WorkItem]:
        counts = [(f.path, f.n_events) for f in self.scan()]
        return items_over_files(self.name, counts, evt_max, chunk_size, run)
