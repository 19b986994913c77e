"""Calorimeter services: the cell geometry and the readout conditions.

``GeometrySvc`` loads a geometry by name (registered by plugins through
``hepreco_register_geometries``) or by path.  ``ConditionsSvc`` serves
per-cell pedestals, gains, noise and dead cells for the run of each chunk,
from an HDF5 conditions file with intervals of validity (IOVs) in runs; by
default the file is made once per geometry from a fixed seed and cached.
"""
from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np

import yaml

from hepreco.framework import ConfigurationError, Property, Service, UnknownNameError
from hepreco.framework.artefacts import ArtefactProperty, cache_dir, write_metadata
from hepreco.framework.component import ServiceProperty

CONDITIONS_FORMAT = "hepreco-calo-conditions/1"
FIELDS = ("pedestal", "gain", "noise_sigma", "cell_noise", "dead_mask", "max_energy")
#: artefact kind of conditions files (their schema is CONDITIONS_FORMAT)
KIND = "conditions"

__all__ = ["GeometrySvc", "ConditionsSvc", "write_conditions", "read_conditions", "cache_dir"]


class GeometrySvc(Service):
    """The calorimeter cell geometry of the job."""

    geometry = Property("atlas-like", doc="geometry name (see 'hepreco plugins') or path of a description file")
    neighbours = Property("all3D", doc="neighbour graph for clustering", choices=("all2D", "all3D"))

    _geometry = None
    _name: tuple[str, str] | None = None  # (description file, its name), read once for the build's callers

    def path(self, registry) -> str:
        known = dict(registry.entries["geometry"]) if registry is not None else {}
        if self.geometry in known:
            return known[self.geometry]
        if os.path.exists(self.geometry):
            return self.geometry
        raise UnknownNameError("geometry", self.geometry, list(known), context=self.name)

    def check(self, registry) -> None:
        self.path(registry)

    @property
    def geom(self):
        """The :class:`~hepreco.algorithms.calo.geometry.Geometry` (loaded on first use)."""
        if self._geometry is None:
            from .geometry import load_geometry

            self._geometry = load_geometry(self.path(self.services.registry), neighbours=self.neighbours)
        return self._geometry

    @property
    def geometry_name(self) -> str:
        """The geometry's name (from its description file, without building the geometry)."""
        if self._geometry is not None:
            return self._geometry.name
        path = self.path(self.services.registry)
        if self._name is None or self._name[0] != path:
            with open(path) as f:
                description = yaml.safe_load(f)
            self._name = (path, str(description.get("name", "unnamed")) if isinstance(description, dict)
                          else "unnamed")
        return self._name[1]

    @property
    def source_sha256(self) -> str:
        """SHA-256 of the geometry's description file (as :attr:`Geometry.source_sha256`)."""
        if self._geometry is not None:
            return self._geometry.source_sha256
        with open(self.path(self.services.registry), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def initialize(self) -> None:
        self.geom  # noqa: B018  (load once per process, before the first chunk)


# -- conditions files -------------------------------------------------------------
def write_conditions(path: str, geometry, iovs: list[tuple[int, int, dict]], name: str = "", version: int = 1,
                     **metadata) -> None:
    """Write conditions for ``geometry``: ``iovs`` = [(first run, last run or -1, conditions dict)].

    The file is an artefact of kind ``conditions``: ``name`` (default
    ``conditions-<geometry>``), ``version`` and further ``metadata`` go into
    its artefact metadata.
    """
    import h5py

    tmp = f"{path}.tmp{os.getpid()}"
    with h5py.File(tmp, "w") as f:
        f.attrs["format"] = CONDITIONS_FORMAT
        f.attrs["geometry"] = geometry.name
        f.attrs["geometry_sha256"] = geometry.source_sha256
        f.attrs["n_cells"] = geometry.n_cells
        for k, (first, last, cond) in enumerate(iovs):
            g = f.create_group(f"iov{k:04d}")
            g.attrs["run_first"] = int(first)
            g.attrs["run_last"] = int(last)
            g.attrs["adc_max"] = int(cond["adc_max"])
            for field in FIELDS:
                g.create_dataset(field, data=cond[field], compression="gzip", compression_opts=4)
    write_metadata(tmp, {"name": name or f"conditions-{geometry.name}", "version": int(version), "kind": KIND,
                         "schema": CONDITIONS_FORMAT, "geometry": geometry.name,
                         "geometry_sha256": geometry.source_sha256, "n_cells": int(geometry.n_cells),
                         "runs": [[int(first), int(last)] for first, last, _ in iovs], **metadata}, hdf5=True)
    os.replace(tmp, path)


def read_conditions(path: str) -> tuple[dict, list[tuple[int, int, dict]]]:
    """``(attributes, [(first run, last run, conditions dict)])`` of a conditions file."""
    import h5py

    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != CONDITIONS_FORMAT:
            raise ConfigurationError(f"{path!r} is not a hepreco calorimeter conditions file")
        attrs = dict(f.attrs)
        iovs = []
        for name in sorted(f):
            g = f[name]
            cond = {field: g[field][()] for field in FIELDS}
            cond["adc_max"] = int(g.attrs["adc_max"])
            cond["dead_cells"] = np.flatnonzero(cond["dead_mask"])
            iovs.append((int(g.attrs["run_first"]), int(g.attrs["run_last"]), cond))
    return attrs, iovs


class ConditionsSvc(Service):
    """Per-cell readout conditions (pedestal, gain, noise, dead cells) by run.

    ``file`` names a conditions artefact (a name such as
    ``conditions-small@2``, or a path; e.g. a file with several IOVs written by
    :func:`write_conditions`).  Left empty, the conditions are made for the
    job's geometry from ``seed`` (valid for all runs) when the job is built,
    and cached under ``$HEPRECO_CACHE/conditions``.  Either way the file's
    sha256 is part of the configuration hash, the provenance and the report.
    """

    file = ArtefactProperty(KIND, "", doc="conditions artefact (name[@version] or path); empty: made from "
                            "'seed' for the geometry and cached", schema=CONDITIONS_FORMAT)
    seed = Property(20240601, doc="seed of the default conditions", ge=0)
    dead_fraction = Property(0.001, doc="fraction of dead cells in the default conditions", ge=0, lt=1)
    adc_bits = Property(16, doc="ADC resolution of the default conditions", ge=8, le=30)
    geometry_svc = ServiceProperty("GeometrySvc", doc="name of the geometry service")

    _iovs: list | None = None

    def default_path(self, geometry) -> str:
        """Cache path of the default conditions for ``geometry`` (a GeometrySvc or a Geometry)."""
        # the format string is part of the key: bump it when make_conditions changes, so caches renew
        key = hashlib.sha256(f"{CONDITIONS_FORMAT}:artefact:{geometry.source_sha256}:{self.seed}:"
                             f"{self.dead_fraction}:{self.adc_bits}".encode()).hexdigest()[:12]
        name = getattr(geometry, "geometry_name", None) or geometry.name
        return os.path.join(cache_dir(), "conditions", f"{name}-{key}.h5")

    def artefact_context(self) -> dict[str, str]:
        return {"geometry": self.services.declare(self.geometry_svc).geometry_name}

    def generate_artefact(self, prop: str) -> str:
        """Make (once, cached) the default conditions for the job's geometry; return their path."""
        geometry_svc = self.services.declare(self.geometry_svc)
        path = self.default_path(geometry_svc)
        if not os.path.exists(path):
            from .conditions import make_conditions

            geometry = geometry_svc.geom
            os.makedirs(os.path.dirname(path), exist_ok=True)
            cond = make_conditions(geometry, self.seed, dead_fraction=self.dead_fraction, adc_bits=self.adc_bits)
            write_conditions(path, geometry, [(0, -1, cond)], seed=int(self.seed),
                             dead_fraction=float(self.dead_fraction), adc_bits=int(self.adc_bits),
                             derived={"made_by": "ConditionsSvc (hepreco.algorithms.calo.conditions.make_conditions)"})
        return path

    def initialize(self) -> None:
        geometry = self.services.get(self.geometry_svc).geom
        path = self.artefact("file").path
        attrs, self._iovs = self.services.artefacts.load(self.artefact("file"), read_conditions)
        if int(attrs["n_cells"]) != geometry.n_cells or attrs.get("geometry_sha256") != geometry.source_sha256:
            raise ConfigurationError(f"{self.name}: conditions file {path!r} was made for geometry "
                                     f"{attrs.get('geometry')!r} ({attrs['n_cells']} cells), not for "
                                     f"{geometry.name!r} ({geometry.n_cells} cells)")
        self.path = path

    def for_run(self, run: int) -> dict[str, Any]:
        """The conditions valid for ``run``."""
        for first, last, cond in self._iovs:
            if first <= run and (last < 0 or run <= last):
                return cond
        ranges = ", ".join(f"{a}-{b if b >= 0 else 'inf'}" for a, b, _ in self._iovs)
        raise ConfigurationError(f"{self.name}: no conditions valid for run {run} in {self.path!r} "
                                 f"(intervals of validity: {ranges})")

    def runs_of(self, store) -> list[tuple[int, np.ndarray]]:
        """``[(run, positions of its events)]`` for the events of a store view."""
        runs = store.event_ids["run"]
        first = runs[0] if len(runs) else 0
        if len(runs) == 0 or (runs == first).all():
            return [(int(first), np.arange(len(runs)))]
        return [(int(r), np.flatnonzero(runs == r)) for r in np.unique(runs)]
