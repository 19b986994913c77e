"""Exceptions raised by the framework.

Each exception subclasses the builtin that callers would naturally catch
(``KeyError`` for a missing product, ``ValueError`` for a bad configuration),
keeps its details as attributes, and says in its message what failed, where,
and which valid names are closest.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Sequence


def nearest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The ``n`` candidates closest to ``name`` (case-insensitive), best first."""
    candidates = list(dict.fromkeys(str(c) for c in candidates))
    lowered = {c.lower(): c for c in candidates}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    found = [lowered[h] for h in hits]
    # substring matches help with prefixes such as 'Jet' -> 'AntiKtJets'
    for c in candidates:
        if len(found) >= n:
            break
        if c not in found and len(name) >= 3 and name.lower() in c.lower():
            found.append(c)
    if not found:  # an abbreviation of the name: 'm' for 'mass', 'pt' for 'ptjet'
        found = [c for c in candidates if c and name.lower().startswith(c.lower())][-n:][::-1]
    return found


def suggestion(name: str, candidates: Iterable[str]) -> str:
    """A ``did you mean ...?`` phrase, or the list of valid names when none is close."""
    candidates = sorted(set(candidates))
    close = nearest(name, candidates)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    if not candidates:
        return "there are none"
    shown = ", ".join(repr(c) for c in candidates[:12])
    more = f" (and {len(candidates) - 12} more)" if len(candidates) > 12 else ""
    return f"valid names: {shown}{more}"


