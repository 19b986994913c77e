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


class DataFlowError(ConfigurationError):
    """Inputs without producer, duplicate producers or cycles between algorithms."""


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


class Interrupted(KeyboardInterrupt):
    """The job was asked to stop by a signal (SIGTERM): handled as Ctrl-C (KeyboardInterrupt) is."""

    def __init__(self, signum: int):
        import signal

        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")
