"""EM-scale calibration of the simulated calorimeter.

The simulation already writes cell energies at the EM scale: an electron
shower's visible energy is drawn with mean equal to the particle energy and
distributed over the cells, so the summed cells of a fully contained
electron read its energy on average.  What remains is energy that does not
reach any cell: longitudinal leakage behind the last layer, the lateral
tails beyond the layers' eta range and, if a geometry has any, dead material
in front of the first layer or in gaps between layers.  For the shipped
geometries this is below 1e-3 at |eta| well inside the coverage.

:func:`derive_em_scale` measures it: it runs single electrons and photons at
several energies through :func:`~.simulation.simulate` (noise free) and
returns ``1 / mean(sum of cells / E)``, averaged over the energy points with
equal weight.  Multiplying every cell by this one global constant (the
``em_scale`` argument of :func:`~.digitisation.build_cells`) makes the
summed cell energy of single electrons and photons average to their true
energy.
"""
from __future__ import annotations

import numpy as np

from .. import _random as rnd
from .gun import particle_gun
from .simulation import SimulationParameters, simulate

#: Energies (GeV) of the calibration points.
DEFAULT_ENERGIES = (5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0)


def em_response(geometry, pdg_id, energy, n_events, seed, params=None, eta_range=None,
                batch=64):
    """Summed cell energy over true energy of single particles, per event.

    Parameters
    ----------
    geometry : Geometry
    pdg_id : int
        Particle of the gun (11, 22, ...).
    energy : float
        Particle energy, GeV.
    n_events : int
    seed : int
        Seeds both the gun directions and the simulation.
    params : SimulationParameters, optional
    eta_range : (float, float), optional
        Gun pseudorapidity range; default the central half of the narrowest
        layer's eta range.
    batch : int, optional
        Events simulated at once (bounds the memory of the dense output).

    Returns
    -------
    numpy.ndarray
        ``float64[n_events]``: sum over all cells / ``energy``.
    """
    if eta_range is None:
        lo = float(np.max(geometry.layer_eta_min))
        hi = float(np.min(geometry.layer_eta_max))
        centre, half = 0.5 * (lo + hi), 0.25 * (hi - lo)
        eta_range = (centre - half, centre + half)
    particles = particle_gun(pdg_id, energy, n_events, seed, eta_range=eta_range)
    seeds = rnd.standalone_seeds(seed, n_events, stream=abs(int(pdg_id)))
    out = np.empty(n_events)
    for start in range(0, n_events, batch):
        stop = min(start + batch, n_events)
        cells = simulate(
            particles["pdg_id"][start:stop], particles["charge"][start:stop],
            particles["px"][start:stop], particles["py"][start:stop],
            particles["pz"][start:stop], particles["energy"][start:stop],
            particles["offsets"][start:stop + 1] - start, geometry, seeds[start:stop],
            params)
        out[start:stop] = cells.sum(axis=1, dtype=np.float64) / energy
    return out


def derive_em_scale(geometry, params=None, energies=DEFAULT_ENERGIES, n_per_energy=500,
                    seed=20240601, particles=(11, 22), eta_range=None):
    """Global EM-scale factor that closes single electrons and photons.

    Parameters
    ----------
    geometry : Geometry
    params : SimulationParameters, optional
        Simulation parameters (the response does not depend on the
        resolution terms on average).
    energies : sequence of float, optional
        Energies of the calibration points, GeV.
    n_per_energy : int, optional
        Events per particle type and energy.
    seed : int, optional
    particles : sequence of int, optional
        PDG ids used (electrons and photons by default).
    eta_range : (float, float), optional
        See :func:`em_response`.

    Returns
    -------
    float
        ``1 / mean_k(<sum of cells / E>_k)`` over the points k; multiply the
        cell energies by it.
    """
    params = SimulationParameters() if params is None else params
    means = []
    for i, pdg in enumerate(particles):
        for j, energy in enumerate(energies):
            ratio = em_response(geometry, pdg, float(energy), n_per_energy,
                                seed + 1000 * i + j, params, eta_range)
            means.append(ratio.mean())
    return float(1.0 / np.mean(means))
