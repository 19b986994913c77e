"""Histograms of jets and their substructure, and overlays of several jobs' histograms."""
from __future__ import annotations

import os

import awkward as ak
import hist
import numpy as np

from hepreco.framework import Algorithm, Input, Property


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


def overlay(outputs: dict[str, str], owner: str, names: list[str], output: str) -> str:
    """Draw the histograms ``owner/name`` of several finished jobs, normalised, one panel per name.

    ``outputs`` maps a legend label to a job's output folder (its ``histograms.root``).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import uproot

    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 4), squeeze=False)
    for label, folder in outputs.items():
        with uproot.open(os.path.join(folder, "histograms.root")) as f:
            for ax, name in zip(axes[0], names):
                h = f[f"{owner}/{name}"]
                values, edges = h.values(), h.axis().edges()
                total = values.sum()
                ax.stairs(values / total if total > 0 else values, edges, label=label, linewidth=1.5)
                ax.set_xlabel(h.axis().member("fTitle") or name)
    for ax in axes[0]:
        ax.set_ylabel("fraction of jets")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(output, dpi=90)
    plt.close(fig)
    return output
