"""Per-algorithm timing: wall time, events and calls, merged across workers."""
from __future__ import annotations

from . import Service


class TimingSvc(Service):
    """Accumulates the time each algorithm spends in ``execute``."""

    def __init__(self, name: str | None = None, **values):
        super().__init__(name, **values)
        self.table: dict[str, list[float]] = {}

    def add(self, name: str, seconds: float, n_events: int) -> None:
        row = self.table.setdefault(name, [0.0, 0, 0])
        row[0] += seconds
        row[1] += n_events
        row[2] += 1

    def harvest(self) -> dict[str, list[float]]:
        out, self.table = self.table, {}
        return out

    @staticmethod
    def merge(tables) -> dict[str, dict]:
        """Sum harvested tables; return ``{name: {seconds, events, calls, us_per_event}}``."""
        total: dict[str, list[float]] = {}
        for table in tables:
            for name, (sec, ev, calls) in table.items():
                row = total.setdefault(name, [0.0, 0, 0])
                row[0] += sec
                row[1] += ev
                row[2] += calls
        return {name: {"seconds": sec, "events": int(ev), "calls": int(calls),
                       "us_per_event": 1e6 * sec / ev if ev else 0.0}
                for name, (sec, ev, calls) in total.items()}
