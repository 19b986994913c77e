"""Training configurations (``hepreco train CONFIG.yaml``): schema and validation, without torch.

A configuration is a YAML mapping with these sections (every key typed and
checked like a job option: an unknown key or a wrong type is an error naming
the file and line, with the nearest valid names)::

    name: jet-tagger-mlp          # artefact name (file <name>@<version>.safetensors)
    version: 1
    task: classification          # or regression
    data:     {files, collection, labels, classes, use_weights, flatten, flatten_bins, target, relative_to}
    inputs:   {kind, fields, weight, count, globals}
    model:    {type, <sizes of that type>}
    training: {optimizer, learning_rate, weight_decay, batch_size, epochs, patience, seed, device,
               threads, disco_feature, disco_lambda, max_objects, malloc}

``--set section.key=value`` overrides go through the same checks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from hepreco.framework import allocator
from hepreco.framework.artefacts import _NAME
from hepreco.framework.component import Component, Property
from hepreco.framework.config import read_yaml
from hepreco.framework.errors import ConfigurationError, Location, PropertyError, UnknownNameError

from .data import CELLS_SUM, INPUT_KINDS


def _artefact_name(text: str) -> None:
    if not _NAME.match(text):
        raise ValueError(f"{text!r} is not an artefact name (letters, digits, '.', '_', '+', '-')")


class Top(Component):
    """Top-level keys of a training configuration."""

    type_name = "train"
    label = "train"
    name = Property("model", doc="artefact name of the trained model (letters, digits, '.', '_', '+', '-')",
                    validator=_artefact_name)
    version = Property(1, doc="artefact version", ge=1)
    task = Property("classification", doc="what the model learns", choices=("classification", "regression"))

    def __init__(self, **values):
        super().__init__("model", **values)


class DataSection(Component):
    """Where the dataset is and what to learn from it (``data:``)."""

    type_name = "data"
    files = Property([], doc="part files, stream folders or globs of the dataset (output of a dataset job)",
                     items=str)
    collection = Property("", doc="per-event record collection in the files (JetDataset, EgammaDataset, ...)")
    labels = Property([], doc="names of the dataset's label values, in label order (the dataset "
                              "algorithm's classes)", items=str)
    classes = Property(None, doc="classes to learn: label names [qcd, top], or {new: [label, ...]} "
                                          "to merge labels; the first class is the background")
    use_weights = Property(True, doc="weight objects by the dataset's 'weight' field")
    flatten = Property("", doc="classification: a field (e.g. pt) whose spectrum every class gets flat in by "
                               "per-object weights, so the model cannot learn it; empty: none")
    flatten_bins = Property(20, doc="equal bins of the 'flatten' field between its smallest and largest value",
                            ge=1)
    target = Property("", doc="regression target field (e.g. true_e) [GeV]")
    relative_to = Property("", doc="regression: learn target / this field, or 'cells_sum' (sum of the input "
                                   "cells); empty: the target itself")

    def check_all(self, task: str) -> None:
        if not self.files:
            raise PropertyError("data", "files", "give the dataset's files or stream folders")
        if not self.collection:
            raise PropertyError("data", "collection", "name the record collection (JetDataset, EgammaDataset, ...)")
        if task == "classification":
            classes = self.classes
            if isinstance(classes, dict):
                names = [m for v in classes.values() for m in (v if isinstance(v, list) else [None])]
                if None in names or not all(isinstance(n, str) for n in names):
                    raise PropertyError("data", "classes", "a mapping must give each class a list of label names")
            elif not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
                if classes is None:
                    raise PropertyError("data", "classes", "a classifier needs its classes: label names [qcd, top] "
                                                           "or a mapping {background: [qcd], signal: [w, z]}")
                raise PropertyError("data", "classes", f"expected a list of label names or a mapping, got {classes!r}")
            else:
                names = classes
            if len(classes) < 2:
                raise PropertyError("data", "classes", "a classifier needs at least two classes")
            unknown = [n for n in names if n not in self.labels]
            if unknown:
                raise PropertyError("data", "classes", f"{', '.join(map(repr, unknown))} not in data.labels "
                                                       f"{self.labels}")
        elif not self.target:
            raise PropertyError("data", "target", "a regression needs a target field (e.g. true_e)")


class InputsSection(Component):
    """What the model reads (``inputs:``)."""

    type_name = "inputs"
    kind = Property("features", doc="input kind", choices=INPUT_KINDS)
    fields = Property([], doc="record fields: features; [image]; constituent fields (const_*); cell layers "
                              "(cells_*)", items=str)
    weight = Property("", doc="set inputs of an EFN: the pT-fraction field (const_pt_frac)")
    count = Property("n_const", doc="set inputs: field with the number of real constituents")
    globals = Property([], doc="image and set inputs: per-object scalar fields (e.g. [pt]) given to the dense "
                               "head, standardised", items=str)


def _sizes(v) -> None:
    if any(int(x) < 1 for x in v):
        raise ValueError(f"layer sizes must be positive, got {v}")


class _ModelArgs(Component):
    dropout = Property(0.0, doc="dropout probability in the dense layers", ge=0.0, lt=1.0)


class MLPArgs(_ModelArgs):
    type_name = "mlp"
    hidden = Property([64, 64], doc="widths of the hidden layers", items=int, validator=_sizes)


class CNNArgs(_ModelArgs):
    type_name = "cnn"
    channels = Property([8, 16], doc="channels of the conv layers (each followed by 2x2 max pooling)", items=int,
                        validator=_sizes)
    dense = Property([32], doc="widths of the dense layers", items=int, validator=_sizes)


class SetArgs(_ModelArgs):
    phi = Property([64, 64], doc="widths of the per-constituent network Phi", items=int, validator=_sizes)
    latent = Property(32, doc="dimension of the summed latent space", ge=1)
    f = Property([64], doc="widths of the network F on the sum", items=int, validator=_sizes)


class EFNArgs(SetArgs):
    type_name = "efn"


class PFNArgs(SetArgs):
    type_name = "pfn"


def _edge(value) -> None:
    if not value or not all(isinstance(b, list) and b and all(isinstance(x, int) and x > 0 for x in b) for b in value):
        raise ValueError(f"expected a list of blocks, each a list of positive layer widths, e.g. [[32, 32], [64, 64]], "
                         f"got {value!r}")


class ParticleNetArgs(_ModelArgs):
    type_name = "particlenet"
    k = Property(8, doc="neighbours of each constituent in the EdgeConv graph", ge=1)
    n_coords = Property(2, doc="the first n_coords input fields are the coordinates of the first graph (deta, dphi)",
                        ge=1)
    edge = Property([[32, 32], [64, 64]], doc="EdgeConv blocks, each the widths of its edge network", items=list,
                    validator=_edge)
    f = Property([64], doc="widths of the dense head", items=int, validator=_sizes)


class CellNetArgs(_ModelArgs):
    type_name = "cellnet"
    channels = Property([4], doc="channels of the 3x3 conv layers of each layer's branch", items=int,
                        validator=_sizes)
    dense = Property([64, 32], doc="widths of the dense head", items=int, validator=_sizes)
    layer_sums = Property(False, doc="also feed the head log(1 + summed energy) of each layer window")


MODEL_ARGS = {c.type_name: c for c in (MLPArgs, CNNArgs, EFNArgs, PFNArgs, ParticleNetArgs, CellNetArgs)}
#: input kind each model type reads
MODEL_INPUTS = {"mlp": "features", "cnn": "image", "efn": "set", "pfn": "set", "particlenet": "set",
                "cellnet": "cells"}


def _device(text: str) -> None:
    if not re.match(r"^(cpu|cuda(:\d+)?)$", text):
        raise ValueError(f"expected cpu, cuda or cuda:N, got {text!r}")


class TrainingSection(Component):
    """How to train (``training:``)."""

    type_name = "training"
    optimizer = Property("adam", doc="optimiser", choices=("adam", "adamw", "sgd"))
    learning_rate = Property(1e-3, doc="learning rate", gt=0.0)
    weight_decay = Property(0.0, doc="L2 weight decay", ge=0.0)
    batch_size = Property(256, doc="objects per batch", ge=1)
    epochs = Property(20, doc="maximum number of epochs", ge=1)
    patience = Property(5, doc="stop after this many epochs without a lower validation loss (0: never)", ge=0)
    seed = Property(1, doc="seed of the weights' initialisation and of the shuffling", ge=0)
    device = Property("cpu", doc="torch device: cpu, cuda or cuda:N (results are reproducible on cpu)",
                      validator=_device)
    threads = Property(0, doc="torch threads (0: usable cores)", ge=0)
    disco_feature = Property("", doc="classification: decorrelate the score from this field (e.g. m) on the "
                                     "background class with a distance-correlation term")
    disco_lambda = Property(0.0, doc="weight of the DisCo term in the loss", ge=0.0)
    max_objects = Property(0, doc="use at most this many objects per split (0: all), for quick trials", ge=0)
    malloc = Property(allocator.DEFAULT, doc="memory allocator policy, as job.malloc: 'reuse' or 'system'",
                      choices=allocator.POLICIES)


#: dataset fields that are truth or bookkeeping, never model inputs (nor are true_* fields)
NOT_INPUTS = ("label", "weight", "split", "run", "event")

SECTIONS = {"data": DataSection, "inputs": InputsSection, "training": TrainingSection}
TOP_KEYS = ("name", "version", "task", "data", "inputs", "model", "training")


@dataclass
class TrainConfig:
    """A validated training configuration."""

    file: str
    top: Top
    data: DataSection
    inputs: InputsSection
    model_type: str
    model: Component
    training: TrainingSection
    where: dict[str, Location] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain data (what the artefact records; loads again as it is)."""
        def own(c: Component) -> dict:
            return {k: v for k, v in c.properties().items()}

        return {**own(self.top), "data": own(self.data), "inputs": own(self.inputs),
                "model": {"type": self.model_type, **own(self.model)}, "training": own(self.training)}


