"""Histograms of jets and their substructure, and the jet response against truth."""
from __future__ import annotations

import os

import awkward as ak
import hist
import numpy as np

from hepreco.framework import Algorithm, Input, Property
from hepreco.framework.manifest import atomic_write_json


class JetHistograms(Algorithm):
    """pT, eta, multiplicity of jets; with a substructure collection also mass, soft-drop mass, tau21, tau32, C2, D2."""

    jets = Input("AntiKt4EMJets", doc="jets (pt [GeV], eta)")
    substructure = Input("JetSubstructure", doc="per-jet substructure of the same jets (read when "
                         "'with_substructure')", optional=True)
    with_substructure = Property(False, doc="also histogram mass, soft-drop mass, tau21, tau32, C2, D2")
    pt_min = Property(20.0, doc="histogram jets above this pT", unit="GeV", ge=0)
    leading_only = Property(False, doc="only the leading jet of each event")

    def initialize(self) -> None:
        self.h_pt = self.book("pt", hist.axis.Regular(50, 0, 1000, label="jet $p_T$ [GeV]"), title="jet pT")
        self.h_eta = self.book("eta", hist.axis.Regular(50, -5, 5, label=r"jet $\eta$"), title="jet eta")
        self.h_n = self.book("n", hist.axis.Integer(0, 20, label="jets per event"), title="jet multiplicity")
        if self.with_substructure:
            axes = {"m": (60, 0, 300, "jet mass [GeV]"), "sd_m": (60, 0, 300, "soft-drop mass [GeV]"),
                    "tau21": (50, 0, 1.2, r"$\tau_{21}$"), "tau32": (50, 0, 1.2, r"$\tau_{32}$"),
                    "c2": (50, 0, 0.6, "$C_2$"), "d2": (50, 0, 5, "$D_2$")}
            self.h_sub = {k: self.book(k, hist.axis.Regular(n, lo, hi, label=label), title=k)
                          for k, (n, lo, hi, label) in axes.items()}

    def execute(self, store) -> None:
        jets = store[self.jets]
        keep = jets.pt > self.pt_min
        if self.leading_only:
            keep = keep & (ak.local_index(jets.pt, axis=1) == 0)
        selected = jets[keep]
        self.h_pt.fill(ak.to_numpy(ak.flatten(selected.pt)))
        self.h_eta.fill(ak.to_numpy(ak.flatten(selected.eta)))
        self.h_n.fill(ak.to_numpy(ak.num(selected, axis=1)))
        if self.with_substructure:
            sub = store[self.substructure][keep]
            for k, h in self.h_sub.items():
                h.fill(ak.to_numpy(ak.flatten(sub[k])))


class JetResponse(Algorithm):
    """Jet response pT(reco)/pT(truth) and resolution against truth pT for matched jets (end-of-job plot)."""

    end_of_job_on_workers = True  # it only writes plots and tables

    jets = Input("AntiKt4EMJets", doc="reco jets")
    truth = Input("AntiKt4TruthJets", doc="truth jets")
    matched = Input("AntiKt4Match", doc="JetTruthMatcher output for the reco jets")
    pt_edges = Property([20.0, 30.0, 45.0, 70.0, 100.0, 150.0, 220.0, 330.0, 500.0, 750.0, 1100.0, 1600.0],
                        doc="truth pT bins", unit="GeV", items=float)
    eta_max = Property(2.0, doc="use truth jets within |eta| < eta_max", gt=0)

    def initialize(self) -> None:
        axis = self._pt_axis = hist.axis.Variable(self.pt_edges, label="truth jet $p_T$ [GeV]")
        # sums of 1, r and r^2 per truth pT bin: exact means and RMS after merging
        self.moments = self.accumulate("moments", "sum", shape=(axis.size, 3))
        self.h_r = self.book("response", axis, hist.axis.Regular(60, 0.0, 1.5, label="$p_T$(reco) / $p_T$(truth)"),
                             title="jet response")

    def execute(self, store) -> None:
        jets, truth, match = store[self.jets], store[self.truth], store[self.matched]
        ok = match.index >= 0
        t = truth[ak.where(ok, match.index, 0)][ok]
        r = ak.to_numpy(ak.flatten(jets.pt[ok] / t.pt))
        pt = ak.to_numpy(ak.flatten(t.pt))
        sel = np.abs(ak.to_numpy(ak.flatten(t.eta))) < self.eta_max
        r, pt = r[sel], pt[sel]
        self.h_r.fill(pt, r)
        i = self._pt_axis.index(pt)
        ok = (i >= 0) & (i < self._pt_axis.size)
        for k, w in enumerate((np.ones_like(r), r, r * r)):
            self.moments.add(w[ok], at=(i[ok], np.full(ok.sum(), k)))

    def end_of_job(self, histograms: dict, output_dir: str, accumulators: dict | None = None) -> list[str]:

        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

        m = (accumulators or {})["moments"].value
        n, s1, s2 = m[:, 0], m[:, 1], m[:, 2]
        ok = n > 1
        if not ok.any():
            return []
        centres = np.sqrt(np.asarray(self.pt_edges[:-1]) * np.asarray(self.pt_edges[1:]))[ok]
        mean = s1[ok] / n[ok]
        rms = np.sqrt(np.maximum(s2[ok] / n[ok] - mean ** 2, 0) * n[ok] / (n[ok] - 1))
        table = {"pt": centres.tolist(), "events": n[ok].astype(int).tolist(), "response": mean.tolist(),
                 "response_error": (rms / np.sqrt(n[ok])).tolist(), "resolution": (rms / mean).tolist()}
        json_path = os.path.join(output_dir, f"{self.name}.json")
        atomic_write_json(json_path, table, indent=1)
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        a1.errorbar(centres, mean, yerr=table["response_error"], fmt="o")
        a1.axhline(1.0, color="grey", ls="--", lw=0.8)
        a1.set_ylabel("<pT(reco) / pT(truth)>")
        a2.plot(centres, table["resolution"], "o")
        a2.set_ylabel("sigma / mean")
        for ax in (a1, a2):
            ax.set_xscale("log")
            # labels at 1-2-5 steps: the default minor labels (3x10^1, 4x10^1) overlap on a short range
            ax.xaxis.set_major_locator(FixedLocator([10, 20, 50, 100, 200, 500, 1000, 2000, 5000]))
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("truth jet pT [GeV]")
        fig.suptitle(f"{self.name}: {self.jets} against {self.truth}")
        fig.tight_layout()
        png_path = os.path.join(output_dir, f"{self.name}.png")
        fig.savefig(png_path, dpi=90)
        plt.close(fig)
        return [json_path, png_path]
