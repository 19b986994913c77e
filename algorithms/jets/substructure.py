"""Jet substructure observables as numba kernels: all jets of a chunk in one call.

Pure functions on flat arrays: no I/O, no logging, no configuration.  The
constituents of jet ``j`` are the slice ``const_offsets[j]:const_offsets[j+1]``
of flat four-momentum arrays ``px, py, pz, E`` (GeV); ``const_offsets`` has
length ``n_jets + 1``.  Every output is a flat array with one entry per jet, in
the order of ``const_offsets``, so the per-event jet offsets of the caller
apply to it unchanged.

Observables
-----------
jet mass
    From the summed four-momentum of the constituents, with FastJet's
    ``PseudoJet::m`` convention: ``m2 = (E + pz)(E - pz) - pt**2`` and
    ``m = -sqrt(-m2)`` when rounding makes ``m2`` negative.
N-subjettiness ``tau_1, tau_2, tau_3``
    Normalised measure (FastJet-contrib ``NormalizedMeasure(beta, R0)``)::

        tau_N = sum_k pt_k * min_a DeltaR_ka**beta / (sum_k pt_k * R0**beta)

    with ``R0`` the jet radius and ``beta = 1`` by default.  The axes are the
    exclusive kt axes (contrib ``KT_Axes``): the constituents are reclustered
    with the kt algorithm without beam distance (FastJet's
    ``max_allowable_R``), E-scheme recombination, and the ``N`` jets alive
    after ``n - N`` merges are the axes (no one-pass minimisation).  A jet
    with ``n <= N`` constituents has ``tau_N = 0``.  ``tau21 = tau2/tau1`` and
    ``tau32 = tau3/tau2`` are 0 where the denominator is 0.
energy correlation functions
    Hadron-collider convention of contrib ``EnergyCorrelator`` with measure
    ``pt_R``: ``ECF(1) = sum_i pt_i``, ``ECF(2) = sum_{i<j} pt_i pt_j R_ij**beta``,
    ``ECF(3) = sum_{i<j<k} pt_i pt_j pt_k (R_ij R_ik R_jk)**beta`` with
    ``R_ij**2 = Delta y**2 + Delta phi**2`` (rapidity ``y``).  Normalised
    ``e2 = ECF(2)/ECF(1)**2`` and ``e3 = ECF(3)/ECF(1)**3`` (contrib
    ``EnergyCorrelatorGeneralized(-1, N, beta)`` normalised), ``C2 = e3/e2**2``
    and ``D2 = e3/e2**3`` (0 where ``e2 = 0``).  ``ECF(3)`` costs
    ``n**3/6`` multiply-adds per jet, done as a vectorised inner loop over a
    precomputed angle matrix (a few ms for 300 constituents).
soft drop (default: modified mass-drop, ``z_cut = 0.1``, ``beta = 0``)
    Contrib ``SoftDrop(beta, z_cut, R0)`` with its defaults (symmetry measure
    ``scalar_z``, recursion into the larger-pt branch, no mass-drop cut):
    the constituents are reclustered with Cambridge/Aachen (no beam distance)
    and declustered from the top, following the harder (larger ``pt**2``)
    branch until ``min(pt1, pt2)/(pt1 + pt2) > z_cut * (DeltaR_12/R0)**beta``.
    When no splitting passes, the groomed jet is the last (single) constituent
    reached (grooming mode), with ``z_g = R_g = -1`` as fastjet-contrib reports it.

Rapidity and azimuth follow ``PseudoJet::_set_rap_phi`` (phi in ``[0, 2 pi)``)
and distances ``PseudoJet::squared_distance``, so the results agree with
FastJet and FastJet-contrib to rounding.  The reclustering is an ``O(n**2)``
nearest-neighbour pairwise clustering written here (it keeps the full
clustering history, which soft drop needs); exact ties in the distances are
broken by the particle order, which can differ from FastJet's strategies.

Jets are processed in contiguous blocks on ``numba.get_num_threads()``
threads (the kernels release the GIL).

:mod:`.images` builds on this module: it uses the pairwise clustering with
history (:func:`cluster_history` and the columns ``NODE_*`` and ``LINK_*`` of
its node tables), the input checks (:func:`check_jet_arrays`,
:func:`check_positive`) and the jet-block runner (:func:`run_blocks`).
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba
import numpy as np

from .._numba import jit
from .kernels import rap_phi  # FastJet's PseudoJet::_set_rap_phi, one copy

__all__ = [
    "Substructure",
    "SoftDrop",
    "jet_substructure",
    "jet_mass",
    "nsubjettiness",
    "energy_correlations",
    "soft_drop",
]

_PI = math.pi
_TWOPI = 2.0 * math.pi
_INF = math.inf


# ============================================================================
# kinematics (FastJet conventions)
# ============================================================================
@jit
def _signed_mass(px, py, pz, e):
    """``PseudoJet::m``: sqrt(m2), or -sqrt(-m2) when m2 < 0."""
    m2 = (e + pz) * (e - pz) - (px * px + py * py)
    return -math.sqrt(-m2) if m2 < 0.0 else math.sqrt(m2)


@jit
def _dr2(y1, f1, y2, f2, periodic):
    """``PseudoJet::squared_distance``: Delta y**2 + Delta phi**2 (phi periodic if asked)."""
    dphi = abs(f1 - f2)
    if periodic and dphi > _PI:
        dphi = _TWOPI - dphi
    dy = y1 - y2
    return dphi * dphi + dy * dy


# ============================================================================
# pairwise clustering with full history
# ============================================================================
# node table columns (float): E-scheme four-momentum, position, pt weight
NODE_PX = 0
NODE_PY = 1
NODE_PZ = 2
NODE_E = 3
NODE_Y = 4  # rapidity (or eta, local x for the pt-scheme)
NODE_PHI = 5  # azimuth (or local y)
NODE_PT = 6  # pt
# node table columns (int)
LINK_PARENT1 = 0  # parent 1 (-1 for particles)
LINK_PARENT2 = 1  # parent 2
LINK_CHILD = 2  # merge node that consumed this node, -1 if none (final or beam)
LINK_BEAM = 3  # 1 if the node became an inclusive jet (merged with the beam)


@jit
def _nearest(s, m, sy, sf, r2, periodic):
    """Nearest neighbour of slot ``s`` among ``m`` slots within ``r2``; (-1, r2) if none."""
    best = r2
    nn = -1
    for t in range(m):
        if t != s:
            d = _dr2(sy[s], sf[s], sy[t], sf[t], periodic)
            if d < best:
                best = d
                nn = t
    return nn, best


@jit
def cluster_history(px, py, pz, e, y, f, w, p, r2, escheme, periodic, nodes, links):
    """Generalised-kt clustering of one set of particles, with its history.

    Parameters
    ----------
    px, py, pz, e, y, f, w : 1-d float arrays of the ``n`` particles: four-momentum
        (E-scheme), position (rapidity, azimuth) and pt.
    p : 1 for kt (scale pt**2), 0 for Cambridge/Aachen (scale 1).
    r2 : R**2; ``inf`` for no beam distance (pure pairwise clustering).
    escheme : E-scheme recombination (positions from the summed four-momentum)
        if true, else pt-scheme (pt summed, position pt-weighted, as FastJet's
        ``pt_scheme``, massless four-momentum not tracked).
    periodic : azimuth periodic in 2 pi (else a plain plane).
    nodes : float (2n-1, 7) output, links : int (2n-1, 4) output; rows ``0..n-1``
        are the particles, row ``n + k`` is the k-th pairwise merge.

    Returns
    -------
    n_nodes : number of rows filled (``2n - 1`` without beam steps).
    """
    n = px.shape[0]
    if n == 0:
        return 0
    for i in range(n):
        nodes[i, NODE_PX] = px[i]
        nodes[i, NODE_PY] = py[i]
        nodes[i, NODE_PZ] = pz[i]
        nodes[i, NODE_E] = e[i]
        nodes[i, NODE_Y] = y[i]
        nodes[i, NODE_PHI] = f[i]
        nodes[i, NODE_PT] = w[i]
        links[i, LINK_PARENT1] = -1
        links[i, LINK_PARENT2] = -1
        links[i, LINK_CHILD] = -1
        links[i, LINK_BEAM] = 0
    # active slots
    snode = np.empty(n, dtype=np.int64)
    sy = np.empty(n)
    sf = np.empty(n)
    ssc = np.empty(n)
    nn = np.empty(n, dtype=np.int64)
    nnd = np.empty(n)
    flag = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        snode[i] = i
        sy[i] = y[i]
        sf[i] = f[i]
        if p == 0:
            ssc[i] = 1.0
        elif escheme:
            ssc[i] = px[i] * px[i] + py[i] * py[i]
        else:
            ssc[i] = w[i] * w[i]
    m = n
    for s in range(m):
        nn[s], nnd[s] = _nearest(s, m, sy, sf, r2, periodic)
    use_beam = r2 < _INF
    inv_r2 = 1.0 / r2 if use_beam else 0.0
    nxt = n
    while m > 0:
        # smallest distance: pairwise min(s_a, s_b) dR2/R2 against beam s_a
        best = _INF
        a = -1
        beam = False
        for s in range(m):
            if nn[s] >= 0:
                d = min(ssc[s], ssc[nn[s]]) * nnd[s]
                if use_beam:
                    d *= inv_r2
                if d < best:
                    best = d
                    a = s
                    beam = False
            if use_beam and ssc[s] < best:
                best = ssc[s]
                a = s
                beam = True
        if a < 0:
            # only possible without beam distance and a single slot left
            break
        last = m - 1
        if beam:
            links[snode[a], LINK_BEAM] = 1
            for s in range(m):
                flag[s] = nn[s] == a
            b = a
        else:
            b = nn[a]
            if b < a:
                a, b = b, a
            na = snode[a]
            nb = snode[b]
            k = nxt
            nxt += 1
            links[k, LINK_PARENT1] = na
            links[k, LINK_PARENT2] = nb
            links[k, LINK_CHILD] = -1
            links[k, LINK_BEAM] = 0
            links[na, LINK_CHILD] = k
            links[nb, LINK_CHILD] = k
            for c in range(4):
                nodes[k, c] = nodes[na, c] + nodes[nb, c]
            wa = nodes[na, NODE_PT]
            wb = nodes[nb, NODE_PT]
            if escheme:
                ry, rf = rap_phi(nodes[k, NODE_PX], nodes[k, NODE_PY], nodes[k, NODE_PZ], nodes[k, NODE_E])
                nodes[k, NODE_PT] = math.sqrt(nodes[k, NODE_PX] ** 2 + nodes[k, NODE_PY] ** 2)
            else:
                wk = wa + wb
                fa = nodes[na, NODE_PHI]
                fb = nodes[nb, NODE_PHI]
                if periodic:
                    if fa - fb > _PI:
                        fb += _TWOPI
                    elif fa - fb < -_PI:
                        fb -= _TWOPI
                if wk > 0.0:
                    ry = (wa * nodes[na, NODE_Y] + wb * nodes[nb, NODE_Y]) / wk
                    rf = (wa * fa + wb * fb) / wk
                else:
                    ry = 0.5 * (nodes[na, NODE_Y] + nodes[nb, NODE_Y])
                    rf = 0.5 * (fa + fb)
                if periodic:
                    if rf < 0.0:
                        rf += _TWOPI
                    elif rf >= _TWOPI:
                        rf -= _TWOPI
                nodes[k, NODE_PT] = wk
            nodes[k, NODE_Y] = ry
            nodes[k, NODE_PHI] = rf
            for s in range(m):
                flag[s] = nn[s] == a or nn[s] == b
            snode[a] = k
            sy[a] = ry
            sf[a] = rf
            if p == 0:
                ssc[a] = 1.0
            elif escheme:
                ssc[a] = nodes[k, NODE_PX] * nodes[k, NODE_PX] + nodes[k, NODE_PY] * nodes[k, NODE_PY]
            else:
                ssc[a] = nodes[k, NODE_PT] * nodes[k, NODE_PT]
        # remove slot b (the beam jet, or the second parent) by moving the last slot into it
        if b != last:
            snode[b] = snode[last]
            sy[b] = sy[last]
            sf[b] = sf[last]
            ssc[b] = ssc[last]
            nn[b] = nn[last]
            nnd[b] = nnd[last]
            flag[b] = flag[last]
            for s in range(last):
                if nn[s] == last:
                    nn[s] = b
        m = last
        if not beam:
            # the merged slot: full scan; every other slot may now have it as nearest
            if a < m:
                best_d = r2
                best_t = -1
                for t in range(m):
                    if t != a:
                        d = _dr2(sy[a], sf[a], sy[t], sf[t], periodic)
                        if d < best_d:
                            best_d = d
                            best_t = t
                        if not flag[t] and d < nnd[t]:
                            nn[t] = a
                            nnd[t] = d
                nn[a] = best_t
                nnd[a] = best_d
                flag[a] = False
        for s in range(m):
            if flag[s]:
                nn[s], nnd[s] = _nearest(s, m, sy, sf, r2, periodic)
                flag[s] = False
    return nxt


@jit
def _exclusive_nodes(n, n_nodes, links, njets, out):
    """Nodes alive after ``n - njets`` merges of a pairwise history (all particles if n <= njets)."""
    if n <= njets:
        for i in range(n):
            out[i] = i
        return n
    limit = 2 * n - njets  # nodes created by the first n - njets merges have index < limit
    cnt = 0
    for k in range(min(limit, n_nodes)):
        c = links[k, LINK_CHILD]
        if c < 0 or c >= limit:
            out[cnt] = k
            cnt += 1
    return cnt


# ============================================================================
# observables of one jet
# ============================================================================
@jit
def _taus(n, y, f, w, nodes, links, n_nodes, r0, beta, out3):
    """tau_1..3 (normalised measure) with exclusive-kt axes from a kt history."""
    axes = np.empty(3, dtype=np.int64)
    denom = 0.0
    for i in range(n):
        denom += w[i]
    denom *= r0 ** beta
    for nj in range(1, 4):
        if n <= nj or denom <= 0.0:
            out3[nj - 1] = 0.0
            continue
        na = _exclusive_nodes(n, n_nodes, links, nj, axes)
        num = 0.0
        for i in range(n):
            dmin = _INF
            for a in range(na):
                d = _dr2(y[i], f[i], nodes[axes[a], NODE_Y], nodes[axes[a], NODE_PHI], True)
                if d < dmin:
                    dmin = d
            num += w[i] * (math.sqrt(dmin) if beta == 1.0 else dmin ** (0.5 * beta))
        out3[nj - 1] = num / denom


@jit(fastmath={"reassoc", "contract", "nsz", "arcp"})
def _row_dot(a, b, lo, hi):
    """sum_k a[k] * b[k] for k in lo:hi, vectorised (reassociation allowed)."""
    s = 0.0
    for k in range(lo, hi):
        s += a[k] * b[k]
    return s


@jit
def _ecfs(n, y, f, w, beta, ang, wang):
    """(ECF(1), ECF(2), ECF(3)) with the ``pt_R`` measure; ``ang``/``wang`` are (>=n, >=n) work arrays."""
    ecf1 = 0.0
    for i in range(n):
        ecf1 += w[i]
    if n < 2:
        return ecf1, 0.0, 0.0
    half_beta = 0.5 * beta
    for i in range(n):
        ang[i, i] = 0.0
        for j in range(i + 1, n):
            d2 = _dr2(y[i], f[i], y[j], f[j], True)
            a = math.sqrt(d2) if beta == 1.0 else (d2 if beta == 2.0 else d2 ** half_beta)
            ang[i, j] = a
            ang[j, i] = a
    ecf2 = 0.0
    for i in range(n):
        s = 0.0
        for j in range(i + 1, n):
            s += w[j] * ang[i, j]
        ecf2 += w[i] * s
    if n < 3:
        return ecf1, ecf2, 0.0
    # ECF(3) = sum_{i<j} pt_i pt_j R_ij * sum_{k>j} (pt_k R_ik) R_jk
    for i in range(n):
        for k in range(n):
            wang[i, k] = w[k] * ang[i, k]
    ecf3 = 0.0
    for i in range(n - 2):
        wi = wang[i]
        si = 0.0
        for j in range(i + 1, n - 1):
            si += wang[i, j] * _row_dot(wi, ang[j], j + 1, n)
        ecf3 += w[i] * si
    return ecf1, ecf2, ecf3


@jit
def _soft_drop(n, nodes, links, n_nodes, zcut, beta, r0, kept, lo):
    """Soft drop on a C/A history; returns (mass, pt, z_g, R_g) and marks kept leaves."""
    if n == 0:
        return 0.0, 0.0, 0.0, 0.0
    cur = n_nodes - 1
    zg = 0.0
    rg = 0.0
    inv_r02 = 1.0 / (r0 * r0)
    while True:
        p1 = links[cur, LINK_PARENT1]
        p2 = links[cur, LINK_PARENT2]
        if p1 < 0:
            # a single particle: no splitting passed; fastjet-contrib reports z_g = R_g = -1 then
            zg = -1.0
            rg = -1.0
            break
        pt2c = nodes[cur, NODE_PX] ** 2 + nodes[cur, NODE_PY] ** 2
        if pt2c <= 0.0:
            # contrib's "recursion issue": an empty groomed jet
            return 0.0, 0.0, 0.0, 0.0
        pt2a = nodes[p1, NODE_PX] ** 2 + nodes[p1, NODE_PY] ** 2
        pt2b = nodes[p2, NODE_PX] ** 2 + nodes[p2, NODE_PY] ** 2
        pta = math.sqrt(pt2a)
        ptb = math.sqrt(pt2b)
        tot = pta + ptb
        if tot == 0.0:
            return 0.0, 0.0, 0.0, 0.0
        z = min(pta, ptb) / tot
        dr2 = _dr2(nodes[p1, NODE_Y], nodes[p1, NODE_PHI], nodes[p2, NODE_Y], nodes[p2, NODE_PHI], True)
        cut = zcut
        if beta != 0.0:
            cut = zcut * (dr2 * inv_r02) ** (0.5 * beta)
        if z > cut:
            zg = z
            rg = math.sqrt(dr2)
            break
        cur = p1 if pt2a >= pt2b else p2
    # mark the leaves below the groomed node
    stack = np.empty(n, dtype=np.int64)
    top = 0
    stack[0] = cur
    top = 1
    while top > 0:
        top -= 1
        k = stack[top]
        if links[k, LINK_PARENT1] < 0:
            kept[lo + k] = True
        else:
            stack[top] = links[k, LINK_PARENT1]
            stack[top + 1] = links[k, LINK_PARENT2]
            top += 2
    px = nodes[cur, NODE_PX]
    py = nodes[cur, NODE_PY]
    return _signed_mass(px, py, nodes[cur, NODE_PZ], nodes[cur, NODE_E]), math.sqrt(px * px + py * py), zg, rg


# ============================================================================
# chunk kernel
# ============================================================================
@jit
def _block(px, py, pz, e, coff, j_lo, j_hi, r0, beta, zcut, sd_beta, do_mass, do_tau, do_ecf, do_sd,
           out_f, kept):
    """All requested observables of jets ``j_lo:j_hi``; one row of ``out_f`` per jet.

    ``out_f`` columns: 0 mass, 1-3 tau1-3, 4-6 ECF(1..3), 7-10 soft-drop (mass, pt, z_g, R_g).
    """
    nmax = 0
    for j in range(j_lo, j_hi):
        nmax = max(nmax, coff[j + 1] - coff[j])
    y = np.empty(nmax)
    f = np.empty(nmax)
    w = np.empty(nmax)
    nodes = np.empty((max(2 * nmax - 1, 1), 7))
    links = np.empty((max(2 * nmax - 1, 1), 4), dtype=np.int64)
    if do_ecf:
        ang = np.empty((nmax, nmax))
        wang = np.empty((nmax, nmax))
    else:
        ang = np.empty((1, 1))
        wang = np.empty((1, 1))
    taus = np.empty(3)
    for j in range(j_lo, j_hi):
        lo = coff[j]
        hi = coff[j + 1]
        n = hi - lo
        jpx = px[lo:hi]
        jpy = py[lo:hi]
        jpz = pz[lo:hi]
        je = e[lo:hi]
        for i in range(n):
            y[i], f[i] = rap_phi(jpx[i], jpy[i], jpz[i], je[i])
            w[i] = math.sqrt(jpx[i] * jpx[i] + jpy[i] * jpy[i])
        if do_mass:
            sx = 0.0
            sy_ = 0.0
            sz = 0.0
            se = 0.0
            for i in range(n):
                sx += jpx[i]
                sy_ += jpy[i]
                sz += jpz[i]
                se += je[i]
            out_f[j, 0] = _signed_mass(sx, sy_, sz, se)
        if do_tau:
            nn_ = cluster_history(jpx, jpy, jpz, je, y[:n], f[:n], w[:n], 1, _INF, True, True, nodes, links)
            _taus(n, y, f, w, nodes, links, nn_, r0, beta, taus)
            out_f[j, 1] = taus[0]
            out_f[j, 2] = taus[1]
            out_f[j, 3] = taus[2]
        if do_ecf:
            e1, e2, e3 = _ecfs(n, y, f, w, beta, ang, wang)
            out_f[j, 4] = e1
            out_f[j, 5] = e2
            out_f[j, 6] = e3
        if do_sd:
            nn_ = cluster_history(jpx, jpy, jpz, je, y[:n], f[:n], w[:n], 0, _INF, True, True, nodes, links)
            m, pt, zg, rg = _soft_drop(n, nodes, links, nn_, zcut, sd_beta, r0, kept, lo)
            out_f[j, 7] = m
            out_f[j, 8] = pt
            out_f[j, 9] = zg
            out_f[j, 10] = rg


# ============================================================================
# drivers
# ============================================================================
def check_jet_arrays(arrays, names, const_offsets):
    """Flat float64 arrays of one length and int64 offsets within them."""
    out = [np.ascontiguousarray(a, dtype=np.float64) for a in arrays]
    for name, a in zip(names, out):
        if a.ndim != 1:
            raise ValueError(f"{name} must be a flat (1-d) array, got shape {a.shape}")
    if len({a.shape[0] for a in out}) != 1:
        raise ValueError(f"{', '.join(names)} must have the same length")
    coff = np.ascontiguousarray(const_offsets, dtype=np.int64)
    if coff.ndim != 1 or coff.shape[0] < 1:
        raise ValueError("const_offsets must be a 1-d array of length n_jets + 1")
    n = out[0].shape[0] if out else 0
    if coff[0] < 0 or coff[-1] > n or np.any(np.diff(coff) < 0):
        raise ValueError(f"const_offsets must be non-decreasing within [0, {n}], "
                         f"got first={coff[0]}, last={coff[-1]}")
    return out, coff


def check_positive(name, value):
    """``value`` as a float, which must be positive and finite."""
    value = float(value)
    if not (value > 0.0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return value


def _jet_blocks(coff, power, nthreads):
    """Contiguous jet ranges of about equal cost (multiplicity**power), a few per thread."""
    njets = coff.shape[0] - 1
    if njets == 0 or nthreads <= 1:
        return np.array([0, njets], dtype=np.int64)
    nblocks = min(njets, 4 * nthreads)
    cost = np.cumsum(np.diff(coff).astype(np.float64) ** power + 1.0)
    targets = cost[-1] * np.arange(1, nblocks) / nblocks
    inner = np.searchsorted(cost, targets, side="right")
    return np.unique(np.concatenate(([0], inner, [njets]))).astype(np.int64)


def run_blocks(work, coff, power, n_threads):
    """Call ``work(lo, hi)`` on jet blocks, concurrently when there are several threads.

    Every jet writes its own rows of the outputs, so the blocks are independent.
    """
    nthreads = numba.get_num_threads() if n_threads is None else max(1, int(n_threads))
    blocks = _jet_blocks(coff, power, nthreads)
    if blocks.shape[0] <= 2:
        work(int(blocks[0]), int(blocks[-1]))
        return
    with ThreadPoolExecutor(max_workers=nthreads) as pool:
        futures = [pool.submit(work, int(blocks[b]), int(blocks[b + 1])) for b in range(blocks.shape[0] - 1)]
        for future in futures:
            future.result()


def _compute(px, py, pz, E, const_offsets, R, beta, zcut, sd_beta, what, n_threads):
    (px, py, pz, E), coff = check_jet_arrays((px, py, pz, E), ("px", "py", "pz", "E"), const_offsets)
    R = check_positive("R", R)
    beta = check_positive("beta", beta)
    zcut = float(zcut)
    sd_beta = float(sd_beta)
    if not (0.0 <= zcut < 0.5):
        raise ValueError(f"zcut must be in [0, 0.5), got {zcut}")
    if not (sd_beta >= 0.0 and math.isfinite(sd_beta)):
        raise ValueError(f"sd_beta must be a finite number >= 0, got {sd_beta}")
    njets = coff.shape[0] - 1
    out = np.zeros((njets, 11))
    kept = np.zeros(px.shape[0], dtype=np.bool_)
    flags = tuple(name in what for name in ("mass", "tau", "ecf", "sd"))

    def work(lo, hi):
        _block(px, py, pz, E, coff, lo, hi, R, beta, zcut, sd_beta, *flags, out, kept)

    run_blocks(work, coff, 3.0 if "ecf" in what else 2.0, n_threads)
    return out, kept


def _safe_ratio(num, den, power=1):
    """num / den**power, 0 where den == 0."""
    den_p = den ** power
    out = np.zeros_like(num)
    np.divide(num, den_p, out=out, where=den_p != 0.0)
    return out


class SoftDrop(NamedTuple):
    """Soft-drop groomed jets, one entry per jet (``kept``: one per constituent)."""

    #: groomed mass (GeV), FastJet's signed convention
    mass: np.ndarray
    #: groomed transverse momentum (GeV)
    pt: np.ndarray
    #: momentum fraction min(pt1, pt2)/(pt1 + pt2) of the splitting that passed (0 if none)
    zg: np.ndarray
    #: rapidity-azimuth distance of the two prongs of that splitting (0 if none)
    rg: np.ndarray
    #: bool per constituent (flat, aligned with the inputs): kept by the grooming
    kept: np.ndarray


class Substructure(NamedTuple):
    """All substructure observables of :func:`jet_substructure`, one float64 array each, one entry per jet."""

    #: jet mass from the summed constituent four-momenta (GeV)
    mass: np.ndarray
    #: N-subjettiness (normalised measure, exclusive-kt axes)
    tau1: np.ndarray
    tau2: np.ndarray
    tau3: np.ndarray
    #: tau2/tau1 and tau3/tau2 (0 where the denominator is 0)
    tau21: np.ndarray
    tau32: np.ndarray
    #: normalised energy correlation functions ECF(2)/ECF(1)**2 and ECF(3)/ECF(1)**3
    e2: np.ndarray
    e3: np.ndarray
    #: C2 = e3/e2**2 and D2 = e3/e2**3 (0 where e2 == 0)
    c2: np.ndarray
    d2: np.ndarray
    #: soft-drop groomed mass (GeV), pt (GeV), z_g and R_g
    sd_mass: np.ndarray
    sd_pt: np.ndarray
    sd_zg: np.ndarray
    sd_rg: np.ndarray


def jet_substructure(px, py, pz, E, const_offsets, R, *, beta=1.0, zcut=0.1, sd_beta=0.0, n_threads=None):
    """Mass, N-subjettiness, energy correlations and soft drop of every jet.

    Parameters
    ----------
    px, py, pz, E : numpy.ndarray
        Flat float64 four-momenta (GeV) of the constituents of all jets.
    const_offsets : numpy.ndarray
        int64, length ``n_jets + 1``: the constituents of jet ``j`` are
        ``const_offsets[j]:const_offsets[j+1]``.
    R : float
        Jet radius: ``R0`` of the N-subjettiness normalisation and of soft drop.
    beta : float, optional
        Angular exponent of N-subjettiness and of the energy correlators
        (default 1).
    zcut, sd_beta : float, optional
        Soft-drop parameters (default 0.1 and 0, the modified mass-drop).
    n_threads : int, optional
        Threads over blocks of jets; default ``numba.get_num_threads()``.

    Returns
    -------
    Substructure
        Named tuple of float64 arrays of length ``n_jets`` (see its fields).
    """
    out, _ = _compute(px, py, pz, E, const_offsets, R, beta, zcut, sd_beta, ("mass", "tau", "ecf", "sd"), n_threads)
    ecf1, ecf2, ecf3 = out[:, 4], out[:, 5], out[:, 6]
    e2 = _safe_ratio(ecf2, ecf1, 2)
    e3 = _safe_ratio(ecf3, ecf1, 3)
    return Substructure(
        mass=out[:, 0].copy(), tau1=out[:, 1].copy(), tau2=out[:, 2].copy(), tau3=out[:, 3].copy(),
        tau21=_safe_ratio(out[:, 2], out[:, 1]), tau32=_safe_ratio(out[:, 3], out[:, 2]),
        e2=e2, e3=e3, c2=_safe_ratio(e3, e2, 2), d2=_safe_ratio(e3, e2, 3),
        sd_mass=out[:, 7].copy(), sd_pt=out[:, 8].copy(), sd_zg=out[:, 9].copy(), sd_rg=out[:, 10].copy())


def jet_mass(px, py, pz, E, const_offsets):
    """Mass (GeV) of every jet from the summed four-momenta of its constituents.

    Parameters
    ----------
    px, py, pz, E : numpy.ndarray
        Flat float64 four-momenta (GeV) of the constituents of all jets.
    const_offsets : numpy.ndarray
        int64, length ``n_jets + 1``: the constituents of jet ``j`` are
        ``const_offsets[j]:const_offsets[j+1]``.

    Returns
    -------
    numpy.ndarray
        float64, one per jet; ``-sqrt(-m2)`` where rounding gives ``m2 < 0``
        (``PseudoJet::m``); 0 for a jet without constituents.
    """
    out, _ = _compute(px, py, pz, E, const_offsets, 1.0, 1.0, 0.1, 0.0, ("mass",), 1)
    return out[:, 0].copy()


def nsubjettiness(px, py, pz, E, const_offsets, R0, *, beta=1.0, n_threads=None):
    """N-subjettiness ``tau_1, tau_2, tau_3`` with exclusive-kt axes, normalised measure.

    ``tau_N = sum_k pt_k min_a DeltaR_ka**beta / (sum_k pt_k R0**beta)``
    (FastJet-contrib ``Nsubjettiness(N, KT_Axes(), NormalizedMeasure(beta, R0))``).

    Parameters
    ----------
    px, py, pz, E : numpy.ndarray
        Flat float64 four-momenta (GeV) of the constituents of all jets.
    const_offsets : numpy.ndarray
        int64, length ``n_jets + 1``: the constituents of jet ``j`` are
        ``const_offsets[j]:const_offsets[j+1]``.
    R0 : float
        Normalisation radius, the jet radius.
    beta : float, optional
        Angular exponent (default 1).

    Returns
    -------
    tau1, tau2, tau3 : numpy.ndarray
        float64, one per jet (0 for a jet with ``n <= N`` constituents).
    """
    out, _ = _compute(px, py, pz, E, const_offsets, R0, beta, 0.1, 0.0, ("tau",), n_threads)
    return out[:, 1].copy(), out[:, 2].copy(), out[:, 3].copy()


def energy_correlations(px, py, pz, E, const_offsets, *, beta=1.0, normalized=True, n_threads=None):
    """Energy correlation functions ECF(1..3) with the ``pt_R`` measure (FastJet-contrib).

    Parameters
    ----------
    px, py, pz, E : numpy.ndarray
        Flat float64 four-momenta (GeV) of the constituents of all jets.
    const_offsets : numpy.ndarray
        int64, length ``n_jets + 1``: the constituents of jet ``j`` are
        ``const_offsets[j]:const_offsets[j+1]``.
    beta : float, optional
        Angular exponent (default 1).
    normalized : bool, optional
        Return ``e2 = ECF(2)/ECF(1)**2`` and ``e3 = ECF(3)/ECF(1)**3`` (default);
        else ``ECF(1)`` (GeV), ``ECF(2)`` (GeV**2), ``ECF(3)`` (GeV**3).

    Returns
    -------
    (e2, e3) or (ECF1, ECF2, ECF3) : tuple of numpy.ndarray
        float64, one per jet (0 for a jet with fewer than N constituents).
    """
    out, _ = _compute(px, py, pz, E, const_offsets, 1.0, beta, 0.1, 0.0, ("ecf",), n_threads)
    if not normalized:
        return out[:, 4].copy(), out[:, 5].copy(), out[:, 6].copy()
    return _safe_ratio(out[:, 5], out[:, 4], 2), _safe_ratio(out[:, 6], out[:, 4], 3)


def soft_drop(px, py, pz, E, const_offsets, R0, *, zcut=0.1, beta=0.0, n_threads=None):
    """Soft-drop grooming (Cambridge/Aachen declustering, larger-pt branch, ``scalar_z``).

    A splitting passes when ``min(pt1, pt2)/(pt1 + pt2) > zcut * (DeltaR_12/R0)**beta``;
    ``beta = 0`` is the modified mass-drop tagger.

    Parameters
    ----------
    px, py, pz, E : numpy.ndarray
        Flat float64 four-momenta (GeV) of the constituents of all jets.
    const_offsets : numpy.ndarray
        int64, length ``n_jets + 1``: the constituents of jet ``j`` are
        ``const_offsets[j]:const_offsets[j+1]``.
    R0 : float
        Soft-drop angular normalisation, the jet radius.
    zcut : float, optional
        Momentum-fraction cut (default 0.1).
    beta : float, optional
        Angular exponent (default 0).

    Returns
    -------
    SoftDrop
        Groomed mass and pt (GeV), z_g, R_g per jet and the per-constituent
        ``kept`` mask.
    """
    out, kept = _compute(px, py, pz, E, const_offsets, R0, 1.0, zcut, beta, ("sd",), n_threads)
    return SoftDrop(out[:, 7].copy(), out[:, 8].copy(), out[:, 9].copy(), out[:, 10].copy(), kept)
