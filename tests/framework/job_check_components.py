"""A component with a whole-job check (``check_job``): a sequence it names must run before it."""
from __future__ import annotations

import os

from hepreco.framework import Algorithm, ConfigurationError, Property, hookimpl


class AfterSequence(Algorithm):
    """Needs the component ``sequence`` to run before it; appends one line per ``check_job`` call to ``log``."""

    sequence = Property("Selected", doc="the sequence that must run before this algorithm")
    log = Property("", doc="file receiving one line (the process id) per check_job call")

    def check_job(self, job):
        if self.log:
            with open(self.log, "a") as f:
                f.write(f"{os.getpid()}\n")
        order = [c.name for c in job.top.walk()]
        if self.sequence not in order[:order.index(self.name)]:
            raise ConfigurationError(f"{self.name}: no sequence {self.sequence!r} runs before it; add one")

    def execute(self, store):
        pass


@hookimpl
def hepreco_register_algorithms():
    return [AfterSequence]
