"""Cell-level monitoring: energy sums per layer kind, and an eta-phi event display per layer."""
from __future__ import annotations

import os

import hist
import numpy as np

from hepreco.framework import Algorithm, Input, Property, ServiceProperty


class CaloCellHistograms(Algorithm):
    """Per-event energy in the EM and hadronic layers, and the cell energy spectrum."""

    cells = Input("CaloCells", doc="calibrated cells (event, cell) [GeV]")
    geometry_svc = ServiceProperty("GeometrySvc", doc="name of the geometry service")

    def initialize(self) -> None:
        g = self.services.get(self.geometry_svc).geom
        self.em_layers = [g.layer_slice(i) for i in range(g.n_layers) if g.layer_kind[i] == 0]
        self.had_layers = [g.layer_slice(i) for i in range(g.n_layers) if g.layer_kind[i] != 0]
        self.h_em = self.book("energy_em", hist.axis.Regular(60, -50, 550, label="sum of EM cells [GeV]"),
                              title="energy in the EM layers")
        self.h_had = self.book("energy_had", hist.axis.Regular(60, -50, 550, label="sum of hadronic cells [GeV]"),
                               title="energy in the hadronic layers")
        self.h_cell = self.book("cell_energy", hist.axis.Regular(60, 0.05, 500, transform=hist.axis.transform.log,
                                                                  label="cell energy [GeV]"),
                                title="cell energies above 50 MeV")

    def execute(self, store) -> None:
        cells = store[self.cells]
        for h, layers in ((self.h_em, self.em_layers), (self.h_had, self.had_layers)):
            h.fill(sum((cells[:, sl].sum(axis=1, dtype=np.float64) for sl in layers), np.zeros(len(cells))))
        self.h_cell.fill(cells[cells > 0.05])


class CaloEventDisplay(Algorithm):
    """Cell energies of one event in eta-phi, one panel per layer (``event_display_<run>_<event>.png``)."""

    end_of_job_on_workers = True  # it only writes plots and tables

    cells = Input("CaloCells", doc="calibrated cells (event, cell) [GeV]")
    event = Property(0, doc="event number to display", ge=0)
    run = Property(-1, doc="run of that event (-1: any run)")
    threshold = Property(3.0, doc="show cells with E above this many noise sigma", unit="sigma", ge=0)
    geometry_svc = ServiceProperty("GeometrySvc", doc="name of the geometry service")
    conditions_svc = ServiceProperty("ConditionsSvc", doc="name of the conditions service (cell noise)")

    def initialize(self) -> None:
        g = self.geometry = self.services.get(self.geometry_svc).geom
        self.maps = []
        for layer, name in enumerate(g.layer_names):
            self.maps.append(self.book(
                f"layer_{name}",
                hist.axis.Regular(int(g.layer_n_eta[layer]), g.layer_eta_min[layer], g.layer_eta_max[layer],
                                  label=r"$\eta$"),
                hist.axis.Regular(int(g.layer_n_phi[layer]), g.layer_phi_min[layer],
                                  g.layer_phi_min[layer] + g.layer_n_phi[layer] * g.layer_dphi[layer],
                                  label=r"$\phi$ [rad]"),
                title=f"event {self.event}: {name} cell energy [GeV]"))

    def execute(self, store) -> None:
        ids = store.event_ids
        hit = np.flatnonzero((ids["event"] == self.event) & ((ids["run"] == self.run) | (self.run < 0)))
        if len(hit) == 0:
            return
        ids = ids[hit[0]]
        noise = self.services.get(self.conditions_svc).for_run(int(ids["run"]))["cell_noise"]
        row = store[self.cells][hit[0]]
        row = np.where(row > self.threshold * noise, row, 0.0)
        g = self.geometry
        for layer, h in enumerate(self.maps):
            cells = g.layer_slice(layer)
            h.fill(g.eta[cells], g.phi[cells], weight=row[cells])

    def end_of_job(self, histograms: dict, output_dir: str) -> list[str]:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
        from matplotlib.colors import LogNorm

        maps = [histograms[f"layer_{name}"] for name in self.geometry_names()]
        if not any(h.values().any() for h in maps):
            return []
        ncol = 4
        nrow = (len(maps) + ncol - 1) // ncol
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.6 * nrow), squeeze=False)
        # fixed margins: tight_layout draws the whole grid twice and was most of this method's time
        fig.subplots_adjust(left=0.04, right=0.98, bottom=0.5 / (3.6 * nrow), top=1 - 0.7 / (3.6 * nrow),
                            wspace=0.35, hspace=0.45)
        for ax, h, name in zip(axes.flat, maps, self.geometry_names()):
            values = np.clip(h.values().T, 0.0, None)
            top = values.max()
            norm = LogNorm(vmin=max(top * 1e-4, 1e-3), vmax=top) if top > 0 else None
            shown = np.where(values > 0, values, np.nan)
            ex, ey = h.axes[0].edges, h.axes[1].edges
            if _uniform(ex) and _uniform(ey):  # a regular grid of cells: an image, drawn faster than a mesh
                mesh = ax.imshow(shown, extent=(ex[0], ex[-1], ey[0], ey[-1]), origin="lower", aspect="auto",
                                 interpolation="nearest", norm=norm, cmap="inferno")
            else:
                mesh = ax.pcolormesh(ex, ey, shown, norm=norm, cmap="inferno")
            ax.set_title(f"{name}  (sum {values.sum():.1f} GeV)", fontsize=9, y=1.01)  # fixed: no layout pass
            ax.set_xlabel(r"$\eta$")
            ax.set_ylabel(r"$\phi$")
            ax.set_facecolor("#101010")
            fig.colorbar(mesh, ax=ax, label="GeV").ax.minorticks_off()  # decades only: a third of the drawing
        for ax in list(axes.flat)[len(maps):]:
            ax.axis("off")
        fig.suptitle(f"event {self.event}: calibrated cell energies above {self.threshold:g} sigma of noise")
        path = os.path.join(output_dir, f"event_display_{self.event}.png")
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return [path]

    def geometry_names(self) -> list[str]:
        return list(self.services.get(self.geometry_svc).geom.layer_names) if self.services else []


def _uniform(edges: np.ndarray) -> bool:
    """Whether bin ``edges`` are equally spaced (to float rounding)."""
    widths = np.diff(edges)
    return widths.size > 0 and bool(np.allclose(widths, widths[0], rtol=1e-6, atol=0.0))
