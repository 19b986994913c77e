"""Datasets of the ML taggers: from the HDF5 streams of dataset jobs to arrays per split.

A dataset is what an ``Hdf5Output`` stream writes: one per-event collection of
per-object records (``label``, ``weight``, ``split``, ``run``, ``event``, the
features, ``image``, ``const_*`` with ``n_const``, ``cells_*``, truth).
:func:`load` reads it with :func:`hepreco.framework.io.read`, keeps the
objects of the selected classes, and turns the input fields into float32
arrays with :func:`model_inputs`, the one function that inference uses too,
so a model sees the same preprocessing in training and in a job.

Input kinds (``inputs`` of the model artefact):

============  =====================================================================================
kind          arrays given to the model
============  =====================================================================================
features      ``x (N, F)``: each feature standardised with the train split's mean and std
image         ``image (N, H, W)``: divided by the train split's pixel std (zero stays zero)
set           ``x (N, C, F)``, ``mask (N, C)``: constituent fields standardised over real
              constituents (padding stays 0); for the EFN the ``weight`` field (pT fraction)
              comes first, unscaled
cells         ``cells_<layer> (N, h, w)`` per layer, divided by the layer's cell-energy std
============  =====================================================================================

Image and set inputs may add ``globals``, per-object scalars (the jet's ``pt``)
standardised like features and given last, as ``g (N, G)``: the constituents'
pT fractions and the image's normalised pixels carry no energy scale, so
without them a network cannot tell a W's mass from a QCD jet's at another pT.

Non-finite values (an undefined substructure ratio) are left out of the means
and stds and given to the model as the mean (0 after standardisation).  This
module needs numpy and awkward only (no torch).
"""
from __future__ import annotations

import glob
import hashlib
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Sequence

import awkward as ak
import numpy as np

from hepreco.framework.errors import ConfigurationError, suggestion
from hepreco.framework.io import read
from hepreco.framework.io.output import sha256 as file_sha256
from hepreco.framework.io.reader import stream_parts

from .splits import TEST, TRAIN, VALIDATION

INPUT_KINDS = ("features", "image", "set", "cells")
#: key of the regression target's standardisation in ``preprocessing``
TARGET = "__target__"
#: ``relative_to`` value meaning the sum of all cells of the input layers
CELLS_SUM = "cells_sum"


@dataclass
class InputSpec:
    """What a model reads: the kind, the record fields, their per-object shapes."""

    kind: str
    fields: list[str]
    shapes: dict[str, list[int]] = field(default_factory=dict)
    weight: str = ""        # set inputs of an EFN: the pT-fraction field, first in x and unscaled
    count: str = "n_const"  # set inputs: number of real constituents
    globals: list[str] = field(default_factory=list)  # image and set inputs: per-object scalars, given last

    def needed(self) -> list[str]:
        """Every record field the inputs are made of."""
        extra = [self.weight] if self.weight else []
        return [*extra, *self.fields] + ([self.count] if self.kind == "set" else []) + list(self.globals)

    def to_dict(self) -> dict:
        out = {"kind": self.kind, "fields": list(self.fields), "shapes": {k: list(v) for k, v in self.shapes.items()}}
        if self.kind == "set":
            out.update(weight=self.weight, count=self.count)
        if self.globals:
            out["globals"] = list(self.globals)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "InputSpec":
        return cls(str(d["kind"]), list(d["fields"]), {k: list(v) for k, v in d.get("shapes", {}).items()},
                   str(d.get("weight", "")), str(d.get("count", "n_const")), list(d.get("globals", [])))


def field_shapes(columns: dict[str, np.ndarray], names: Sequence[str]) -> dict[str, list[int]]:
    """Per-object shape of each field (``[]`` for a scalar, ``[25, 25]`` for an image)."""
    return {n: list(columns[n].shape[1:]) for n in names}


def check_fields(spec: InputSpec, shapes: dict[str, list[int]], who: str) -> None:
    """Raise ConfigurationError naming what differs between the fields a model reads and those available."""
    missing = [f for f in spec.needed() if f not in shapes]
    if missing:
        raise ConfigurationError(f"{who}: the model reads field(s) {', '.join(map(repr, missing))}, which the "
                                 f"input does not have (it has {', '.join(sorted(shapes)) or 'none'})")
    for name, want in spec.shapes.items():
        if name in shapes and list(shapes[name]) != list(want):
            raise ConfigurationError(f"{who}: field {name!r} has shape {list(shapes[name])} per object, but the "
                                     f"model was trained on shape {list(want)}")


