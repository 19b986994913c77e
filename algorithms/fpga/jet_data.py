"""The training arrays of the L1 jet tagger from the ``Hls4mlJetDataset`` files of the jobs in ``jobs/l1nn``.

``python -m hepreco.algorithms.fpga.jet_data DIR [DIR ...] --output jets.npz [--per-class N] [--seed 1]``

Each ``DIR`` is the output folder of one of ``jobs/l1nn/jets_{qcd,wz,top}.yaml``
(or the ``Hls4mlJetDataset`` stream folder itself).  The jets of all folders
are pooled, each class is cut to the same number of jets (``--per-class``, by
default the size of the smallest class; a random subset drawn from
``--seed``), and the 16 features are standardised with the mean and standard
deviation of the train split (as hls4ml's tutorial does with a
``StandardScaler``) so that they fit the network's fixed-point input type.
The ``.npz`` holds ``x`` (float32, standardised), ``y`` (int64, index of
``g q w z t``), ``split`` (0 train, 1 validation, 2 test: from run and
event), ``pt`` (GeV), ``mean``, ``std`` and ``features`` (names); ``derive``
and ``study`` read it with ``--data``, and the artefact keeps ``mean`` and
``std`` so that :class:`~.l1nn.L1NeuralNetwork` standardises job data the same way.
"""
from __future__ import annotations

import argparse
import os
import sys

import awkward as ak
import numpy as np

from hepreco.framework.errors import ConfigurationError

COLLECTION = "Hls4mlJetDataset"


def read_jets(folders) -> dict[str, np.ndarray]:
    """The records of all folders as flat columns (features, label, split, pt)."""
    from hepreco.algorithms.jets.hls4ml_features import FEATURES
    from hepreco.framework.io import read

    parts = []
    for folder in folders:
        path = folder if os.path.basename(os.path.normpath(folder)) == COLLECTION else os.path.join(folder, COLLECTION)
        if not os.path.isdir(path):
            raise ConfigurationError(f"{folder}: no {COLLECTION} stream here; run one of jobs/l1nn/jets_*.yaml "
                                     "with this output folder first")
        parts.append(ak.flatten(read(path)[COLLECTION]))
    jets = ak.concatenate(parts) if len(parts) > 1 else parts[0]
    columns = {name: ak.to_numpy(jets[name]) for name in (*FEATURES, "label", "split", "pt")}
    return columns


def make_arrays(columns: dict, per_class: int = 0, seed: int = 1, n_classes: int = 5) -> dict[str, np.ndarray]:
    """Balanced, standardised arrays (see the module docstring) from the columns of :func:`read_jets`."""
    from hepreco.algorithms.jets.hls4ml_features import FEATURES

    label = columns["label"].astype(np.int64)
    counts = np.bincount(label, minlength=n_classes)
    if (counts == 0).any():
        missing = [k for k in range(n_classes) if counts[k] == 0]
        raise ConfigurationError(f"no jets of class(es) {missing} in the inputs (counts per class {counts.tolist()})")
    n = min(per_class or counts.min(), counts.min())
    rng = np.random.default_rng(seed)
    keep = np.sort(np.concatenate([rng.choice(np.flatnonzero(label == k), n, replace=False)
                                   for k in range(n_classes)]))
    x = np.stack([columns[name][keep] for name in FEATURES], axis=1).astype(np.float64)
    split = columns["split"][keep].astype(np.int8)
    train = x[split == 0]
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std == 0] = 1.0
    return {"x": ((x - mean) / std).astype(np.float32), "y": label[keep], "split": split,
            "pt": columns["pt"][keep].astype(np.float32), "mean": mean, "std": std,
            "features": np.array(FEATURES)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m hepreco.algorithms.fpga.jet_data", description=__doc__.split("\n")[0])
    p.add_argument("folders", nargs="+", help="output folders of jobs/l1nn/jets_*.yaml")
    p.add_argument("--output", required=True, help=".npz to write")
    p.add_argument("--per-class", type=int, default=0, help="jets per class (0: as many as the smallest class)")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    columns = read_jets(a.folders)
    arrays = make_arrays(columns, a.per_class, a.seed)
    np.savez(a.output, **arrays)
    counts = np.bincount(columns["label"].astype(np.int64), minlength=5).tolist()
    print(f"wrote {a.output}: {len(arrays['y'])} jets ({len(arrays['y']) // 5} per class of g q w z t; "
          f"available {counts}), splits {np.bincount(arrays['split'], minlength=3).tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
