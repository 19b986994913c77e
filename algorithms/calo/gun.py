"""Single-particle gun: flat particle arrays for tests and calibration.

Produces the inputs of :func:`~.simulation.simulate` (flat per-particle
arrays plus event offsets) with one particle per event, of fixed energy and
uniformly distributed in eta and phi.
"""
from __future__ import annotations

import numpy as np

#: Masses (GeV) and charges of the particles the gun knows about, by |PDG id|.
MASS = {11: 0.000511, 13: 0.10566, 22: 0.0, 111: 0.13498, 211: 0.13957,
         321: 0.49368, 130: 0.49761, 2212: 0.93827, 2112: 0.93957,
         12: 0.0, 14: 0.0, 16: 0.0}
CHARGE = {11: -1.0, 13: -1.0, 211: 1.0, 321: 1.0, 2212: 1.0}


def particle_gun(pdg_id, energy, n_events, seed, eta_range=(-0.5, 0.5),
                 phi_range=(-np.pi, np.pi)):
    """One particle per event with fixed energy and random direction.

    Parameters
    ----------
    pdg_id : int
        PDG code (one of 11, 13, 22, 111, 211, 321, 130, 2212, 2112, 12, 14,
        16 or their antiparticles).
    energy : float
        Total energy, GeV (must exceed the mass).
    n_events : int
        Number of events.
    seed : int
        Seed of the direction draws (numpy ``default_rng``).
    eta_range : (float, float), optional
        Uniform pseudorapidity range.
    phi_range : (float, float), optional
        Uniform azimuth range, radians.

    Returns
    -------
    dict
        ``pdg_id`` (int64), ``charge``, ``px``, ``py``, ``pz``, ``energy``
        (float64, GeV) of length ``n_events`` and ``offsets`` (int64,
        ``arange(n_events + 1)``): the keyword arguments of
        :func:`~.simulation.simulate` that describe particles.
    """
    apdg = abs(int(pdg_id))
    if apdg not in MASS:
        raise ValueError(f"particle_gun: unknown particle {pdg_id}; known |PDG ids| are "
                         f"{sorted(MASS)}")
    mass = MASS[apdg]
    if not energy > mass:
        raise ValueError(f"particle_gun: energy {energy} GeV is below the mass "
                         f"{mass} GeV of particle {pdg_id}")
    rng = np.random.default_rng(seed)
    eta = rng.uniform(eta_range[0], eta_range[1], n_events)
    phi = rng.uniform(phi_range[0], phi_range[1], n_events)
    p = np.sqrt(energy * energy - mass * mass)
    pt = p / np.cosh(eta)
    charge = CHARGE.get(apdg, 0.0) * (1.0 if pdg_id > 0 else -1.0)
    return {
        "pdg_id": np.full(n_events, pdg_id, dtype=np.int64),
        "charge": np.full(n_events, charge, dtype=np.float64),
        "px": pt * np.cos(phi),
        "py": pt * np.sin(phi),
        "pz": pt * np.sinh(eta),
        "energy": np.full(n_events, float(energy)),
        "offsets": np.arange(n_events + 1, dtype=np.int64),
    }