class BadShape(ConfigurationError):
    """Input fields whose per-object shapes do not fit their kind; ``key`` is the configuration key
    (``inputs.fields`` or ``inputs.globals``) that names them."""

    def __init__(self, key: str, what: str, shapes: dict[str, list[int]]):
        self.key = key
        shown = ", ".join(f"{name!r} has shape {list(shape)}" for name, shape in shapes.items())
        super().__init__(f"{key}: {what}; {shown} per object")


class MissingField(ConfigurationError):
    """A field the configuration names is not in the dataset's records (``field``)."""

    def __init__(self, name: str, have: Sequence[str]):
        self.field = name
        super().__init__(f"the dataset has no field {name!r}; {suggestion(name, have)}")


def columns_of(records, names: Sequence[str]) -> dict[str, np.ndarray]:
    """numpy arrays (one row per object) of the fields ``names`` of flat records."""
    have = set(ak.fields(records))
    out = {}
    for name in dict.fromkeys(names):
        if name not in have:
            raise MissingField(name, sorted(have))
        out[name] = np.asarray(ak.to_numpy(records[name]))
    return out


def _finite(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    return values if finite.all() else values[finite]  # no copy of a whole image set when nothing is dropped


def _mean(values: np.ndarray) -> float:
    values = _finite(values)
    return float(np.mean(values)) if values.size else 0.0


def _std(values: np.ndarray) -> float:
    values = _finite(values)
    s = float(np.std(values)) if values.size else 0.0
    return s if np.isfinite(s) and s > 0 else 1.0


def fit_preprocessing(columns: dict[str, np.ndarray], spec: InputSpec) -> dict[str, dict[str, float]]:
    """Mean and std of each input field on the (train) objects of ``columns``."""
    prep = {}
    for f in [*(spec.fields if spec.kind == "features" else []), *spec.globals]:  # scalars per object
        v = columns[f].astype(np.float64)
        prep[f] = {"mean": _mean(v), "std": _std(v)}
    if spec.kind == "set":
        n = columns[spec.count].astype(np.int64)
        for f in spec.fields:
            v = columns[f].astype(np.float64)
            real = v[np.arange(v.shape[1])[None, :] < n[:, None]]
            prep[f] = {"mean": _mean(real), "std": _std(real)}
    elif spec.kind != "features":  # image, cells: one scale per field, zero kept at zero
        for f in spec.fields:
            prep[f] = {"mean": 0.0, "std": _std(columns[f].astype(np.float64))}
    return prep


def _zero_non_finite(x: np.ndarray) -> np.ndarray:
    """Set the non-finite values of ``x`` to 0 (an undefined input sits at the mean), in place.

    One sum decides: it is finite when every value is (a sum that overflows
    only costs the full check), which spares a boolean array of the whole
    input per chunk.
    """
    if x.size and not np.isfinite(x.sum()):
        x[~np.isfinite(x)] = 0.0
    return x


def model_inputs(columns: dict[str, np.ndarray], spec: InputSpec, prep: dict) -> list[np.ndarray]:
    """The float32 arrays the model takes, in order (see the table of the module docstring)."""
    default = {"mean": 0.0, "std": 1.0}

    def scaled(f, v):
        p = prep.get(f, default)
        out = np.subtract(v, np.float32(p["mean"]), dtype=np.float32)
        out *= np.float32(1.0 / p["std"])
        return _zero_non_finite(out)

    def standardised(x, params):
        # the float32 arithmetic of scaled(), on all fields at once (the last axis): a chunk's objects are
        # few and per-field passes would cost more than a small model
        x -= np.array([p["mean"] for p in params], np.float32)
        x *= np.array([1.0 / p["std"] for p in params], np.float32)
        return _zero_non_finite(x)

    def matrix(names):
        x = np.empty((len(columns[names[0]]), len(names)), np.float32)
        for i, f in enumerate(names):
            x[:, i] = columns[f]
        return standardised(x, [prep.get(f, default) for f in names])

    if spec.kind == "features":
        if not spec.fields:
            return [np.zeros((len(columns.get(spec.count, [])), 0), np.float32)]
        return [matrix(spec.fields)]
    g = [matrix(spec.globals)] if spec.globals else []
    if spec.kind == "set":
        # x[..., 0] is the weight (as it is, non-finite -> 0) when the set has one, then the scaled fields; each
        # channel is scaled and masked while contiguous (numpy's arithmetic broadcast over a last axis of 2-5
        # channels was most of the preprocessing), then written into one (objects, constituents, channels) array
        n, size = columns[spec.fields[0]].shape[:2]
        mask = (np.arange(size)[None, :] < columns[spec.count].astype(np.int64)[:, None]).astype(np.float32)
        channels = [_zero_non_finite(np.array(columns[spec.weight], np.float32))] if spec.weight else []
        channels += [scaled(f, columns[f]) for f in spec.fields]
        x = np.empty((n, size, len(channels)), np.float32)
        for i, c in enumerate(channels):
            c *= mask
            x[..., i] = c
        return [x, mask, *g]
    return [np.ascontiguousarray(scaled(f, columns[f])) for f in spec.fields] + g


def reference_energy(columns: dict[str, np.ndarray], relative_to: str, spec: InputSpec) -> np.ndarray:
    """The quantity a regression target is divided by: a field, or the sum of the input cells [GeV]."""
    if relative_to == CELLS_SUM:
        total = sum(columns[f].reshape(len(columns[f]), -1).sum(axis=1, dtype=np.float64) for f in spec.fields)
        return np.asarray(total, dtype=np.float64)
    return columns[relative_to].astype(np.float64)


#: smallest reference energy a ratio target is taken against [GeV]: a window with (almost) no energy would
#: otherwise give ratios of thousands, whose few outliers dominate a squared loss
REFERENCE_FLOOR = 0.1


def encode_target(target: np.ndarray, reference: np.ndarray | None, prep: dict | None = None):
    """The standardised regression target and its scaling.

    With a reference the target is ``log(target / max(reference, REFERENCE_FLOOR))`` (``transform``
    ``log_ratio``): a correction factor learnt on a log scale, robust against windows holding little energy.
    """
    y = target.astype(np.float64)
    transform = "log_ratio" if reference is not None else "none"
    if reference is not None:
        y = np.log(np.maximum(y, 1e-6) / np.maximum(reference, REFERENCE_FLOOR))
    if prep is None:
        prep = {"mean": float(np.mean(y)) if y.size else 0.0, "std": _std(y), "transform": transform}
    return ((y - prep["mean"]) / prep["std"]).astype(np.float32), prep


def decode_target(output: np.ndarray, reference: np.ndarray | None, prep: dict) -> np.ndarray:
    """The regressed value from the model's output (inverse of :func:`encode_target`)."""
    y = output.astype(np.float64) * prep["std"] + prep["mean"]
    if reference is not None:
        if prep.get("transform") == "log_ratio":
            return np.exp(y) * np.maximum(reference, REFERENCE_FLOOR)
        y = y * np.where(reference > 0, reference, 1.0)  # artefacts written before the log-ratio target
    return y


# -- files --------------------------------------------------------------------------------
def expand(paths: str | Sequence[str], who: str = "data.files") -> list[str]:
    """Files and stream folders of ``paths`` (globs expanded, in the order given)."""
    out = []
    for path in [paths] if isinstance(paths, str) else list(paths):
        path = os.path.expanduser(os.fspath(path))
        hits = sorted(glob.glob(path)) if glob.has_magic(path) else ([path] if os.path.exists(path) else [])
        if not hits:
            raise ConfigurationError(f"{who}: {path!r} does not exist (give a part file, a stream folder such as "
                                     "output/ml/jets/JetDataset, or a glob); run the dataset job first")
        out += hits
    return out


def part_files(paths: list[str]) -> list[str]:
    """The part files behind files and stream folders (manifest order)."""
    files = []
    for p in paths:
        files += stream_parts(p) if os.path.isdir(p) else [p]
    return files


def data_sha256(files: list[str]) -> str:
    """One sha256 for the content of the files read, in order (what the artefact records)."""
    h = hashlib.sha256()
    for f in files:
        h.update(file_sha256(f).encode())
    return h.hexdigest()


# -- loading -------------------------------------------------------------------------------
@dataclass
class Split:
    """The objects of one split: model inputs, targets, weights and extra per-object fields."""

    inputs: list[np.ndarray]
    target: np.ndarray      # class index (int64) or standardised regression target (float32)
    weight: np.ndarray      # float32
    extra: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.weight)


