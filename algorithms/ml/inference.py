"""Model inference in the chain: one batched forward pass per chunk, per-object outputs aligned with the input.

An inference algorithm reads a per-event collection of per-object records
holding the model's input fields (the record layout of the datasets, so a
dataset algorithm's output is exactly what inference needs), applies the
preprocessing stored in the model artefact, runs the model over all objects of
the chunk in batches of ``batch_size`` under ``torch.inference_mode()`` with
the job's thread policy, and puts a per-event collection with one record per
input object: the class probabilities as fields named by class, or the
regressed value.

When the job is built (``hepreco validate`` and ``run``), the model is refused
with one line saying what differs when: torch or safetensors is missing (the
install command); the artefact is not a model, its weights are corrupt or do
not fit the model of its metadata; its task is not the plugin's; its classes
differ from ``classes``; it reads fields that ``fields`` does not list, or
with shapes other than ``shapes``.
"""
from __future__ import annotations

from typing import ClassVar

import awkward as ak
import numpy as np

from hepreco.framework import extras
from hepreco.framework.algorithm import Algorithm
from hepreco.framework.artefacts import ArtefactProperty
from hepreco.framework.component import Input, Output, Property
from hepreco.framework.errors import ArtefactError, ConfigurationError

from ..arrays import dense_values, jagged_offsets, unflatten_jagged

KIND = "model"
SCHEMA = "hepreco-model/1"


def _shapes(value: dict) -> None:
    for k, v in value.items():
        if not isinstance(k, str) or not isinstance(v, list) or not all(isinstance(x, int) and x > 0 for x in v):
            raise ValueError(f"expected {{field: [size, ...]}}, e.g. {{image: [25, 25]}}, got {k!r}: {v!r}")


class ModelInference(Algorithm):
    """Base of the inference plugins: runs a model artefact on per-object records, one pass per chunk."""

    #: what the model must learn (``classification`` or ``regression``)
    task: ClassVar[str] = "classification"

    objects = Input("MLRecords", doc="per-event records holding the model's input fields (dataset layout)")
    model = ArtefactProperty(KIND, "", doc="model artefact: name[@version] or path (made by 'hepreco train')",
                             schema=SCHEMA, derive="hepreco train jobs/ml/train_<model>.yaml")
    batch_size = Property(4096, doc="objects per forward pass", ge=1)
    classes = Property([], doc="classes the job expects, in order (empty: the model's)", items=str)
    fields = Property([], doc="fields the input records provide (empty: checked on the first chunk)", items=str)
    shapes = Property({}, doc="per-object shapes of array fields the input provides, e.g. {image: [25, 25]}",
                      validator=_shapes)

    def _model_meta(self) -> dict:
        """The checked metadata of the model (raises a one-line ConfigurationError saying what differs)."""
        from . import artefact

        try:
            art = self.artefact("model")
        except ConfigurationError as exc:
            raise _at_model(exc) from None  # placed at the model setting (its line, or the --set that gave it)
        who = f"{self.name}.model"
        try:
            meta = artefact.check_file(art.path, art.metadata)
        except ArtefactError as exc:
            raise _at_model(ArtefactError(f"{who}: {exc}")) from None
        label = f"{art.label} ({art.path})"
        if meta["task"] != self.task:
            raise _at_model(ArtefactError(f"{who}: {label} is a {meta['task']} model; {self.type_name} needs a "
                                          f"{self.task} model"))
        if self.task == "classification" and self.classes and list(self.classes) != list(meta["classes"]):
            raise _at_model(ArtefactError(f"{who}: {label} has classes {meta['classes']}, the job expects "
                                          f"{list(self.classes)}"))
        from .data import InputSpec

        spec = InputSpec.from_dict(meta["inputs"])
        if self.fields:
            missing = [f for f in spec.needed() if f not in self.fields]
            if missing:
                raise _at_model(ArtefactError(f"{who}: {label} reads {', '.join(map(repr, missing))}, which the "
                                              f"input {self.objects!r} does not provide (fields: "
                                              f"{', '.join(self.fields)})"))
        for name, want in spec.shapes.items():
            have = self.shapes.get(name)
            if have is not None and list(have) != list(want):
                raise _at_model(ArtefactError(f"{who}: {label} reads {name!r} of shape {list(want)}, the input "
                                              f"{self.objects!r} provides shape {list(have)}"))
        return meta

    def check(self, registry) -> None:
        extras.require("torch", "safetensors", needed_by=f"{self.name} ({self.type_name})")
        self._model_meta()

    def initialize(self) -> None:
        extras.torch(needed_by=f"{self.name} ({self.type_name})")
        from . import artefact, runtime  # registers torch with the job's thread policy

        self._model_meta()
        self._runtime = runtime
        self._loaded = self.services.artefacts.load(self.artefact("model"), artefact.load)
        self._checked = False

    def _columns(self, records) -> tuple[dict[str, np.ndarray], int]:
        """The columns the model needs, one row per object of the chunk, and the number of objects."""
        from . import data

        loaded = self._loaded
        spec = loaded.spec
        names = list(spec.needed())
        ref = loaded.regression.get("relative_to", "")
        if ref and ref != data.CELLS_SUM:
            names.append(ref)
        layout = _packed(records)
        have = set(ak.fields(records) if layout is None else layout.content.fields)
        missing = [n for n in names if n not in have]
        if missing:
            raise ConfigurationError(f"{self.name}: the model reads {', '.join(map(repr, missing))}, which the "
                                     f"records of {self.objects!r} do not have (fields: {', '.join(sorted(have))})")
        cols = flat_columns(records, names, layout)
        n = len(next(iter(cols.values()))) if cols else 0
        if not self._checked and n:
            data.check_fields(spec, data.field_shapes(cols, list(cols)), self.name)
            self._checked = True
        return cols, n

    def compute(self, records) -> dict[str, np.ndarray]:
        """Per-object outputs (field name -> float32 array) of the per-event records of a chunk."""
        from . import data

        loaded = self._loaded
        cols, n = self._columns(records)
        if n == 0:
            names = loaded.classes if self.task == "classification" else [self.output_field()]
            return {k: np.zeros(0, np.float32) for k in names}
        classify = self.task == "classification"
        out = self._runtime.predict(loaded.module, data.model_inputs(cols, loaded.spec, loaded.preprocessing),
                                    self.batch_size, probabilities=classify)
        if classify:
            return {c: np.ascontiguousarray(out[:, i], dtype=np.float32) for i, c in enumerate(loaded.classes)}
        ref = loaded.regression.get("relative_to", "")
        reference = data.reference_energy(cols, ref, loaded.spec) if ref else None
        value = data.decode_target(out[:, 0], reference, loaded.preprocessing[data.TARGET])
        return {self.output_field(): value.astype(np.float32)}

    def output_field(self) -> str:
        return "value"

    def execute(self, store) -> None:
        records = store[self.objects]
        values = self.compute(records)
        store.put(self.result_key(), unflatten_jagged(values, jagged_offsets(records)))

    def result_key(self) -> str:
        return next(iter(self.output_keys().values()))


