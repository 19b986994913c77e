"""Histograms booked per algorithm, merged across chunks and workers.

Algorithms book ``hist`` histograms in ``initialize`` (``self.book(...)``) and
fill them in ``execute``.  After each work item the service hands over what
was filled and starts from zero, so the client can merge the items in a fixed
order (the same result under any executor) and a resumed job can reuse the
items it already has.  The merged histograms are written to one ROOT file
(through uproot) and drawn to PNG files.
"""
from __future__ import annotations

import os
from typing import Iterable

import hist
import numpy as np

from ..component import Property
from . import Service


class HistogramSvc(Service):
    """Books, harvests, merges and writes histograms."""

    file = Property("histograms.root", doc="ROOT file (in the output folder) receiving all histograms; "
                    "empty: none")
    png = Property(True, doc="draw every histogram to PNG")
    png_dir = Property("plots", doc="folder (in the output folder) for the PNG files")

    def __init__(self, name: str | None = None, **values):
        super().__init__(name, **values)
        self.booked: dict[str, hist.Hist] = {}

    def book(self, owner: str, name: str, *axes, title: str = "", storage=None) -> hist.Hist:
        """Book the histogram ``owner/name`` with ``hist.axis`` axes.

        Parameters
        ----------
        owner
            Name of the booking component (histograms are grouped by owner).
        name
            Histogram name, unique per owner.
        axes
            ``hist.axis.Regular(...)`` and friends; give them a ``label``
            with the unit, it becomes the PNG's axis title.
        title
            Plot title.
        storage
            ``hist.storage.Double()`` (default) or ``hist.storage.Weight()``.
        """
        key = f"{owner}/{name}"
        if key in self.booked:
            raise ValueError(f"histogram {key!r} is booked twice")
        h = hist.Hist(*axes, storage=storage or hist.storage.Double(), name=name, label=title or name)
        self.booked[key] = h
        return h

    def owned(self, owner: str) -> dict[str, hist.Hist]:
        prefix = owner + "/"
        return {k: h for k, h in self.booked.items() if k.startswith(prefix)}

    def snapshot(self, owner: str) -> dict[str, np.ndarray] | None:
        """Copy of the contents of ``owner``'s histograms (None when it has none)."""
        owned = self.owned(owner)
        if not owned:
            return None
        return {k: np.copy(h.view(flow=True)) for k, h in owned.items()}

    def restore(self, owner: str, snap: dict[str, np.ndarray] | None) -> None:
        for k, values in (snap or {}).items():
            self.booked[k].view(flow=True)[...] = values

    def harvest(self) -> dict[str, hist.Hist]:
        out = {k: h.copy() for k, h in self.booked.items()}
        for h in self.booked.values():
            h.reset()
        return out

    @staticmethod
    def merge(items: Iterable[dict[str, hist.Hist]], total: dict[str, hist.Hist] | None = None) -> dict[str, hist.Hist]:
        """Sum harvested histograms, in the order given (onto ``total`` when given, which is updated)."""
        total = {} if total is None else total
        for item in items:
            for k, h in item.items():
                total[k] = h.copy() if k not in total else total[k] + h
        return total

    def write(self, hists: dict[str, hist.Hist], output_dir: str) -> list[str]:
        """Write the ROOT file and draw the PNGs here; return the paths written."""
        tasks = self.drawing_tasks(hists, output_dir)
        return self.write_root(hists, output_dir) + self.drawn(tasks, [draw_task(t) for t in tasks])

    def write_root(self, hists: dict[str, hist.Hist], output_dir: str) -> list[str]:
        """Write the ROOT file (none when ``file`` is empty or nothing was booked); return its path."""
        if not (self.file and hists):
            return []
        import uproot

        path = os.path.join(output_dir, self.file)
        tmp = path + ".tmp"
        with uproot.recreate(tmp) as f:
            for k, h in sorted(hists.items()):
                f[k] = h
        os.replace(tmp, path)
        return [path]

    def drawing_tasks(self, hists: dict[str, hist.Hist], output_dir: str) -> list[tuple[hist.Hist, str, str]]:
        """``(histogram, PNG path, owner)`` for :func:`draw_task`, one per histogram (none when ``png`` is off).

        The owner is the algorithm that booked it (the part of the key before ``/``), for the title.
        The tasks are picklable: the event loop has the executor's workers draw them.
        """
        if not (self.png and hists):
            return []
        folder = os.path.join(output_dir, self.png_dir)
        os.makedirs(folder, exist_ok=True)
        return [(h, os.path.join(folder, k.replace("/", "_") + ".png"), k.rpartition("/")[0])
                for k, h in sorted(hists.items())]

    @staticmethod
    def drawn(tasks: list[tuple], results: list[bool]) -> list[str]:
        """The PNG paths of ``tasks`` that :func:`draw_task` drew (``results``: what it returned)."""
        return [task[1] for task, ok in zip(tasks, results) if ok]


def draw_task(task: tuple) -> bool:
    """Draw one ``(histogram, path, owner)`` task to PNG; False when the histogram cannot be drawn (3D and more)."""
    from .plotting import draw

    return draw(*task)