@dataclass
class Dataset:
    """A dataset loaded for training.

    ``sha256`` (:func:`data_sha256` of ``files``) is computed in a thread
    started by :func:`load`, while the dataset is prepared and the model
    trained (hashlib works without the interpreter lock): reading the whole
    files again cost a training on one epoch of a small model a fifth of its
    time.  Reading it waits for that thread.
    """

    splits: dict[int, Split]
    spec: InputSpec
    preprocessing: dict
    classes: list[str]
    files: list[str]
    _sha256: str | Future

    @property
    def sha256(self) -> str:
        if isinstance(self._sha256, Future):
            self._sha256 = self._sha256.result()
        return self._sha256


def _hash_in_background(files: list[str]) -> Future:
    pool = ThreadPoolExecutor(1, thread_name_prefix="hepreco-data-sha256")
    try:
        return pool.submit(data_sha256, files)
    finally:
        pool.shutdown(wait=False)  # the thread ends with its one task


def class_map(labels: list[str], classes: list | dict) -> tuple[list[str], np.ndarray]:
    """Class names and a table dataset-label -> class index (-1: not used) from the classes asked for.

    ``classes`` is a list of label names (``[qcd, top]``) or a mapping from a new
    class name to the label names it merges (``{qcd: [qcd], boson: [w, z]}``).
    """
    groups = {c: [c] for c in classes} if isinstance(classes, list) else {k: list(v) for k, v in classes.items()}
    table = np.full(len(labels), -1, np.int64)
    for i, members in enumerate(groups.values()):
        for m in members:
            if m not in labels:
                raise ConfigurationError(f"class {m!r} is not one of the dataset's labels {labels}")
            table[labels.index(m)] = i
    return list(groups), table


