"""Messages through stdlib logging, one logger per component.

Loggers are named ``hepreco.<component name>``.  The MessageSvc sets the
global level and per-component levels, and counts warnings and errors per
component; the counts appear in the job summary and ``report.json``.
"""
from __future__ import annotations

import logging
import sys

from ..component import Property
from . import Service

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class _Counter(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.counts: dict[str, dict[str, int]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        name = record.name.removeprefix("hepreco.")
        row = self.counts.setdefault(name, {})
        row[record.levelname] = row.get(record.levelname, 0) + 1


def _check_levels(value: dict) -> None:
    bad = {k: v for k, v in value.items() if str(v).upper() not in LEVELS}
    if bad:
        raise ValueError(f"levels must be one of {', '.join(LEVELS)}, got {bad}")


class MessageSvc(Service):
    """Logging set-up: levels per component and warning/error counters."""

    level = Property("INFO", doc="level of every component not listed in 'levels'", choices=LEVELS)
    levels = Property({}, doc="level per component name, e.g. {TruthHistograms: DEBUG}", validator=_check_levels)
    format = Property("%(levelname)-7s %(name)s: %(message)s", doc="logging format string")

    _handler: logging.Handler | None = None
    _propagated = True

    def __init__(self, name: str | None = None, **values):
        super().__init__(name, **values)
        self.counter = _Counter()

    def initialize(self) -> None:
        root = logging.getLogger("hepreco")
        root.setLevel(self.level)
        self._propagated = root.propagate
        root.propagate = False  # printed once, by the handler below, not again by an application's root logger
        if MessageSvc._handler is None:
            MessageSvc._handler = logging.StreamHandler(sys.stderr)
            root.addHandler(MessageSvc._handler)
        MessageSvc._handler.setFormatter(logging.Formatter(self.format))
        for h in [h for h in root.handlers if isinstance(h, _Counter)]:
            root.removeHandler(h)
        root.addHandler(self.counter)
        for component, level in self.levels.items():
            logging.getLogger(f"hepreco.{component}").setLevel(str(level).upper())

    def finalize(self) -> None:
        root = logging.getLogger("hepreco")
        root.removeHandler(self.counter)
        root.propagate = self._propagated  # a job run inside a notebook or a test leaves logging as it found it

    def harvest(self) -> dict[str, dict[str, int]]:
        out, self.counter.counts = self.counter.counts, {}
        return out

    @staticmethod
    def merge(tables) -> dict[str, dict[str, int]]:
        total: dict[str, dict[str, int]] = {}
        for table in tables:
            for name, row in table.items():
                dst = total.setdefault(name, {})
                for level, n in row.items():
                    dst[level] = dst.get(level, 0) + n
        return total
