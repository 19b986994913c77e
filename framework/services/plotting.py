"""Draw ``hist`` histograms to PNG with matplotlib (no display needed)."""
from __future__ import annotations

import hist
import numpy as np


def draw(h: hist.Hist, path: str, owner: str = "") -> bool:
    """Draw a 1D (steps with error bars) or 2D (colour map) histogram to ``path``; False for other dimensions.

    The title is the histogram's label (else its name), after ``owner`` (the algorithm that booked it,
    which says which collection it describes) when given.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    # fixed margins: tight_layout draws the figure twice and was most of the end-of-job time
    fig.subplots_adjust(left=0.12, right=0.96, bottom=0.11, top=0.93)
    if h.ndim == 1:
        axis = h.axes[0]
        values = h.values()
        variances = h.variances()
        edges = axis.edges
        ax.stairs(values, edges, color="tab:blue", linewidth=1.5)
        if variances is not None:
            centers = axis.centers
            ax.errorbar(centers, values, yerr=np.sqrt(variances), fmt="none", ecolor="tab:blue", elinewidth=0.8)
        ax.set_xlabel(axis.label or axis.name)
        ax.set_ylabel("entries")
        total = float(h.sum(flow=True)) if not hasattr(h.sum(flow=True), "value") else h.sum(flow=True).value
        ax.text(0.98, 0.95, f"entries {total:.6g}\nmean {_mean(values, axis.centers):.4g}",
                transform=ax.transAxes, ha="right", va="top", fontsize=9)
        if getattr(axis, "transform", None) is not None and "log" in str(axis.transform).lower():
            ax.set_xscale("log")
        positive = values[values > 0]
        if positive.size and positive.max() / positive.min() > 1e3:
            ax.set_yscale("log")
    elif h.ndim == 2:
        xa, ya = h.axes
        mesh = ax.pcolormesh(xa.edges, ya.edges, h.values().T, cmap="viridis")
        fig.colorbar(mesh, ax=ax, label="entries")
        ax.set_xlabel(xa.label or xa.name)
        ax.set_ylabel(ya.label or ya.name)
    else:
        plt.close(fig)
        return False
    what = h.label or h.name or ""
    # a fixed position: the automatic one costs a third of the drawing
    ax.set_title(f"{owner}: {what}" if owner and what else owner or what, y=1.01)
    fig.savefig(path)
    plt.close(fig)
    return True


def _mean(values: np.ndarray, centers: np.ndarray) -> float:
    s = values.sum()
    return float((values * centers).sum() / s) if s > 0 else float("nan")


def overlay(outputs: dict[str, str], names: list[str], path: str, normalise: bool = True) -> str:
    """Overlay the 1D histograms ``names`` (``Owner/name``) of several finished jobs, one panel each.

    ``outputs`` maps a legend label to a job's output folder (holding its
    ``histograms.root``).  Shapes are normalised to unit area unless
    ``normalise`` is False.
    """
    import os

    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import uproot

    fig, axes = plt.subplots(1, len(names), figsize=(4.6 * len(names), 4.0), squeeze=False)
    for label, folder in outputs.items():
        with uproot.open(os.path.join(folder, "histograms.root")) as f:
            for ax, name in zip(axes[0], names):
                if name not in f:
                    from ..errors import suggestion

                    names_in = [k.split(";")[0] for k in f.keys(recursive=True, filter_classname="TH*")]
                    raise KeyError(f"no histogram {name!r} in {folder}/histograms.root; {suggestion(name, names_in)}")
                h = f[name].to_hist()
                values = h.values()
                total = values.sum()
                ax.stairs(values / total if (normalise and total > 0) else values, h.axes[0].edges, label=label,
                          linewidth=1.6)
                ax.set_xlabel(h.axes[0].label or name)
                ax.set_title(name, fontsize=9)
    for ax in axes[0]:
        ax.set_ylabel("fraction" if normalise else "entries")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
