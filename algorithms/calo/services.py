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

from hepreco.framework import ConfigurationError, Property, PropertyError, Service, UnknownNameError

from .conditions import make_conditions
from .geometry import load_geometry

CONDITIONS_FORMAT = "hepreco-calo-conditions/1"
FIELDS = ("pedestal", "gain", "noise_sigma", "cell_noise", "dead_mask", "max_energy")


def cache_dir() -> str:
    """Folder for files made once and reused (``HEPRECO_CACHE``, default ~/.cache/hepreco)."""
    return os.environ.get("HEPRECO_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "hepreco")


class GeometrySvc(Service):
    """The calorimeter cell geometry of the job."""

    geometry = Property("atlas-like", doc="geometry name (see 'hepreco plugins') or path of a description file")
    neighbours = Property("all3D", doc="neighbour graph for clustering", choices=("all2D", "all3D"))

    _geometry = None

    def path(self, registry) -> str:
        known = dict(registry.entries["geometry"]) if registry is not None else {}
        if self.geometry in known:
            return known[self.geometry]
        if os.path.exists(self.geometry):
            return self.geometry
        raise UnknownNameError("geometry", self.geometry, list(known), context=self.name)

    def check(self, registry) -> None:
        self.path(registry)

    def geometry_name(self, registry) -> str:
        """The geometry's name, read from its description file without building the geometry."""
        if self._geometry is not None:
            return self._geometry.name
        import yaml

        with open(self.path(registry)) as f:
            description = yaml.safe_load(f)
        return str(description.get("name", "unnamed")) if isinstance(description, dict) else "unnamed"

    @property
    def geom(self):
        """The :class:`~hepreco.algorithms.calo.geometry.Geometry` (loaded on first use)."""
        if self._geometry is None:
            self._geometry = load_geometry(self.path(self.services.registry), neighbours=self.neighbours)
        return self._geometry

    def initialize(self) -> None:
        self.geom  # noqa: B018  (load once per process, before the first chunk)


def geometry_name(services, svc_name: str, registry) -> str:
    """Name of the geometry served by the service ``svc_name`` of a job being built (nothing is loaded)."""
    svc = services.by_name.get(svc_name)
    if svc is None:
        svc = GeometrySvc(name=svc_name)
    if not isinstance(svc, GeometrySvc):
        raise ConfigurationError(f"{svc_name!r} is a {svc.type_name}, not a GeometrySvc")
    return svc.geometry_name(registry)


# -- conditions files -------------------------------------------------------------
def write_conditions(path: str, geometry, iovs: list[tuple[int, int, dict]]) -> None:
    """Write conditions for ``geometry``: ``iovs`` = [(first run, last run or -1, conditions dict)]."""
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
            for name in FIELDS:
                g.create_dataset(name, data=cond[name], compression="gzip", compression_opts=4)
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

    With ``file`` empty, the conditions are made once for the job's geometry
    from ``seed`` (valid for all runs) and cached under ``HEPRECO_CACHE``;
    give ``file`` to use another conditions file (e.g. one with several IOVs
    written by :func:`write_conditions`).
    """

    file = Property("", doc="HDF5 conditions file; empty: made from 'seed' for the geometry and cached")
    seed = Property(20240601, doc="seed of the default conditions", ge=0)
    dead_fraction = Property(0.001, doc="fraction of dead cells in the default conditions", ge=0, lt=1)
    adc_bits = Property(16, doc="ADC resolution of the default conditions", ge=8, le=30)
    geometry_svc = Property("GeometrySvc", doc="name of the geometry service")

    _iovs: list | None = None

    def default_path(self, geometry) -> str:
        # the format string is part of the key: bump it when make_conditions changes, so caches renew
        key = hashlib.sha256(f"{CONDITIONS_FORMAT}:{geometry.source_sha256}:{self.seed}:{self.dead_fraction}:"
                             f"{self.adc_bits}".encode()).hexdigest()[:12]
        return os.path.join(cache_dir(), "conditions", f"{geometry.name}-{key}.h5")

    def check(self, registry) -> None:
        if not self.file:
            return
        if not os.path.exists(self.file):
            raise PropertyError(self.name, "file", f"conditions file {self.file!r} does not exist")
        import h5py

        try:
            with h5py.File(self.file, "r") as f:
                form, made_for, n_cells = f.attrs.get("format"), f.attrs.get("geometry"), f.attrs.get("n_cells")
        except OSError as exc:
            raise PropertyError(self.name, "file", f"cannot read conditions file {self.file!r}: {exc}") from None
        if form != CONDITIONS_FORMAT:
            raise PropertyError(self.name, "file", f"{self.file!r} is not a hepreco calorimeter conditions file "
                                "(write one with hepreco.algorithms.calo.services.write_conditions)")
        geometry = geometry_name(self.services, self.geometry_svc, registry)
        if made_for != geometry:
            raise PropertyError(self.name, "file", f"conditions file {self.file!r} was made for geometry "
                                f"{made_for!r} ({n_cells} cells), not for {geometry!r} (the job's {self.geometry_svc})")

    def initialize(self) -> None:
        geometry = self.services.get(self.geometry_svc).geom
        path = self.file
        if not path:
            path = self.default_path(geometry)
            if not os.path.exists(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                cond = make_conditions(geometry, self.seed, dead_fraction=self.dead_fraction, adc_bits=self.adc_bits)
                write_conditions(path, geometry, [(0, -1, cond)])
        attrs, self._iovs = read_conditions(path)
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
