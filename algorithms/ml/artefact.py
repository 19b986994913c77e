"""Model artefacts: weights in safetensors, metadata in a JSON sidecar (no pickles anywhere).

A model artefact is ``<name>@<version>.safetensors`` with the sidecar
``<name>@<version>.safetensors.json`` holding the artefact metadata of
:mod:`hepreco.framework.artefacts` (``name``, ``version``, ``kind: model``,
``schema: hepreco-model/1``, ``derived``) and:

=================  ==========================================================================
key                meaning
=================  ==========================================================================
``model``          ``{"type": ..., <constructor arguments>}`` (:func:`~.models.build`)
``task``           ``classification`` or ``regression``
``inputs``         ``{kind, fields, shapes, weight, count, globals}`` (:class:`~.data.InputSpec`)
``preprocessing``  per field ``{mean, std}`` from the train split (regression: ``__target__`` too)
``classes``        class names, in output order (regression: ``[]``)
``regression``     ``{target, relative_to}`` (regression only)
``training``       configuration, seed, data sha256 and files, epochs, metrics
=================  ==========================================================================

:func:`check_file` reads the weights' header and compares every tensor with
the model its metadata describes, so a corrupt or mismatched file is refused
when a job is built, not on its first event.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from hepreco.framework import extras
from hepreco.framework.artefacts import ordinary_file_mode, read_metadata, write_metadata
from hepreco.framework.errors import ArtefactError

from .data import InputSpec

KIND = "model"
SCHEMA = "hepreco-model/1"
TASKS = ("classification", "regression")
SUFFIX = ".safetensors"
#: metadata keys a model artefact must have besides the artefact service's own
MODEL_KEYS = ("model", "task", "inputs", "preprocessing", "classes")


def file_name(name: str, version: int) -> str:
    return f"{name}@{int(version)}{SUFFIX}"


def save(folder: str, name: str, version: int, state: dict[str, np.ndarray], metadata: dict) -> str:
    """Write the weights ``state`` (name -> array) and the metadata; return the weights' path."""
    st = extras.safetensors(needed_by="writing a model artefact")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, file_name(name, version))
    arrays = {k: np.ascontiguousarray(v) for k, v in state.items()}
    st.numpy.save_file(arrays, path + ".tmp", metadata={"format": "pt", "hepreco": SCHEMA})
    ordinary_file_mode(path + ".tmp")
    os.replace(path + ".tmp", path)
    write_metadata(path, {"name": name, "version": int(version), "kind": KIND, "schema": SCHEMA, **metadata})
    return path


def read_weights(path: str) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file as numpy arrays; :class:`ArtefactError` when it is not one."""
    st = extras.safetensors(needed_by=f"reading the model weights {path}")
    try:
        return st.numpy.load_file(path)
    except Exception as exc:  # safetensors raises its own SafetensorError, or OSError
        raise ArtefactError(f"model artefact {path}: the weights are not a valid safetensors file "
                            f"({type(exc).__name__}: {exc}); derive it again with 'hepreco train'") from None


def weight_shapes(path: str) -> dict[str, list[int]]:
    """Name -> shape of every tensor in the file, from its header (the data is not read)."""
    st = extras.safetensors(needed_by=f"reading the model weights {path}")
    try:
        with st.safe_open(path, framework="np") as f:
            return {k: list(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as exc:
        raise ArtefactError(f"model artefact {path}: the weights are not a valid safetensors file "
                            f"({type(exc).__name__}: {exc}); derive it again with 'hepreco train'") from None


def check_metadata(meta: dict, path: str) -> None:
    """Refuse model metadata without the keys inference needs."""
    missing = [k for k in MODEL_KEYS if k not in meta]
    if missing:
        raise ArtefactError(f"model artefact {path}: the metadata lacks {', '.join(missing)}")
    if meta["task"] not in TASKS:
        raise ArtefactError(f"model artefact {path}: task {meta['task']!r} is not one of {', '.join(TASKS)}")
    if not isinstance(meta["model"], dict) or "type" not in meta["model"]:
        raise ArtefactError(f"model artefact {path}: 'model' must be {{type: ..., <sizes>}}, got {meta['model']!r}")


def build_model(meta: dict, path: str = "?"):
    """The (untrained) module described by the metadata."""
    from . import models

    try:
        return models.build(meta["model"])
    except (TypeError, ValueError) as exc:
        raise ArtefactError(f"model artefact {path}: cannot build the model {meta['model']!r}: {exc}") from None


def check_file(path: str, meta: dict | None = None) -> dict:
    """Metadata of a model artefact whose weights fit its model; :class:`ArtefactError` saying what differs."""
    meta = meta if meta is not None else read_metadata(path)
    if meta is None:
        raise ArtefactError(f"{path} has no metadata sidecar {os.path.basename(path)}.json")
    check_metadata(meta, path)
    have = weight_shapes(path)
    want = {k: list(v.shape) for k, v in build_model(meta, path).state_dict().items()}
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    if missing or extra:
        parts = ([f"lacks {', '.join(missing[:4])}"] if missing else []) + (
            [f"has unexpected {', '.join(extra[:4])}"] if extra else [])
        raise ArtefactError(f"model artefact {path}: the weights do not fit the model {meta['model']['type']!r} of "
                            f"its metadata ({'; '.join(parts)})")
    for k in want:
        if want[k] != have[k]:
            raise ArtefactError(f"model artefact {path}: tensor {k!r} has shape {have[k]}, but the model of its "
                                f"metadata needs {want[k]}")
    return meta


@dataclass
class LoadedModel:
    """A model ready for inference: the module (eval mode) and what its metadata says."""

    module: Any
    meta: dict
    spec: InputSpec
    preprocessing: dict
    classes: list[str]
    task: str

    @property
    def regression(self) -> dict:
        return dict(self.meta.get("regression", {}))


def load(path: str) -> LoadedModel:
    """Load a model artefact (checked, weights through safetensors, never unpickled)."""
    torch = extras.torch(needed_by=f"loading the model {path}")
    meta = check_file(path)
    module = build_model(meta, path)
    weights = {k: torch.from_numpy(np.array(v)) for k, v in read_weights(path).items()}
    module.load_state_dict(weights, strict=True)
    module.eval()
    return LoadedModel(module, meta, InputSpec.from_dict(meta["inputs"]), dict(meta["preprocessing"]),
                       list(meta["classes"]), str(meta["task"]))


def summary(meta: dict) -> str:
    """One line: type, task, inputs and classes of a model (for messages)."""
    inputs = meta.get("inputs", {})
    return (f"{meta.get('model', {}).get('type')} {meta.get('task')} on {inputs.get('kind')} "
            f"{json.dumps(inputs.get('fields'))}, classes {meta.get('classes')}")
