"""``L1NeuralNetwork``: the fixed-point Level-1 network, emulated bit-exactly over each chunk."""
from __future__ import annotations

import awkward as ak
import numpy as np

from hepreco.framework import Algorithm, Input, Output, Property
from hepreco.framework.artefacts import ArtefactProperty
from hepreco.framework.errors import ConfigurationError, PropertyError

from .artefact import KIND, SCHEMA, read


class L1NeuralNetwork(Algorithm):
    """Scores of a fixed-point network (an ``l1nn`` artefact) on per-object or per-event float inputs.

    ``objects`` is a jagged collection of records (one network input per
    object, e.g. jets), a per-event collection of records, or a dense
    ``(n_events, n_features)`` array.  The ``fields`` (default: the
    artefact's input names) are read as float, standardised with the
    artefact's ``preprocessing`` (``(x - mean) / std``, when it has one),
    converted to the network's input ``ap_fixed`` type as hls4ml's C++ does, and run through the
    emulator (:mod:`hepreco.algorithms.fpga.emulator`), bit-exact with the
    hls4ml model the artefact was checked against.  The output has the input's
    structure, one field per network output (the artefact's output names),
    holding the exact values of the output type.  A NaN input is an error.
    """

    objects = Input("L1NNInputs", doc="per-object (jagged) or per-event records, or an (event, feature) array")
    scores = Output("{name}Scores", doc="network outputs per object or per event (fields: the output names)")
    file = ArtefactProperty(KIND, "l1nn-tagger", doc="the fixed-point network: artefact name[@version] or path",
                            schema=SCHEMA, derive="python -m hepreco.algorithms.fpga.derive --output l1nn-tagger.json")
    fields = Property([], doc="input fields in network order (empty: the artefact's input names)", items=str)

    def _load(self):
        resolved = self.artefact("file")
        art = self.services.artefacts.load(resolved, read) if self.services else read(resolved.path)
        fields = list(self.fields) or art.inputs
        if len(fields) != art.network.n_inputs:
            raise PropertyError(self.name, "fields", f"{len(fields)} fields given, but the network "
                                f"{self.artefact('file').label} takes {art.network.n_inputs} inputs "
                                f"({', '.join(art.inputs)})")
        return art, fields

    def preflight(self) -> None:
        art = self.artefact("file")
        n = art.metadata.get("n_inputs")
        if self.fields and n is not None and len(self.fields) != int(n):
            raise PropertyError(self.name, "fields", f"{len(self.fields)} fields given, but the network "
                                f"{art.label} ({art.path}) takes {n} inputs ({', '.join(art.metadata.get('inputs', []))})")

    def initialize(self) -> None:
        self.art, self.input_fields = self._load()
        self.network = self.art.network

    def execute(self, store) -> None:
        data = store[self.objects]
        if isinstance(data, np.ndarray):
            x = np.asarray(data, dtype=np.float64)
            if x.ndim != 2 or x.shape[1] != self.network.n_inputs:
                raise ConfigurationError(f"{self.name}: {self.objects} has shape {x.shape}; the network takes "
                                         f"(event, {self.network.n_inputs})")
            store.put(self.scores, self._records(self._run(x)))
            return
        missing = [f for f in self.input_fields if f not in ak.fields(data)]
        if missing:
            raise ConfigurationError(f"{self.name}: {self.objects} has no field(s) {', '.join(missing)} "
                                     f"(it has {', '.join(ak.fields(data))})")
        jagged = data.ndim == 2
        counts = ak.num(data, axis=1) if jagged else None
        columns = [ak.to_numpy(ak.flatten(data[f]) if jagged else data[f]).astype(np.float64)
                   for f in self.input_fields]
        x = np.stack(columns, axis=1) if columns else np.empty((0, 0))
        scores = self._records(self._run(x))
        store.put(self.scores, ak.unflatten(scores, counts) if jagged else scores)

    def _run(self, x: np.ndarray) -> np.ndarray:
        if np.isnan(x).any():
            raise ValueError(f"{self.name}: NaN in the inputs of {self.objects}")
        return self.network.run(self.art.standardise(x.reshape(-1, self.network.n_inputs)))

    def _records(self, y: np.ndarray):
        return ak.zip({name: y[:, k] for k, name in enumerate(self.art.outputs)})
