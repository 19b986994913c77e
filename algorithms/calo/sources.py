"""Event sources of the calorimeter domain: a particle gun and CaloGAN files."""
from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from hepreco.framework import ConfigurationError, EventSource, Output, Property, WorkItem
from hepreco.framework.event_store import make_event_ids
from hepreco.framework.errors import InputFileError
from hepreco.framework.io.source import OTHER_FORMAT, FileSource, InputFile, file_format, split_range

from ..generation.pythia_source import PARTICLE_FIELDS
from .gun import CHARGE as _CHARGE, MASS as _MASS, two_body_decay_massless

CALOGAN_LAYERS = (("layer_0", (3, 96)), ("layer_1", (12, 12)), ("layer_2", (12, 6)))


def _pair(value: list) -> None:
    if len(value) != 2 or not value[0] <= value[1]:
        raise ValueError(f"expected [low, high] with low <= high, got {value}")


def _known(value: list) -> None:
    unknown = [p for p in value if abs(p) not in _MASS]
    if unknown or not value:
        raise ValueError(f"unknown particles {unknown}; known |PDG ids|: {sorted(_MASS)}")


def draw_energies(u: np.ndarray, lo: float, hi: float, power: float) -> np.ndarray:
    """Energies in [lo, hi] from uniform numbers ``u``, distributed as dN/dE ~ E^-power (inverse CDF)."""
    if abs(power - 1.0) < 1e-12:
        return lo * (hi / lo) ** u
    a = 1.0 - power
    return (lo ** a + u * (hi ** a - lo ** a)) ** (1.0 / a)