def _set(comp: Component, key: str, value: Any, where: Location, section: str) -> None:
    if key not in comp.settable():
        raise UnknownNameError("key", key, comp.settable(), where, context=section)
    try:
        comp.set(key, value)
    except ConfigurationError as exc:
        raise exc.at(where) from None


def _mapping(doc: Any, file: str, section: str, line: int) -> dict:
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigurationError(f"'{section}' must be a mapping of keys, got {doc!r}", Location(file, line))
    return doc


def load(path: str, overrides: list[str] = ()) -> TrainConfig:
    """Read and validate a training configuration; ``overrides`` are ``section.key=value`` texts (YAML values)."""
    doc = read_yaml(path, "training configuration")
    return from_dict(doc, path, overrides)


def from_dict(doc: Any, path: str, overrides: list[str] = ()) -> TrainConfig:
    """Validate a (line-annotated) mapping as a training configuration."""
    doc = _mapping(doc, path, "the training configuration", 1)
    lines = getattr(doc, "lines", {})

    def at(mapping, key, default_line=None) -> Location:
        return Location(path, getattr(mapping, "lines", {}).get(key, default_line or getattr(mapping, "line", None)))

    entries: dict[tuple[str, str], tuple[Any, Location]] = {}
    for key, value in doc.items():
        if key not in TOP_KEYS:
            raise UnknownNameError("section or key", key, TOP_KEYS, at(doc, key))
        if key in ("data", "inputs", "model", "training"):
            section = _mapping(value, path, key, lines.get(key))
            for k, v in section.items():
                entries[(key, k)] = (_plain(v), at(section, k))
        else:
            entries[("", key)] = (value, at(doc, key))
    for text in overrides:
        where = Location(f"--set {text}")
        target, sep, value_text = text.partition("=")
        section, dot, key = target.strip().rpartition(".")
        if not sep or not key:
            raise ConfigurationError("expected --set section.key=value, e.g. --set training.epochs=5", where)
        if section and section not in ("data", "inputs", "model", "training"):
            raise UnknownNameError("section", section, ["data", "inputs", "model", "training"], where, context="--set")
        try:
            value = yaml.safe_load(value_text) if value_text.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigurationError(f"cannot parse the value {value_text!r}: {exc}", where) from None
        entries[(section, key)] = (value, where)

    top, data, inputs, training = Top(), DataSection(), InputsSection(), TrainingSection()
    comps = {"": top, "data": data, "inputs": inputs, "training": training}
    model_type, model_where = None, Location(path, lines.get("model"))
    if ("model", "type") in entries:
        model_type, model_where = entries.pop(("model", "type"))
    if model_type not in MODEL_ARGS:
        if model_type is None:
            raise ConfigurationError("the configuration needs model: {type: " + "|".join(MODEL_ARGS) + ", ...}",
                                     model_where)
        raise UnknownNameError("model type", str(model_type), list(MODEL_ARGS), model_where)
    comps["model"] = model = MODEL_ARGS[model_type]()
    where = {"model.type": model_where}
    for (section, key), (value, loc) in entries.items():
        _set(comps[section], key, value, loc, section or "the training configuration")
        where[f"{section}.{key}" if section else key] = loc

    def placed(exc: ConfigurationError, key: str) -> ConfigurationError:
        return exc.at(where.get(key, Location(path, lines.get(key.split(".")[0])))) if exc.location is None else exc

    try:
        data.check_all(top.task)
    except PropertyError as exc:
        raise placed(exc, f"data.{exc.prop}") from None
    wanted = MODEL_INPUTS[model_type]
    if inputs.kind != wanted:
        raise placed(PropertyError("inputs", "kind", f"model type {model_type!r} reads {wanted!r} inputs, got "
                                                     f"{inputs.kind!r}"), "inputs.kind")
    if not inputs.fields:
        raise placed(PropertyError("inputs", "fields", "name the input fields"), "inputs.fields")
    if inputs.kind == "image" and len(inputs.fields) != 1:
        raise placed(PropertyError("inputs", "fields", "an image model reads one image field"), "inputs.fields")
    if model_type == "particlenet" and len(inputs.fields) < model.n_coords:
        raise placed(PropertyError("inputs", "fields", f"particlenet takes its {model.n_coords} coordinates from the "
                                                       "first fields (const_deta, const_dphi)"), "inputs.fields")
    for key in ("fields", "globals"):
        names = getattr(inputs, key)
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise placed(PropertyError("inputs", key, f"{', '.join(map(repr, twice))} named more than once"),
                         f"inputs.{key}")
        not_inputs = [n for n in names if n in NOT_INPUTS or n.startswith("true_") or n == data.target]
        if not_inputs:
            raise placed(PropertyError("inputs", key, f"{', '.join(map(repr, not_inputs))} is the dataset's truth or "
                                                      "bookkeeping (label, weight, split, run, event, true_*, the "
                                                      "regression target), not a model input"), f"inputs.{key}")
    if inputs.globals and inputs.kind not in ("image", "set"):
        raise placed(PropertyError("inputs", "globals", f"globals are for image and set inputs; {inputs.kind!r} "
                                                        "inputs take every scalar in 'fields'"), "inputs.globals")
    if model_type == "efn" and not inputs.weight:
        raise placed(PropertyError("inputs", "weight", "an EFN needs the pT-fraction field (const_pt_frac)"),
                     "inputs.weight")
    if model_type != "efn" and inputs.weight:
        raise placed(PropertyError("inputs", "weight", "only an EFN has a weight field"), "inputs.weight")
    if top.task == "regression" and (training.disco_lambda > 0 or training.disco_feature):
        raise placed(PropertyError("training", "disco_lambda", "DisCo decorrelation is for classification"),
                     "training.disco_lambda")
    if training.disco_lambda > 0 and not training.disco_feature:
        raise placed(PropertyError("training", "disco_lambda", f"{training.disco_lambda} needs disco_feature, the "
                                                               "field to decorrelate from (e.g. m)"),
                     "training.disco_lambda")
    if data.relative_to == CELLS_SUM and inputs.kind != "cells":
        raise placed(PropertyError("data", "relative_to", "'cells_sum' needs cell inputs"), "data.relative_to")
    return TrainConfig(path, top, data, inputs, model_type, model, training, where)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
