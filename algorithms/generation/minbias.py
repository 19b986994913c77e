"""The minimum-bias library: Pythia minimum-bias interactions kept as an artefact for pile-up.

Generating 60 minimum-bias events costs ~0.5 s of Pythia per hard-scatter
event, so pile-up is drawn from a library made once (as experiments pre-mix
pile-up).  A library is an HDF5 artefact of kind :data:`KIND`, schema
:data:`SCHEMA`::

    /offsets                     int64[n_events + 1]
    /pdg_id                      int32[n_particles]
    /charge                      int8[n_particles]   (units of e)
    /px, /py, /pz, /E            float32[n_particles] (GeV)

final-state particles of every interaction, with the artefact metadata
(``settings``, ``beam_energy``, ``seed``, ``n_events``, ``derived``) in the
root attribute ``hepreco_artefact``.

Two ways to make one:

* :func:`make_library` (what ``PileupOverlay`` does when its ``library`` is
  left empty): ``n_events`` interactions from a seed, written once into the
  cache folder; the same seed gives the same file (no time stamps inside).
* the derivation job ``jobs/minbias_library.yaml``: Pythia through the event
  loop (any executor), an ``Hdf5Output`` stream of the particles, and
  :class:`MinBiasLibraryDeriver`, which writes the artefact into the output
  folder at the end of the job (``hepreco artefacts install`` it).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import awkward as ak
import numpy as np

from hepreco.framework import Algorithm, ConfigurationError, Input, Property
from hepreco.framework.artefacts import cache_dir, write_metadata
from hepreco.framework.errors import ArtefactError

#: artefact kind and format of minimum-bias libraries
KIND = "minbias"
SCHEMA = "hepreco-minbias/1"
#: Pythia settings of the default library: inelastic non-diffractive interactions
NON_DIFFRACTIVE = ["SoftQCD:nonDiffractive = on"]
#: particle columns of a library file and their stored dtypes
STORED = {"pdg_id": np.int32, "charge": np.int8, "px": np.float32, "py": np.float32, "pz": np.float32,
          "E": np.float32}


@dataclass
class MinBiasLibrary:
    """A library in memory: flat particle columns (GeV, e) and the offsets of its interactions."""

    columns: dict
    offsets: np.ndarray
    metadata: dict = field(default_factory=dict)

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_particles(self) -> int:
        return int(self.offsets[-1])


def library_columns(particles: ak.Array) -> tuple[dict, np.ndarray]:
    """Flat stored columns (:data:`STORED` dtypes) and offsets of jagged truth particles."""
    counts = ak.to_numpy(ak.num(particles, axis=1)).astype(np.int64)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    flat = ak.flatten(particles, axis=1)
    columns = {}
    for name, dtype in STORED.items():
        values = ak.to_numpy(flat[name])
        columns[name] = (np.rint(values) if name == "charge" else values).astype(dtype)
    return columns, offsets


def write_library(path: str, columns: dict, offsets: np.ndarray, metadata: dict) -> str:
    """Write a library file at ``path`` (atomically: a temporary file, then a rename); returns ``path``.

    ``metadata`` needs ``name`` and ``version``; kind, schema, ``n_events``
    and ``n_particles`` are added.  No time stamps go into the file, so the
    same content gives the same sha256.
    """
    import h5py

    offsets = np.asarray(offsets, dtype=np.int64)
    if offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0 or np.any(np.diff(offsets) < 0):
        raise ValueError("write_library: offsets must start at 0 and never decrease")
    for name in STORED:
        if len(columns[name]) != offsets[-1]:
            raise ValueError(f"write_library: column {name!r} has {len(columns[name])} entries, the offsets "
                             f"say {offsets[-1]}")
    tmp = f"{path}.tmp{os.getpid()}"
    with h5py.File(tmp, "w", track_order=False) as f:
        f.attrs["format"] = SCHEMA
        f.create_dataset("offsets", data=offsets, track_times=False)
        for name, dtype in STORED.items():
            f.create_dataset(name, data=np.asarray(columns[name], dtype=dtype), compression="gzip",
                             compression_opts=4, shuffle=True, track_times=False)
    meta = {**metadata, "kind": KIND, "schema": SCHEMA, "n_events": int(len(offsets) - 1),
            "n_particles": int(offsets[-1])}
    write_metadata(tmp, meta, hdf5=True)
    os.replace(tmp, path)
    return path


def read_library(path: str) -> MinBiasLibrary:
    """Read a library file (columns as stored: float32 momenta, int8 charge)."""
    import h5py

    from hepreco.framework.artefacts import read_metadata

    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != SCHEMA:
                raise ArtefactError(f"{path!r} is not a minimum-bias library of schema {SCHEMA!r}")
            offsets = f["offsets"][()]
            columns = {name: f[name][()] for name in STORED}
    except (OSError, KeyError) as exc:
        raise ArtefactError(f"minimum-bias library {path!r} cannot be read: {type(exc).__name__}: {exc}") from None
    return MinBiasLibrary(columns, offsets, read_metadata(path) or {})


def generate_library(n_events: int, seed: int, settings: list[str] | None = None,
                     beam_energy: float = 6800.0) -> tuple[dict, np.ndarray]:
    """``(columns, offsets)`` of ``n_events`` Pythia interactions (final state), the events of run 1 with ``seed``."""
    from .pythia_source import PythiaSource, _StandaloneServices

    source = PythiaSource(settings=list(settings if settings is not None else NON_DIFFRACTIVE),
                          beam_energy=float(beam_energy))
    source.services = _StandaloneServices(int(seed))
    source.initialize()
    _, data = source.read(source.work_items(n_events, max(n_events, 1), 1)[0])
    return library_columns(data[source.particles])


def default_library_path(n_events: int, seed: int, settings: list[str], beam_energy: float) -> str:
    """Cache path of a generated library (``$HEPRECO_CACHE/minbias``), keyed on what makes its content."""
    try:
        from importlib.metadata import version

        pythia = version("pythia8mc")
    except Exception:  # noqa: BLE001  (no distribution metadata: the key just omits it)
        pythia = "?"
    key = hashlib.sha256(f"{SCHEMA}:{n_events}:{seed}:{beam_energy!r}:{'|'.join(settings)}:{pythia}".encode())
    return os.path.join(cache_dir(), "minbias", f"minbias-{key.hexdigest()[:12]}.h5")


def make_library(n_events: int, seed: int, settings: list[str] | None = None, beam_energy: float = 6800.0,
                 path: str | None = None) -> str:
    """Path of the library of ``n_events`` interactions from ``seed``: made and cached the first time."""
    settings = list(settings if settings is not None else NON_DIFFRACTIVE)
    path = path or default_library_path(n_events, seed, settings, beam_energy)
    if os.path.exists(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    columns, offsets = generate_library(n_events, seed, settings, beam_energy)
    return write_library(path, columns, offsets, {
        "name": "minbias-generated", "version": 1, "settings": settings, "beam_energy": float(beam_energy),
        "seed": int(seed), "derived": {"made_by": "hepreco.algorithms.generation.minbias.make_library"}})


class MinBiasLibraryDeriver(Algorithm):
    """Writes the minimum-bias library artefact from this job's particle stream at the end of the job.

    The job writes its (minimum-bias) truth particles with an ``Hdf5Output``
    stream named ``stream``; at the end of the job this algorithm reads the
    stream back in event order and writes ``<artefact_name>.h5`` (kind
    ``minbias``, schema ``hepreco-minbias/1``) into the output folder, and
    prints the command that installs it.  It counts the events and particles
    it saw, to check that the stream holds every event.
    """

    particles = Input("TruthParticles", doc="minimum-bias final-state particles: pdg_id, charge, px, py, pz, E [GeV]")
    stream = Property("MinBias", doc="name of this job's Hdf5Output stream that writes the particles")
    artefact_name = Property("minbias", doc="name of the derived artefact")
    artefact_version = Property(1, doc="version of the derived artefact", ge=1)
    settings = Property(list(NON_DIFFRACTIVE), doc="the source's Pythia settings, recorded in the metadata",
                        items=str)
    beam_energy = Property(6800.0, doc="the source's beam energy, recorded in the metadata", unit="GeV", gt=0)

    def initialize(self) -> None:
        self.events = self.accumulate("events", "counter")
        self.n_particles = self.accumulate("particles", "counter")

    def execute(self, store) -> None:
        particles = store[self.particles]
        self.events.add(len(particles))
        self.n_particles.add(int(ak.sum(ak.num(particles, axis=1))))

    def end_of_job(self, histograms: dict, output_dir: str, accumulators: dict | None = None) -> list[str]:
        from hepreco.framework.io.reader import read_parts

        accumulators = accumulators or {}
        n_events = accumulators["events"].value if "events" in accumulators else 0
        if n_events == 0:
            return []
        folder = os.path.join(output_dir, self.stream)
        # every part the loop kept (it removed those of failed items), put in event order by the event ids
        parts = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                       if f.endswith(".h5")) if os.path.isdir(folder) else []
        if not parts:
            raise ConfigurationError(f"{self.name}: no parts of the stream {self.stream!r} in {output_dir}; "
                                     f"add an Hdf5Output named {self.stream!r} that writes {self.particles!r}")
        ids, data = read_parts(parts, [self.particles])
        particles = data[self.particles][np.lexsort((ids["event"], ids["run"]))]
        if len(particles) != n_events:
            raise ConfigurationError(f"{self.name}: the stream {self.stream!r} holds {len(particles)} events, the "
                                     f"job processed {n_events}; the library needs every event (no filter before it)")
        columns, offsets = library_columns(particles)
        path = os.path.join(output_dir, f"{self.artefact_name}.h5")
        write_library(path, columns, offsets, {
            "name": self.artefact_name, "version": int(self.artefact_version), "settings": list(self.settings),
            "beam_energy": float(self.beam_energy), "derived": self.services.artefacts.derived_by()})
        self.services.artefacts.record_derived(path)
        return [path]