class ParticleGunSource(EventSource):
    """One particle per event: chosen type, fixed or ranged energy, random direction.

    Event *n* takes particle ``pdg_ids[n % len(pdg_ids)]`` and, with a list
    of ``energies``, energy ``energies[(n // len(pdg_ids)) % len(energies)]``;
    otherwise an energy drawn in ``energy_range`` (uniform, uniform in log E,
    or falling as E^-``energy_power``).  Directions are uniform in eta and phi.  Draws come from the
    event's own random stream (seed, run, event), as for every source.

    A neutral pion (111) decays at the vertex into two photons
    (``decay_pi0``, the default; its 99% decay mode): isotropic in its rest
    frame, so the lab opening angle is at least ``2 asin(m / E)`` and the two
    showers merge at high energy.  ``TruthParticles`` then holds the two
    photons (what the calorimeter sees), ``GunParticles`` always the particle
    shot (the truth of the event for identification and regression).
    """

    pdg_ids = Property([11], doc="particle types, cycled through event by event", items=int, validator=_known)
    energies = Property([], doc="energies cycled through (empty: draw in energy_range)", unit="GeV", items=float)
    energy_range = Property([10.0, 100.0], doc="energy range when 'energies' is empty", unit="GeV",
                            items=float, validator=_pair)
    log_energy = Property(True, doc="draw energies uniform in log E (else uniform in E)")
    energy_power = Property(0.0, doc="> 0: draw energies from a falling spectrum dN/dE ~ E^-energy_power in "
                            "energy_range instead (1 is uniform in log E)", ge=0.0)
    eta_range = Property([-2.0, 2.0], doc="pseudorapidity range", items=float, validator=_pair)
    phi_range = Property([-np.pi, np.pi], doc="azimuth range", unit="rad", items=float, validator=_pair)
    decay_pi0 = Property(True, doc="decay pi0 -> gamma gamma at the vertex (False: one photon-like shower)")
    particles = Output("TruthParticles", doc="stable particles: pdg_id, charge, px, py, pz, E [GeV], status")
    primaries = Output("GunParticles", doc="the particle shot, one per event, before any decay (same fields)")
    weights = Output("EventWeights", doc="event weight (1)")
    generator = True

    def check(self, registry) -> None:
        lowest = min(self.energies) if self.energies else self.energy_range[0]
        heaviest = max(_MASS[abs(p)] for p in self.pdg_ids)
        if lowest <= heaviest:
            raise ConfigurationError(f"{self.name}: energy {lowest} GeV is below a particle mass ({heaviest} GeV)")

    def work_items(self, evt_max: int, chunk_size: int, run: int) -> list[WorkItem]:
        if evt_max < 0:
            raise ConfigurationError(f"{self.name} generates events: set job.evt_max (or --evt-max N)")
        return split_range(self.name, None, evt_max, chunk_size, run)

    def read(self, item: WorkItem) -> tuple[np.ndarray, dict[str, Any]]:
        ids = make_event_ids(item.run, np.arange(item.first, item.last))
        n = len(ids)
        # five draws per event: energy, eta, phi, then the decay angles (the first three as without decays)
        draws = np.array([g.random(5) for g in self.generators(ids)]).reshape(n, 5)
        events = ids["event"]
        pdg = np.asarray(self.pdg_ids, dtype=np.int32)[events % len(self.pdg_ids)]
        if self.energies:
            energy = np.asarray(self.energies)[(events // len(self.pdg_ids)) % len(self.energies)]
        else:
            energy = draw_energies(draws[:, 0], *self.energy_range, self.energy_power or (1.0 if self.log_energy
                                                                                           else 0.0))
        energy = np.asarray(energy, dtype=np.float64)
        eta = self.eta_range[0] + (self.eta_range[1] - self.eta_range[0]) * draws[:, 1]
        phi = self.phi_range[0] + (self.phi_range[1] - self.phi_range[0]) * draws[:, 2]
        mass = np.array([_MASS[abs(p)] for p in pdg])
        charge = np.array([_CHARGE.get(abs(p), 0.0) * np.sign(p) for p in pdg], dtype=np.float32)
        pt = np.sqrt(energy ** 2 - mass ** 2) / np.cosh(eta)
        fields = {"pdg_id": pdg, "charge": charge, "px": pt * np.cos(phi), "py": pt * np.sin(phi),
                  "pz": pt * np.sinh(eta), "E": energy, "status": np.ones(n, dtype=np.int32)}
        fields = {name: np.asarray(fields[name], dtype=dtype) for name, dtype in PARTICLE_FIELDS}
        primaries = ak.unflatten(ak.zip(fields), np.ones(n, dtype=np.int64))
        decays = (pdg == 111) & bool(self.decay_pi0)
        if not decays.any():
            return ids, {self.particles: primaries, self.primaries: primaries, self.weights: np.ones(n)}
        d = np.flatnonzero(decays)
        gx, gy, gz, ge = two_body_decay_massless(fields["px"][d], fields["py"][d], fields["pz"][d], energy[d],
                                                 2.0 * draws[d, 3] - 1.0, 2.0 * np.pi * draws[d, 4])
        counts = np.where(decays, 2, 1)
        stable = {name: np.repeat(fields[name], counts) for name, _ in PARTICLE_FIELDS}
        first = np.cumsum(counts) - counts
        for name, values in (("px", gx), ("py", gy), ("pz", gz), ("E", ge)):
            stable[name][first[d]] = values[:, 0]
            stable[name][first[d] + 1] = values[:, 1]
        for k in (0, 1):
            stable["pdg_id"][first[d] + k] = 22
        particles = ak.unflatten(ak.zip(stable), counts)
        return ids, {self.particles: particles, self.primaries: primaries, self.weights: np.ones(n)}

    def generators(self, ids):
        return self.services.random.generators(ids, self.name)


class CaloGanSource(FileSource):
    """Reads CaloGAN-format HDF5 files into dense cells of the ``calogan`` geometry.

    Datasets ``layer_0`` (N, 3, 96), ``layer_1`` (N, 12, 12), ``layer_2``
    (N, 12, 6) hold cell energies (rows phi, columns eta) and ``energy`` the
    incoming particle energy.  Cells are put in the geometry's order (layer,
    then eta, then phi).
    """

    files = Property([], doc="CaloGAN HDF5 files, globs or folders", items=str)
    cell_unit = Property(0.001, doc="GeV per unit of the layer datasets (CaloGAN: MeV)", gt=0)
    energy_unit = Property(1.0, doc="GeV per unit of the 'energy' dataset (CaloGAN: GeV)", gt=0)
    cells = Output("CaloCells", doc="cell energies, dense float32 (event, 504 cells) [GeV]")
    energy = Output("TruthEnergy", doc="energy of the incoming particle [GeV]")

    extension = ".h5"

    def requested(self) -> dict[str, str]:
        return {}  # fixed datasets, checked by inspect

    def provides(self) -> list[str]:
        return list(self.output_keys().values())

    def inspect(self, path: str) -> InputFile:
        with self._open(path) as f:
            return InputFile(path, len(f["energy"]), (), has_event_numbers=False)

    def _open(self, path: str):
        import h5py

        fmt = file_format(path, self.name)
        if fmt not in ("HDF5", None):
            raise InputFileError(self.name, path, f"not an HDF5 file ({OTHER_FORMAT[fmt]})")
        try:
            f = h5py.File(path, "r")
        except OSError as exc:
            raise InputFileError(self.name, path, f"cannot be read as HDF5 ({exc})") from None
        missing = [name for name, _ in CALOGAN_LAYERS if name not in f] + ([] if "energy" in f else ["energy"])
        if missing:
            f.close()
            raise InputFileError(self.name, path, f"not a CaloGAN file (missing {missing})")
        for name, shape in CALOGAN_LAYERS:
            if f[name].shape[1:] != shape:
                f.close()
                raise InputFileError(self.name, path, f"{name} has shape {f[name].shape[1:]}, expected {shape}")
        return f

    def read(self, item: WorkItem) -> tuple[np.ndarray, dict[str, Any]]:
        with self._open(item.input) as f:
            parts = [f[name][item.first:item.last].transpose(0, 2, 1).reshape(item.n_events, -1)
                     for name, _ in CALOGAN_LAYERS]
            energy = np.asarray(f["energy"][item.first:item.last], dtype=np.float64).reshape(item.n_events, -1)[:, 0]
        cells = (np.concatenate(parts, axis=1) * self.cell_unit).astype(np.float32)
        # numbered across the file list, so that two files never share an id
        ids = make_event_ids(item.run, item.event_offset + np.arange(item.first, item.last))
        return ids, {self.cells: cells, self.energy: energy * self.energy_unit}