def _packed(records):
    """The layout of the records when it is a list-offset array of records (as read from a file or made by an
    algorithm), else None."""
    layout = records.layout if isinstance(records, ak.Array) else ak.to_layout(records)
    if isinstance(layout, ak.contents.ListOffsetArray) and isinstance(layout.content, ak.contents.RecordArray):
        return layout
    return None


def flat_columns(records, names: list[str], layout=None) -> dict[str, np.ndarray]:
    """numpy columns (one row per object) of the fields ``names`` of per-event records.

    Takes the fields' buffers directly (a numpy view for each field) when the records
    are a list-offset array of records, which they are when read from a file or made
    by an algorithm; otherwise flattens the selected fields with awkward.  (awkward's
    own per-field slicing cost more per chunk than a small model's forward pass.)
    """
    from . import data

    layout = _packed(records) if layout is None else layout
    if layout is None:
        return data.columns_of(ak.flatten(records[names], axis=1), names)
    offsets = layout.offsets.data
    start, stop = int(offsets[0]), int(offsets[-1])
    rec = layout.content
    out = {}
    for name in dict.fromkeys(names):
        field = rec.contents[rec.field_to_index(name)]
        dense = dense_values(field, start, stop)
        out[name] = dense if dense is not None else np.asarray(field[start:stop].to_backend_array())
    return out


def _at_model(exc: ConfigurationError) -> ConfigurationError:
    exc.prop = "model"  # the job build places the error at the 'model:' line of the job options
    return exc


class JetTagger(ModelInference):
    """Jet tagging: class probabilities per jet from a model on the jets' dataset records.

    The records (default ``JetDataset``) are those of the jet dataset algorithm:
    high-level features, ``image`` or ``const_*`` with ``n_const``, whatever the model reads.
    The output has one float field per class of the model (probabilities summing to 1).
    """

    objects = Input("JetDataset", doc="per-event jet records with the model's input fields")
    scores = Output("{name}Scores", doc="per-event, per-jet class probabilities (fields named by class)")


class EgammaIdentifier(ModelInference):
    """Electron/photon identification: class probabilities per candidate from cells or shower shapes."""

    objects = Input("EgammaDataset", doc="per-event candidate records with the model's input fields "
                                         "(cells_<layer> windows, shower shapes)")
    scores = Output("{name}Scores", doc="per-event, per-candidate class probabilities (fields named by class)")


class CaloEnergyRegression(ModelInference):
    """Energy regression of calorimeter clusters: the regressed energy [GeV] per object (field ``energy``)."""

    task = "regression"
    objects = Input("RegressionDataset", doc="per-event cluster records with the model's input fields")
    energies = Output("{name}Energy", doc="per-event, per-object record {energy} [GeV]")

    def output_field(self) -> str:
        return "energy"