@dataclass(frozen=True)
class Location:
    """Where a piece of configuration was written: file and line (1-based)."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


def _rebuild(cls, state: dict, message: str):
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class HeprecoError(Exception):
    """Base of every error the framework raises on purpose.

    The command line prints these without a traceback.  They pickle with
    their fields, so they cross process boundaries (worker pools, dask).
    """

    def __reduce__(self):
        return _rebuild, (type(self), dict(self.__dict__), Exception.__str__(self))


class ConfigurationError(HeprecoError, ValueError):
    """A job configuration is invalid; ``location`` says where it was written."""

    def __init__(self, message: str, location: Location | None = None):
        self.location = location
        self.reason = message
        super().__init__(f"{location}: {message}" if location else message)

    def at(self, location: Location) -> "ConfigurationError":
        """The same error (same type and fields) placed at ``location``."""
        return _rebuild(type(self), {**self.__dict__, "location": location}, f"{location}: {self.reason}")


class MissingDependency(ConfigurationError, ModuleNotFoundError):
    """An optional package that the job needs is not installed (see :mod:`hepreco.framework.extras`).

    It is a :class:`ConfigurationError` (the job cannot run as configured here;
    raised while the job is built it carries the job-file location) and a
    :class:`ModuleNotFoundError` (what ``import`` would have raised; ``name``
    is the missing module).  ``extra`` is the hepreco extra that installs it
    and ``install`` the command to run.
    """

    def __init__(self, package: str, extra: str, install: str, needed_by: str = "",
                 location: Location | None = None, detail: str = ""):
        self.package = package
        self.extra = extra
        self.install = install
        self.needed_by = needed_by
        self.detail = detail
        who = f"{needed_by} needs" if needed_by else "hepreco needs"
        state = f"which failed to import ({detail}); reinstall it" if detail else "which is not installed; install it"
        super().__init__(f"{who} the optional package {package!r}, {state} with: {install}", location)
        self.name = package

    def at(self, location: Location) -> "MissingDependency":
        err = super().at(location)
        err.name = self.package  # ImportError.name is not part of __dict__
        return err

    def __reduce__(self):
        rebuild, args = super().__reduce__()
        return rebuild, args, {"name": self.package}  # BaseException.__setstate__ sets it as an attribute


class PropertyError(ConfigurationError, TypeError):
    """A property was given a value of the wrong type or outside its range."""

    def __init__(self, owner: str, prop: str, message: str, location: Location | None = None):
        self.owner = owner
        self.prop = prop
        self.detail = message
        super().__init__(f"{owner}.{prop}: {message}", location)


class UnknownNameError(ConfigurationError, KeyError):
    """A name (algorithm type, property, service, key) that does not exist."""

    def __init__(self, what: str, name: str, candidates: Sequence[str], location: Location | None = None,
                 context: str = ""):
        self.what = what
        self.name = name
        self.candidates = list(candidates)
        where = f" in {context}" if context else ""
        super().__init__(f"unknown {what} {name!r}{where}; {suggestion(name, candidates)}", location)

    def __str__(self) -> str:  # KeyError would repr() the message
        return Exception.__str__(self)


class UnknownAttributeError(UnknownNameError, AttributeError):
    """A component was given an attribute that is none of its properties, inputs or outputs (a typo)."""


class NotInAJobError(HeprecoError, AttributeError):
    """A component used its services outside a job (run it with ``hepreco.framework.testing``)."""


class MergeError(HeprecoError, TypeError):
    """Two results that cannot be merged (accumulators of different kinds or shapes)."""


class AccumulatorError(HeprecoError, ValueError):
    """An accumulator was used beyond what it is meant for (e.g. too many records)."""


class ArtefactError(ConfigurationError):
    """An artefact (calibration table, conditions, weights) is corrupt, unreadable or does not fit the job."""


class MissingArtefact(ArtefactError, KeyError):
    """An artefact named in the job was not found; the message says where it was searched and how to derive it."""

    def __init__(self, who: str, request: str, detail: str, hint: str = "", location: Location | None = None):
        self.who = who
        self.request = request
        text = f"{who}: no artefact {request}: {detail}"
        super().__init__(text + (f"; {hint}" if hint else ""), location)

    def __str__(self) -> str:
        return Exception.__str__(self)


class DataFlowError(ConfigurationError):
    """Inputs without producer, duplicate producers or cycles between algorithms."""


class InputFileError(ConfigurationError):
    """An input file a source cannot read: ``path`` and what is wrong with it (``problem``)."""

    def __init__(self, source: str, path: str, problem: str, location: Location | None = None):
        self.source = source
        self.path = path
        self.problem = problem
        super().__init__(f"{source}: {path}: {problem}", location)


class MissingProduct(HeprecoError, KeyError):
    """A key was read from the event store but nobody put it there."""

    def __init__(self, key: str, available: Sequence[str], reader: str | None = None):
        self.key = key
        self.available = list(available)
        self.reader = reader
        who = f" (read by {reader})" if reader else ""
        super().__init__(f"no product {key!r} in the event store{who}; {suggestion(key, available)}")

    def __str__(self) -> str:
        return Exception.__str__(self)


class DuplicateProduct(HeprecoError, KeyError):
    """A key was put twice into the same (write-once) event store."""

    def __init__(self, key: str, first: str, second: str):
        self.key = key
        self.first = first
        self.second = second
        super().__init__(f"product {key!r} was already put by {first!r}; {second!r} may not put it again "
                         "(the event store is write-once)")

    def __str__(self) -> str:
        return Exception.__str__(self)


class UndeclaredOutput(HeprecoError, KeyError):
    """An algorithm put a key that it did not declare as an ``Output``."""

    def __init__(self, key: str, producer: str, declared: Sequence[str]):
        self.key = key
        super().__init__(f"{producer} put {key!r}, which is not one of its declared outputs; "
                         f"{suggestion(key, declared)}")

    def __str__(self) -> str:
        return Exception.__str__(self)


class AlgorithmError(HeprecoError, RuntimeError):
    """An algorithm raised while processing events (re-raised with its context)."""

    def __init__(self, algorithm: str, events: Sequence[tuple[int, int]], cause: BaseException):
        self.algorithm = algorithm
        self.events = list(events)
        self.exception = type(cause).__name__
        self.message = str(cause)
        span = ""
        if self.events:
            first, last = self.events[0], self.events[-1]
            span = (f" on event (run {first[0]}, event {first[1]})" if len(self.events) == 1 else
                    f" on events (run {first[0]}, event {first[1]}) .. (run {last[0]}, event {last[1]})")
        super().__init__(f"{algorithm} failed{span}: {type(cause).__name__}: {cause}")


class JobAborted(HeprecoError, RuntimeError):
    """The job stopped because a work item failed and could not be recovered."""


class StreamError(HeprecoError, RuntimeError):
    """An event source or output stream failed on a work item."""


_OUTPUT_HINTS = {
    "ENOSPC": "the disk is full: free some space, then rerun with --resume to continue",
    "EDQUOT": "the disk quota is exceeded: free some space, then rerun with --resume to continue",
    "EACCES": "no permission to write there: fix the folder's permissions or choose another --output-dir",
    "EPERM": "no permission to write there: fix the folder's permissions or choose another --output-dir",
    "EROFS": "the file system is read-only: choose another --output-dir",
    "EEXIST": "a file is in the way where a folder should be: remove it or choose another --output-dir",
    "ENOTDIR": "a file is in the way where a folder should be: remove it or choose another --output-dir",
}


class OutputError(HeprecoError, OSError):
    """The output folder cannot be written: a file in the way, no permission, a read-only or full disk.

    ``errno`` is that of the underlying :class:`OSError` (e.g. ``errno.ENOSPC``).
    """

    def __init__(self, folder: str, code: int | None, detail: str):
        self.folder = folder
        self.detail = detail
        super().__init__(f"cannot write output folder {folder}: {detail}")
        self.errno = code

    @classmethod
    def from_os_error(cls, folder: str, exc: OSError) -> "OutputError":
        import errno as errno_names

        what = exc.strerror or str(exc)
        if exc.filename:
            what += f" ({exc.filename})"
        hint = _OUTPUT_HINTS.get(errno_names.errorcode.get(exc.errno or 0, ""))
        return cls(folder, exc.errno, f"{what}; {hint}" if hint else what)

    def __reduce__(self):
        return type(self), (self.folder, self.errno, self.detail)

    def __str__(self) -> str:
        return Exception.__str__(self)
class Interrupted(KeyboardInterrupt):
    """The job was asked to stop by a signal (SIGTERM): handled as Ctrl-C (KeyboardInterrupt) is."""

    def __init__(self, signum: int):
        import signal

        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")
