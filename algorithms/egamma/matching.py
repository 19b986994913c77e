"""Truth-to-cluster matching of single particles: where a particle hits the calorimeter, which cluster is its.

Pure numpy functions, arrays in and arrays out.
"""
from __future__ import annotations

import numpy as np

__all__ = ["phi_at_radius", "leading_matched"]


def phi_at_radius(phi0, pt, charge, radius, b_field=2.0, solenoid_radius=1150.0):
    """Azimuth at which a particle from the origin crosses the cylinder of ``radius``.

    The propagation of :func:`hepreco.algorithms.calo.simulation.simulate`:
    a helix inside the solenoid (field ``b_field`` along +z, radius
    ``solenoid_radius``), a straight line along the exit direction beyond.

    Parameters
    ----------
    phi0 : array_like of float
        Azimuth of the momentum at the origin, radians.
    pt : array_like of float
        Transverse momentum, GeV.
    charge : array_like of float
        Charge, e.
    radius : float
        Radius of the crossing, mm.
    b_field : float
        Field, T (0: straight lines).
    solenoid_radius : float
        Radius of the field region, mm.

    Returns
    -------
    numpy.ndarray of float64
        Azimuth in [-pi, pi]; NaN for a particle that curls inside the field
        before it reaches ``radius``.
    """
    phi0, pt, charge = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (phi0, pt, charge)))
    if b_field == 0:
        return np.arctan2(np.sin(phi0), np.cos(phi0))
    with np.errstate(divide="ignore", invalid="ignore"):
        curv = 0.3 * np.abs(b_field * charge) / (2.0 * pt) * 1e-3  # 1/mm
        sign = np.where(charge * b_field > 0, 1.0, -1.0)
        inner = min(radius, solenoid_radius)
        curls = curv * inner >= 1.0
        if radius <= solenoid_radius:
            phi = phi0 - sign * np.arcsin(np.minimum(curv * radius, 1.0))
        else:
            a_exit = np.arcsin(np.minimum(curv * solenoid_radius, 1.0))
            phi_s = phi0 - sign * a_exit
            phi_d = phi0 - 2.0 * sign * a_exit
            ps_u = solenoid_radius * np.cos(a_exit)
            t = -ps_u + np.sqrt(ps_u * ps_u - solenoid_radius ** 2 + radius ** 2)
            phi = np.arctan2(solenoid_radius * np.sin(phi_s) + t * np.sin(phi_d),
                             solenoid_radius * np.cos(phi_s) + t * np.cos(phi_d))
    phi = np.where(charge == 0, phi0, phi)
    phi = np.arctan2(np.sin(phi), np.cos(phi))
    return np.where(curls, np.nan, phi)


def leading_matched(cluster_eta, cluster_phi, cluster_e, offsets, eta, phi, max_dr):
    """Per event, the highest-energy cluster within ``max_dr`` of a direction.

    Parameters
    ----------
    cluster_eta, cluster_phi, cluster_e : array_like of float, shape (n_clusters,)
        Flat cluster barycentres and energies (GeV) of all events.
    offsets : array_like of int, shape (n_events + 1,)
        Clusters of event ``i`` are ``offsets[i]:offsets[i + 1]``.
    eta, phi : array_like of float, shape (n_events,)
        The direction per event (NaN: nothing matches).
    max_dr : float
        Largest Delta R = sqrt(Delta eta^2 + Delta phi^2).

    Returns
    -------
    numpy.ndarray of int64, shape (n_events,)
        Flat index of the matched cluster, -1 where none is within ``max_dr``.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    counts = np.diff(offsets)
    owner = np.repeat(np.arange(counts.size), counts)
    d_eta = np.asarray(cluster_eta, dtype=np.float64) - np.asarray(eta, dtype=np.float64)[owner]
    d_phi = np.asarray(cluster_phi, dtype=np.float64) - np.asarray(phi, dtype=np.float64)[owner]
    d_phi = (d_phi + np.pi) % (2.0 * np.pi) - np.pi
    with np.errstate(invalid="ignore"):
        inside = d_eta * d_eta + d_phi * d_phi < max_dr * max_dr
    energy = np.where(inside, np.asarray(cluster_e, dtype=np.float64), -np.inf)
    out = np.full(counts.size, -1, dtype=np.int64)
    for i in np.flatnonzero(counts):  # one argmax per event: the chunk's events, not its clusters
        k = offsets[i] + int(np.argmax(energy[offsets[i]:offsets[i + 1]]))
        if inside[k]:
            out[i] = k
    return out
