"""Single-particle response and resolution against energy, with plots."""
from __future__ import annotations

import os

import awkward as ak
import hist
import numpy as np

from hepreco.framework import Algorithm, Input, Property, ServiceProperty
from hepreco.framework.manifest import atomic_write_json

from .kernels import cone_sums, fit_resolution, resolution_model

NAMES = {11: "e", 22: "gamma", 211: "pi+", 13: "mu", 111: "pi0", 2212: "p", 2112: "n", 321: "K+", 130: "K0L"}


class CaloResponse(Algorithm):
    """Calibrated cell energy in a cone around each gun particle, over its true energy.

    Books, per particle type, the response E_cone / E_true in bins of true
    energy (histograms) and the sums n, sum r, sum r^2 per bin (``sum``
    accumulators); at the end of the job computes mean and RMS per energy point,
    fits sigma/E = a/sqrt(E) (+) b/E (+) c, and draws response and
    resolution against energy (``calo_response.png``, ``calo_response.json``).
    """

    end_of_job_on_workers = True  # it only writes plots and tables

    particles = Input("TruthParticles", doc="one gun particle per event")
    cells = Input("CaloCells", doc="calibrated cells (event, cell) [GeV]")
    cone = Property(0.35, doc="Delta R of the cone around the particle direction", gt=0)
    energies = Property([5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0], doc="energy points (bin centres)",
                        unit="GeV", items=float)
    pdg_ids = Property([11, 22, 211], doc="particle types to book", items=int)
    geometry_svc = ServiceProperty("GeometrySvc", doc="name of the geometry service")

    def _edges(self) -> np.ndarray:
        e = np.sort(np.asarray(self.energies, dtype=float))
        mid = np.sqrt(e[1:] * e[:-1])
        return np.concatenate([[e[0] * 0.8], mid, [e[-1] * 1.25]])

    def initialize(self) -> None:
        self.geometry = self.services.get(self.geometry_svc).geom
        edges = self._edges()
        self._energy_axis = hist.axis.Variable(edges, label="true energy [GeV]")
        self.h_response, self.moments = {}, {}
        for pdg in self.pdg_ids:
            name = NAMES.get(abs(pdg), str(pdg))
            self.h_response[pdg] = self.book(
                f"response_{name}", hist.axis.Variable(edges, label="true energy [GeV]"),
                hist.axis.Regular(200, 0.0, 2.0, label="E(cone) / E(true)"), title=f"{name} response")
            # sums of 1, r and r^2 per energy point: exact means and RMS, whatever the binning
            self.moments[pdg] = self.accumulate(f"moments_{name}", "sum", shape=(len(edges) - 1, 3))

    def execute(self, store) -> None:
        parts = store[self.particles]
        lead = ak.firsts(parts)
        px, py, pz, e = (ak.to_numpy(ak.fill_none(lead[f], 0.0)) for f in ("px", "py", "pz", "E"))
        pdg = ak.to_numpy(ak.fill_none(lead.pdg_id, 0))
        pt = np.hypot(px, py)
        eta = np.arcsinh(pz / np.maximum(pt, 1e-12))
        phi = np.arctan2(py, px)
        sums = cone_sums(store[self.cells], self.geometry.eta, self.geometry.phi, eta, phi, self.cone)
        r = np.where(e > 0, sums / np.maximum(e, 1e-12), 0.0)
        for code in self.pdg_ids:
            sel = pdg == code
            if sel.any():
                self.h_response[code].fill(e[sel], r[sel])
                i = self._energy_axis.index(e[sel])
                ok = (i >= 0) & (i < self._energy_axis.size)
                for k, w in enumerate((np.ones(sel.sum()), r[sel], r[sel] ** 2)):
                    self.moments[code].add(w[ok], at=(i[ok], np.full(ok.sum(), k)))

    # -- end of job: numbers and plots ------------------------------------------
    def summarise(self, accumulators: dict) -> dict:
        """Mean response, resolution and the a/b/c fit per particle type from the merged moments."""
        points = np.sort(np.asarray(self.energies, dtype=float))
        out = {}
        for pdg in self.pdg_ids:
            name = NAMES.get(abs(pdg), str(pdg))
            moments = accumulators.get(f"moments_{name}")
            if moments is None:
                continue
            n, s1, s2 = (moments.value[:, k] for k in range(3))
            ok = n > 1
            if not ok.any():
                continue
            mean = s1[ok] / n[ok]
            rms = np.sqrt(np.maximum(s2[ok] / n[ok] - mean ** 2, 0.0) * n[ok] / (n[ok] - 1))
            res = rms / mean
            row = {"energy": points[ok].tolist(), "events": n[ok].astype(int).tolist(), "mean": mean.tolist(),
                   "mean_error": (rms / np.sqrt(n[ok])).tolist(), "resolution": res.tolist(),
                   "resolution_error": (res / np.sqrt(2 * (n[ok] - 1))).tolist()}
            if ok.sum() >= 3:
                row["fit"] = fit_resolution(points[ok], res, np.asarray(row["resolution_error"]))
            out[name] = row
        return out

    def end_of_job(self, histograms: dict, output_dir: str, accumulators: dict | None = None) -> list[str]:
        summary = self.summarise(accumulators or {})
        if not summary:
            return []
        json_path = os.path.join(output_dir, "calo_response.json")
        atomic_write_json(json_path, summary, indent=1)
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
        grid = np.geomspace(min(self.energies) * 0.8, max(self.energies) * 1.25, 200)
        for name, row in summary.items():
            line = ax1.errorbar(row["energy"], row["mean"], yerr=row["mean_error"], fmt="o-", label=name)
            ax2.errorbar(row["energy"], row["resolution"], yerr=row["resolution_error"], fmt="o",
                         color=line[0].get_color(), label=name)
            if "fit" in row:
                fit = row["fit"]
                ax2.plot(grid, resolution_model(grid, fit["a"], fit["b"], fit["c"]), color=line[0].get_color(),
                         label=f"{name}: a={fit['a']:.3f}, b={fit['b']:.2f} GeV, c={fit['c']:.4f}")
        ax1.axhline(1.0, color="grey", lw=0.8, ls="--")
        for ax in (ax1, ax2):
            ax.set_xscale("log")
            ax.set_xlabel("true energy [GeV]")
            ax.legend(fontsize=8)
        ax1.set_ylabel(f"<E(cone {self.cone}) / E(true)>")
        ax2.set_ylabel("sigma(E) / E")
        ax2.set_yscale("log")
        fig.suptitle("calorimeter response and resolution")
        fig.tight_layout()
        png_path = os.path.join(output_dir, "calo_response.png")
        fig.savefig(png_path, dpi=100)
        plt.close(fig)
        return [json_path, png_path]
