"""Output streams of the calorimeter domain: CaloGAN-format HDF5 files.

The CaloGAN format (Paganini, de Oliveira, Nachman 2018) is one HDF5 file of
single-particle showers with the datasets

==============  ============  =====================================================
dataset         shape         contents
==============  ============  =====================================================
``layer_0``     (N, 3, 96)    cell energies of the first layer [MeV], rows phi, columns eta
``layer_1``     (N, 12, 12)   second layer [MeV]
``layer_2``     (N, 12, 6)    third layer [MeV]
``energy``      (N, 1)        energy of the incoming particle [GeV]
``overflow``    (N, 3)        energy per layer outside the images [MeV]
==============  ============  =====================================================

all float32.  :class:`CaloGanOutput` adds ``pdg_id`` (N,) int32 when it
knows the particles (the CaloGAN tools ignore datasets they do not read),
and :class:`~.sources.CaloGanSource` reads the files back.
"""
from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from hepreco.framework import ConfigurationError, Property
from hepreco.framework.errors import PropertyError
from hepreco.framework.io.output import OutputStream

from .sources import CALOGAN_LAYERS

#: cells of the ``calogan`` geometry (3 x 96 + 12 x 12 + 12 x 6)
N_CELLS = sum(a * b for _, (a, b) in CALOGAN_LAYERS)


def cells_to_layers(cells: np.ndarray, scale: float = 1.0) -> dict[str, np.ndarray]:
    """Dense ``calogan`` cells (event, 504), geometry order (layer, eta, phi), to the CaloGAN images.

    Returns ``{"layer_0": (N, 3, 96), ...}`` float32, rows phi and columns
    eta, each value multiplied by ``scale``.  The inverse of the reshaping in
    :class:`~.sources.CaloGanSource`.
    """
    cells = np.asarray(cells)
    if cells.ndim != 2 or cells.shape[1] != N_CELLS:
        raise ValueError(f"expected dense calogan cells of shape (events, {N_CELLS}), got {cells.shape}")
    out, first = {}, 0
    for name, (n_phi, n_eta) in CALOGAN_LAYERS:
        block = cells[:, first:first + n_phi * n_eta].reshape(len(cells), n_eta, n_phi)
        out[name] = np.ascontiguousarray(block.transpose(0, 2, 1) * scale, dtype=np.float32)
        first += n_phi * n_eta
    return out


def layers_to_cells(layers: dict[str, np.ndarray], scale: float = 1.0) -> np.ndarray:
    """CaloGAN images (``layer_0``, ``layer_1``, ``layer_2``) to dense ``calogan`` cells (event, 504), float32."""
    parts = [np.asarray(layers[name]).transpose(0, 2, 1).reshape(len(layers[name]), -1) for name, _ in CALOGAN_LAYERS]
    return (np.concatenate(parts, axis=1) * scale).astype(np.float32)


def write_calogan(path: str, cells: np.ndarray, energy: np.ndarray, pdg_id: np.ndarray | None = None,
                  cell_unit: float = 0.001) -> None:
    """Write one CaloGAN-format file at ``path``.

    Parameters
    ----------
    cells
        Dense ``calogan`` cells (event, 504) in GeV (geometry order).
    energy
        Incoming particle energy per event [GeV].
    pdg_id
        Particle type per event, written as ``pdg_id`` when given.
    cell_unit
        GeV per unit of the layer datasets (CaloGAN: MeV, 0.001).
    """
    import h5py

    layers = cells_to_layers(cells, 1.0 / cell_unit)
    n = len(cells)
    with h5py.File(path, "w") as f:
        for name, image in layers.items():
            f.create_dataset(name, data=image, compression="gzip" if n else None)
        f.create_dataset("energy", data=np.asarray(energy, dtype=np.float32).reshape(n, 1))
        # the calogan geometry holds the whole lateral window of the parametrised showers: nothing leaves it sideways
        f.create_dataset("overflow", data=np.zeros((n, 3), dtype=np.float32))
        if pdg_id is not None:
            f.create_dataset("pdg_id", data=np.asarray(pdg_id, dtype=np.int32).reshape(n))


class CaloGanOutput(OutputStream):
    """Writes single-particle showers of the ``calogan`` geometry as CaloGAN HDF5 files.

    ``collections`` names two store keys: the dense cells (``CaloHits`` from
    ``FastCaloSim`` or ``CaloGanSimulation``, or ``CaloCells``) and the
    incoming particle: truth particles (the first particle of each event
    gives ``energy`` and ``pdg_id``) or a per-event energy array in GeV
    (``TruthEnergy`` of ``CaloGanSource``).  ``pdg_ids`` keeps only those
    particle types, so that one job writes one file set per particle as
    CaloGAN's ``eplus``/``gamma``/``piplus`` files.  Each work item is one
    part file (parts are not combined: a combined file would lose the format).
    """

    extension = ".h5"
    collections = Property(["CaloHits", "TruthParticles"], doc="[cells key, particles or energy key]", items=str)
    pdg_ids = Property([], doc="write only these particle types (empty: all)", items=int)
    cell_unit = Property(0.001, doc="GeV per unit of the layer datasets (CaloGAN: MeV)", gt=0)

    def check(self, registry) -> None:
        super().check(registry)
        if len(self.collections) != 2:
            raise PropertyError(self.name, "collections", f"expected [cells key, particles or energy key], "
                                f"got {self.collections}")
        if self.combines:
            raise ConfigurationError(f"{self.name}: CaloGAN files are written one per work item; unset "
                                     "events_per_file and file_size_mb (a larger job.chunk_size makes larger files)")

    def _particles(self, value) -> tuple[np.ndarray, np.ndarray | None]:
        """Energy [GeV] and pdg id (None for an energy array) of the incoming particle of every event."""
        if isinstance(value, np.ndarray):
            return np.asarray(value, dtype=np.float64).reshape(len(value), -1)[:, 0], None
        if len(value) and ak.min(ak.num(value)) < 1:
            raise ConfigurationError(f"{self.name}: {self.collections[1]!r} has events without a particle; "
                                     "CaloGAN files hold one particle per event")
        first = ak.firsts(value)
        return ak.to_numpy(first["E"]).astype(np.float64), ak.to_numpy(first["pdg_id"]).astype(np.int32)

    def selected(self, store) -> np.ndarray:
        mask = super().selected(store)
        if self.pdg_ids:
            _, pdg = self._particles(store[self.collections[1]])
            if pdg is None:
                raise ConfigurationError(f"{self.name}: pdg_ids needs truth particles in collections, "
                                         f"{self.collections[1]!r} holds energies only")
            mask &= np.isin(pdg, self.pdg_ids)
        return mask

    def write_part(self, path: str, event_ids: np.ndarray, data: dict[str, Any]) -> None:
        cells = np.asarray(data[self.collections[0]])
        if cells.ndim != 2 or cells.shape[1] != N_CELLS:
            raise ConfigurationError(f"{self.name}: {self.collections[0]!r} has shape {cells.shape}; CaloGAN files "
                                     f"need dense cells of the calogan geometry (events, {N_CELLS})")
        energy, pdg = self._particles(data[self.collections[1]])
        write_calogan(path, cells, energy, pdg, self.cell_unit)
