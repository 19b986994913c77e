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


def two_body_decay_massless(px, py, pz, energy, cos_theta, phi):
    """Decay of particles into two massless daughters, isotropic in the rest frame.

    The decay of pi0 -> gamma gamma: in the parent's rest frame the photons
    are back to back with energy m/2 each, along the direction
    (``cos_theta``, ``phi``) (uniform ``cos_theta`` in [-1, 1] and ``phi``
    in [0, 2 pi) give an isotropic decay); both are then boosted with the
    parent's velocity.  The lab opening angle is at least
    ``2 asin(m / E)`` (about ``2 m / E`` at high energy: the merged photons of
    an energetic pi0), and each photon's energy fraction is uniform in
    ``[(1 - beta) / 2, (1 + beta) / 2]``.

    Parameters
    ----------
    px, py, pz, energy : array_like of float, shape (n,)
        Parent four-momenta, GeV (``energy`` above the mass).
    cos_theta, phi : array_like of float, shape (n,)
        Direction of the first daughter in the rest frame (axes parallel to
        the lab axes), phi in radians.

    Returns
    -------
    (px, py, pz, energy) : tuple of float64 arrays of shape (n, 2)
        The two daughters of each parent, GeV; they add up to the parent.
    """
    px, py, pz, energy = (np.asarray(a, dtype=np.float64) for a in (px, py, pz, energy))
    cos_theta = np.asarray(cos_theta, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)
    mass = np.sqrt(np.maximum(energy * energy - px * px - py * py - pz * pz, 0.0))
    half = 0.5 * mass
    sin_theta = np.sqrt(np.maximum(1.0 - cos_theta * cos_theta, 0.0))
    k = np.stack([half * sin_theta * np.cos(phi), half * sin_theta * np.sin(phi), half * cos_theta], axis=-1)
    k = np.stack([k, -k], axis=1)  # (n, 2, 3): the two daughters in the rest frame
    beta = np.stack([px, py, pz], axis=-1) / energy[:, None]  # (n, 3)
    gamma = energy / np.where(mass > 0, mass, 1.0)
    bk = np.einsum("nj,nij->ni", beta, k)  # beta . k per daughter
    e_rest = half[:, None]
    e_lab = gamma[:, None] * (e_rest + bk)
    coef = (gamma * gamma / (gamma + 1.0))[:, None] * bk + gamma[:, None] * e_rest
    p_lab = k + coef[:, :, None] * beta[:, None, :]
    return p_lab[..., 0], p_lab[..., 1], p_lab[..., 2], e_lab


def min_opening_angle(energy, mass=MASS[111]):
    """Smallest lab opening angle of a two-body decay into massless daughters, radians.

    ``2 asin(m / E)``, reached when the daughters share the energy equally;
    about ``2 m / E`` for ``E >> m``.
    """
    return 2.0 * np.arcsin(mass / np.asarray(energy, dtype=np.float64))
