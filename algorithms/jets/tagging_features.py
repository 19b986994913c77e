"""High-level jet-tagging features beyond :mod:`.substructure`, as numba kernels: all jets of a chunk in one call.

Pure functions on flat arrays: no I/O, no logging, no configuration.  The
constituents of jet ``j`` are the slice ``const_offsets[j]:const_offsets[j+1]``
of flat four-momentum arrays ``px, py, pz, E`` (GeV), as in
:mod:`.substructure`, whose kt reclustering with history this module reuses.

Features (one value per jet; 0 where a jet has too few constituents or no mass)
----------------------------------------------------------------------------
The kt features use the constituents reclustered with the kt algorithm
(E-scheme, no beam distance), ``d_ab = min(pt_a**2, pt_b**2) DeltaR_ab**2``
with ``DeltaR**2 = Delta y**2 + Delta phi**2``:

``sqrt_d12``, ``sqrt_d23`` (GeV)
    kt splitting scales: the square root of ``d`` of the merging from 2 to 1
    and from 3 to 2 subjets, ``R sqrt(d_ij)`` of FastJet's
    ``exclusive_subdmerge(jet, 1 or 2)`` in any kt clustering of the jet's
    constituents whose beam distance does not interfere (``d`` here is
    FastJet's ``d_ij`` times ``R**2``, so it does not depend on ``R``).
``kt_dr``
    ``DeltaR`` of the two subjets of the last kt merging (the two exclusive
    kt subjets).
``z_cut``
    ``d12 / (d12 + m**2)`` (ATLAS's ``ZCut12``), ``m`` the jet mass; for a
    two-body splitting at small angle it is the momentum fraction
    ``min(pt1, pt2)/(pt1 + pt2)`` of the last kt merging.
``qw`` (GeV)
    The smallest pairwise invariant mass of the three exclusive kt subjets
    (ATLAS's ``Qw``, a top-tagging variable); 0 for fewer than 3 constituents.

The shape features use the jet axis ``n`` (direction of the summed
three-momentum) and, for the last two, the constituents boosted into the jet
rest frame:

``planar_flow``
    ``4 det(I) / tr(I)**2`` with ``I_kl = sum_i p_i,k p_i,l / E_i`` over the
    two directions transverse to ``n`` (0 for a linear, 1 for an isotropic
    energy flow in the transverse plane).
``angularity``
    ``tau_a = (1/m) sum_i E_i sin(theta_i)**a (1 - cos(theta_i))**(1 - a)``
    with ``a = -2`` and ``theta_i`` the angle between constituent ``i`` and
    ``n`` (Almeida et al., PRD 79 (2009) 074017; ATLAS's ``Angularity``),
    computed as ``E_i sin(theta_i)**4 / (1 + cos(theta_i))**3``.
``aplanarity``
    ``3/2 lambda_3`` with ``lambda_3`` the smallest eigenvalue of the
    sphericity tensor ``S_ab = sum_i q_i,a q_i,b / sum_i |q_i|**2`` of the
    rest-frame momenta ``q_i``.
``fox_wolfram_r2``
    ``H2 / H0`` with ``H_l = sum_ij |q_i| |q_j| P_l(cos theta_ij)`` in the
    rest frame (``P_l`` the Legendre polynomials), computed in ``O(n)`` as
    ``(3 |T|**2 / (sum_i |q_i|)**2 - 1) / 2`` with ``T = sum_i q_i q_i^T / |q_i|``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._numba import jit
from .kernels import rap_phi
from .substructure import (LINK_PARENT1, LINK_PARENT2, NODE_E, NODE_PHI, NODE_PX, NODE_PY, NODE_PZ, NODE_Y,
                           _dr2, _exclusive_nodes, check_jet_arrays, cluster_history, run_blocks)

__all__ = ["TaggingFeatures", "FEATURE_NAMES", "tagging_features"]

_INF = math.inf

#: Columns of the kernel output, in order (the fields of :class:`TaggingFeatures`).
FEATURE_NAMES = ("sqrt_d12", "sqrt_d23", "kt_dr", "z_cut", "qw", "planar_flow", "angularity", "aplanarity",
                 "fox_wolfram_r2")


@jit
def _merge_d(nodes, links, k):
    """(d, DeltaR**2) of the pairwise merging that made node ``k``."""
    a = links[k, LINK_PARENT1]
    b = links[k, LINK_PARENT2]
    pt2a = nodes[a, NODE_PX] ** 2 + nodes[a, NODE_PY] ** 2
    pt2b = nodes[b, NODE_PX] ** 2 + nodes[b, NODE_PY] ** 2
    dr2 = _dr2(nodes[a, NODE_Y], nodes[a, NODE_PHI], nodes[b, NODE_Y], nodes[b, NODE_PHI], True)
    return min(pt2a, pt2b) * dr2, dr2


@jit
def _mass2(px, py, pz, e):
    return (e + pz) * (e - pz) - (px * px + py * py)


@jit
def _smallest_eigenvalue(a00, a01, a02, a11, a12, a22):
    """Smallest eigenvalue of a real symmetric 3 x 3 matrix (closed form)."""
    p1 = a01 * a01 + a02 * a02 + a12 * a12
    if p1 == 0.0:
        return min(a00, min(a11, a22))
    q = (a00 + a11 + a22) / 3.0
    p2 = (a00 - q) ** 2 + (a11 - q) ** 2 + (a22 - q) ** 2 + 2.0 * p1
    p = math.sqrt(p2 / 6.0)
    b00 = (a00 - q) / p
    b11 = (a11 - q) / p
    b22 = (a22 - q) / p
    b01 = a01 / p
    b02 = a02 / p
    b12 = a12 / p
    det = b00 * (b11 * b22 - b12 * b12) - b01 * (b01 * b22 - b12 * b02) + b02 * (b01 * b12 - b11 * b02)
    r = max(-1.0, min(1.0, 0.5 * det))
    phi = math.acos(r) / 3.0
    return q + 2.0 * p * math.cos(phi + 2.0 * math.pi / 3.0)


@jit
def _block(px, py, pz, e, coff, j_lo, j_hi, out):
    """Every feature of jets ``j_lo:j_hi``; one row of ``out`` per jet (columns as ``FEATURE_NAMES``)."""
    nmax = 0
    for j in range(j_lo, j_hi):
        nmax = max(nmax, coff[j + 1] - coff[j])
    y = np.empty(nmax)
    f = np.empty(nmax)
    w = np.empty(nmax)
    nodes = np.empty((max(2 * nmax - 1, 1), 7))
    links = np.empty((max(2 * nmax - 1, 1), 4), dtype=np.int64)
    axes = np.empty(3, dtype=np.int64)
    for j in range(j_lo, j_hi):
        for c in range(out.shape[1]):
            out[j, c] = 0.0
        lo = coff[j]
        hi = coff[j + 1]
        n = hi - lo
        if n == 0:
            continue
        jpx = px[lo:hi]
        jpy = py[lo:hi]
        jpz = pz[lo:hi]
        je = e[lo:hi]
        sx = 0.0
        sy = 0.0
        sz = 0.0
        se = 0.0
        for i in range(n):
            y[i], f[i] = rap_phi(jpx[i], jpy[i], jpz[i], je[i])
            w[i] = math.sqrt(jpx[i] * jpx[i] + jpy[i] * jpy[i])
            sx += jpx[i]
            sy += jpy[i]
            sz += jpz[i]
            se += je[i]
        m2 = max(_mass2(sx, sy, sz, se), 0.0)
        # --- kt features
        if n >= 2:
            n_nodes = cluster_history(jpx, jpy, jpz, je, y[:n], f[:n], w[:n], 1, _INF, True, True, nodes, links)
            d12, dr2 = _merge_d(nodes, links, 2 * n - 2)
            out[j, 0] = math.sqrt(d12)
            out[j, 2] = math.sqrt(dr2)
            if d12 + m2 > 0.0:
                out[j, 3] = d12 / (d12 + m2)
            if n >= 3:
                d23, _ = _merge_d(nodes, links, 2 * n - 3)
                out[j, 1] = math.sqrt(d23)
                _exclusive_nodes(n, n_nodes, links, 3, axes)
                qw = _INF
                for a in range(3):
                    for b in range(a + 1, 3):
                        ka = axes[a]
                        kb = axes[b]
                        mab2 = _mass2(nodes[ka, NODE_PX] + nodes[kb, NODE_PX], nodes[ka, NODE_PY] + nodes[kb, NODE_PY],
                                      nodes[ka, NODE_PZ] + nodes[kb, NODE_PZ], nodes[ka, NODE_E] + nodes[kb, NODE_E])
                        qw = min(qw, math.sqrt(max(mab2, 0.0)))
                out[j, 4] = qw
        # --- shape features around the jet axis
        pnorm = math.sqrt(sx * sx + sy * sy + sz * sz)
        m = math.sqrt(m2)
        if pnorm <= 0.0 or m <= 0.0:
            continue
        nx = sx / pnorm
        ny = sy / pnorm
        nz = sz / pnorm
        # an orthonormal basis (u, v) of the plane transverse to n
        if abs(nz) < 0.9:
            ux, uy, uz = -ny, nx, 0.0
        else:
            ux, uy, uz = 0.0, -nz, ny
        un = math.sqrt(ux * ux + uy * uy + uz * uz)
        ux /= un
        uy /= un
        uz /= un
        vx = ny * uz - nz * uy
        vy = nz * ux - nx * uz
        vz = nx * uy - ny * ux
        i_uu = 0.0
        i_uv = 0.0
        i_vv = 0.0
        ang = 0.0
        for i in range(n):
            if je[i] <= 0.0:
                continue
            pu = jpx[i] * ux + jpy[i] * uy + jpz[i] * uz
            pv = jpx[i] * vx + jpy[i] * vy + jpz[i] * vz
            i_uu += pu * pu / je[i]
            i_uv += pu * pv / je[i]
            i_vv += pv * pv / je[i]
            p2 = jpx[i] * jpx[i] + jpy[i] * jpy[i] + jpz[i] * jpz[i]
            if p2 > 0.0:
                cos_t = (jpx[i] * nx + jpy[i] * ny + jpz[i] * nz) / math.sqrt(p2)
                sin2_t = (pu * pu + pv * pv) / p2
                if cos_t > -1.0:
                    ang += je[i] * sin2_t * sin2_t / (1.0 + cos_t) ** 3
        tr = i_uu + i_vv
        if tr > 0.0:
            out[j, 5] = 4.0 * (i_uu * i_vv - i_uv * i_uv) / (tr * tr)
        out[j, 6] = ang / m
        # --- rest-frame features: boost by -beta
        bx = sx / se
        by = sy / se
        bz = sz / se
        b2 = bx * bx + by * by + bz * bz
        gamma = se / m
        k = (gamma - 1.0) / b2 if b2 > 0.0 else 0.0
        t00 = 0.0
        t01 = 0.0
        t02 = 0.0
        t11 = 0.0
        t12 = 0.0
        t22 = 0.0
        s00 = 0.0
        s01 = 0.0
        s02 = 0.0
        s11 = 0.0
        s12 = 0.0
        s22 = 0.0
        sum_q = 0.0
        sum_q2 = 0.0
        for i in range(n):
            bp = bx * jpx[i] + by * jpy[i] + bz * jpz[i]
            c = k * bp - gamma * je[i]
            qx = jpx[i] + c * bx
            qy = jpy[i] + c * by
            qz = jpz[i] + c * bz
            q2 = qx * qx + qy * qy + qz * qz
            if q2 <= 0.0:
                continue
            q = math.sqrt(q2)
            sum_q += q
            sum_q2 += q2
            s00 += qx * qx
            s01 += qx * qy
            s02 += qx * qz
            s11 += qy * qy
            s12 += qy * qz
            s22 += qz * qz
            t00 += qx * qx / q
            t01 += qx * qy / q
            t02 += qx * qz / q
            t11 += qy * qy / q
            t12 += qy * qz / q
            t22 += qz * qz / q
        if sum_q2 > 0.0:
            lam3 = _smallest_eigenvalue(s00 / sum_q2, s01 / sum_q2, s02 / sum_q2, s11 / sum_q2, s12 / sum_q2,
                                        s22 / sum_q2)
            out[j, 7] = 1.5 * max(lam3, 0.0)
            t_norm2 = t00 * t00 + t11 * t11 + t22 * t22 + 2.0 * (t01 * t01 + t02 * t02 + t12 * t12)
            out[j, 8] = 0.5 * (3.0 * t_norm2 / (sum_q * sum_q) - 1.0)


class TaggingFeatures(NamedTuple):
    """The features of :func:`tagging_features`, one float64 array each, one entry per jet."""

    #: kt splitting scales sqrt(d12) and sqrt(d23) (GeV)
    sqrt_d12: np.ndarray
    sqrt_d23: np.ndarray
    #: DeltaR of the two exclusive kt subjets
    kt_dr: np.ndarray
    #: d12 / (d12 + m**2)
    z_cut: np.ndarray
    #: smallest pairwise mass of the three exclusive kt subjets (GeV)
    qw: np.ndarray
    #: planar flow, angularity (a = -2), aplanarity and Fox-Wolfram H2/H0 (rest frame)
    planar_flow: np.ndarray
    angularity: np.ndarray
    aplanarity: np.ndarray
    fox_wolfram_r2: np.ndarray


def tagging_features(px, py, pz, E, const_offsets, *, n_threads=None) -> TaggingFeatures:
    """kt splitting scales, KtDR, z_cut, Q_w, planar flow, angularity, aplanarity, Fox-Wolfram R2 of every jet.

    Parameters
    ----------
    px, py, pz, E : numpy.ndarray
        Flat float64 four-momenta (GeV) of the constituents of all jets.
    const_offsets : numpy.ndarray
        int64, length ``n_jets + 1``: the constituents of jet ``j`` are
        ``const_offsets[j]:const_offsets[j+1]``.
    n_threads : int, optional
        Threads over blocks of jets; default ``numba.get_num_threads()``.

    Returns
    -------
    TaggingFeatures
        Named tuple of float64 arrays of length ``n_jets`` (definitions in the
        module docstring).
    """
    (px, py, pz, E), coff = check_jet_arrays((px, py, pz, E), ("px", "py", "pz", "E"), const_offsets)
    out = np.zeros((coff.shape[0] - 1, len(FEATURE_NAMES)))

    def work(lo, hi):
        _block(px, py, pz, E, coff, lo, hi, out)

    run_blocks(work, coff, 2.0, n_threads)
    return TaggingFeatures(*(out[:, c].copy() for c in range(len(FEATURE_NAMES))))