def flat_weights(x, label, bins, edges_name: str = "edges") -> np.ndarray:
    """Per-object weights that make every class's spectrum of ``x`` flat over ``bins``.

    Each object of class ``c`` in bin ``b`` gets ``N_c / (n_c * N_cb)``: ``N_cb``
    objects of the class in the bin, ``N_c`` of the class in all bins, ``n_c``
    the bins the class fills; so every class's weighted histogram is flat and
    its weights average 1.  ``bins``: increasing edges, or a number of equal
    bins between the smallest and largest ``x`` of the labelled objects.
    Objects outside the edges, and objects with a negative label (no class),
    get weight 0; the last edge belongs to the last bin, as in
    ``numpy.histogram``.  float32 weights, one per object; ``edges_name`` names
    the edges in the error for bad ``bins``.
    """
    x = np.asarray(x, dtype=np.float64)
    label = np.asarray(label)
    if x.shape != label.shape or x.ndim != 1:
        raise ValueError(f"values and labels must be 1-d arrays of one length, got shapes {x.shape} and "
                         f"{label.shape}")
    labelled = label >= 0
    if np.ndim(bins) == 0:
        if not labelled.any():
            return np.zeros(x.shape, dtype=np.float32)
        edges = np.linspace(x[labelled].min(), x[labelled].max(), int(bins) + 1)
    else:
        edges = np.asarray(bins, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
            raise ValueError(f"bins must be increasing {edges_name}, got {bins!r}")
    index = np.searchsorted(edges, x, side="right") - 1
    index[x == edges[-1]] = edges.size - 2
    inside = labelled & (index >= 0) & (index < edges.size - 1)
    weights = np.zeros(x.shape, dtype=np.float64)
    for c in np.unique(label[inside]):
        mine = inside & (label == c)
        counts = np.bincount(index[mine], minlength=edges.size - 1)
        weights[mine] = mine.sum() / (np.count_nonzero(counts) * counts[index[mine]])
    return weights.astype(np.float32)


def load(files: str | Sequence[str], collection: str, spec: InputSpec, *, labels: list[str] | None = None,
         classes: list | dict | None = None, target: str = "", relative_to: str = "", use_weights: bool = True,
         flatten: str = "", flatten_bins: int = 20, extra: Sequence[str] = ()) -> Dataset:
    """Read a dataset and return its splits, ready for training.

    Classification when ``classes`` is given (``labels`` names the dataset's
    label values in order), regression of the field ``target`` otherwise
    (divided by ``relative_to`` when given).  ``extra`` fields are kept per
    object (for decorrelation and plots).  ``flatten`` (classification): the
    weights also make every class's spectrum of that field flat in
    ``flatten_bins`` equal bins (:func:`flat_weights`), so that a tagger cannot
    learn, e.g., the jet pT.  Preprocessing is fitted on the train split.
    """
    paths = expand(files)
    parts = part_files(paths)
    if not parts:
        raise ConfigurationError(f"data.files: no part files in {paths}")
    sha256 = _hash_in_background(parts)
    wanted = [*spec.needed(), "split", "weight", "label", *extra, *([flatten] if flatten else [])]
    if target:
        wanted.append(target)
    if relative_to and relative_to != CELLS_SUM:
        wanted.append(relative_to)
    # only the fields used are read (a tagger on 20 features does not read the jet images)
    try:
        events = read(parts, [collection], fields={collection: wanted})
    except ConfigurationError as exc:
        if getattr(exc, "field", None):
            raise MissingField(exc.field, exc.have) from None
        raise
    if collection not in ak.fields(events):
        raise ConfigurationError(f"data.collection: {collection!r} is not in the files; they hold "
                                 f"{', '.join(f for f in ak.fields(events) if f not in ('run', 'event'))}")
    records = ak.flatten(events[collection], axis=1)
    cols = columns_of(records, wanted)
    own = [*spec.fields, *([spec.weight] if spec.weight else [])]  # the kind's own fields
    spec.shapes = field_shapes(cols, [*own, *spec.globals])
    if spec.kind == "set":
        sizes = {tuple(spec.shapes[f]) for f in own}
        if len(sizes) != 1 or len(next(iter(sizes))) != 1:
            raise BadShape("inputs.fields", "set fields must all be arrays of one length (the constituents)",
                           {f: spec.shapes[f] for f in own})
    if spec.kind in ("image", "cells"):
        bad = {f: spec.shapes[f] for f in spec.fields if len(spec.shapes[f]) != 2}
        if bad:
            raise BadShape("inputs.fields", f"{spec.kind} fields must be 2D per object", bad)
    if spec.kind == "features":
        bad = {f: s for f, s in spec.shapes.items() if s}
        if bad:
            raise BadShape("inputs.fields", "features must be scalars per object", bad)
    bad = {f: spec.shapes[f] for f in spec.globals if spec.shapes[f]}
    if bad:
        raise BadShape("inputs.globals", "globals must be scalars per object", bad)

    keep = np.ones(len(records), bool)
    names: list[str] = []
    y_class = None
    if classes is not None:
        names, table = class_map(list(labels or []), classes)
        label = cols["label"].astype(np.int64)
        if label.size and (label.min() < 0 or label.max() >= len(table)):
            raise ConfigurationError(f"the dataset has labels up to {int(label.max())}, but data.labels names only "
                                     f"{len(table)}: {labels}")
        y_class = table[label] if label.size else label
        keep &= y_class >= 0
    weight = cols["weight"].astype(np.float32) if use_weights else np.ones(len(records), np.float32)
    if flatten and y_class is not None:
        weight = weight * flat_weights(cols[flatten], np.where(keep, y_class, -1), flatten_bins)
    split = cols["split"].astype(np.int64)
    train = keep & (split == TRAIN)
    if not train.any():
        raise ConfigurationError(f"the dataset has no training objects of the selected classes in {paths}")
    sub = {k: v[train] for k, v in cols.items()}
    prep = fit_preprocessing(sub, spec)
    reference = None
    if not classes and relative_to:
        reference = reference_energy(cols, relative_to, spec)
    if classes is None:
        _, prep[TARGET] = encode_target(cols[target][train], None if reference is None else reference[train])

    splits = {}
    for s in (TRAIN, VALIDATION, TEST):
        sel = keep & (split == s)
        part = {k: v[sel] for k, v in cols.items()}
        if classes is not None:
            y = y_class[sel]
        else:
            y, _ = encode_target(part[target], None if reference is None else reference[sel], prep[TARGET])
        ex = {k: part[k] for k in dict.fromkeys([*extra, *([target] if target else [])])}
        if reference is not None:
            ex["__reference__"] = reference[sel]
        splits[s] = Split(model_inputs(part, spec, prep), y, weight[sel], ex)
    return Dataset(splits, spec, prep, names, parts, sha256)
