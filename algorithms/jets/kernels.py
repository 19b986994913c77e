"""Generalised-kt jet clustering kernels that reproduce FastJet bit for bit.

Pure functions on flat arrays: no I/O, no logging, no configuration.  All
events of a chunk are clustered in one call; an event is the slice
``offsets[i]:offsets[i+1]`` of the flat four-momentum arrays ``px, py, pz, E``
(GeV).

As in every domain, this module is also the one namespace of the domain's
kernels: the substructure (:mod:`.substructure`), jet-image
(:mod:`.images`), tagging-feature (:mod:`.tagging_features`), labelling
(:mod:`.labelling`) and constituent-set (:mod:`.constituent_sets`) kernels are
re-exported here, imported on first use because those modules take
:func:`rap_phi` from this one.

Physics
-------
Longitudinally invariant generalised-kt family with E-scheme recombination,
exactly as FastJet 3.5 defines it:

* ``d_ij = min(s_i, s_j) * DeltaR_ij**2 / R**2`` and ``d_iB = s_i``, with
  ``DeltaR_ij**2 = (y_i - y_j)**2 + dphi_ij**2`` in *rapidity* ``y`` and
  azimuth ``phi`` in ``[0, 2*pi)``;
* the momentum scale ``s`` is ``pt**2`` for kt (``p = 1``), ``1`` for
  Cambridge/Aachen (``p = 0``), ``1/pt**2`` for anti-kt (``p = -1``, with
  FastJet's ``1e300`` guard for ``pt**2 <= 1e-300``) and ``pow(pt**2, p)`` for
  any other ``p`` (FastJet's ``genkt_algorithm``, with its ``1e-300`` floor
  for ``p <= 0``).

How the results are made identical to FastJet
---------------------------------------------
Rapidity and azimuth of every input and of every recombined pseudojet are
computed with the same floating-point expressions as ``PseudoJet::_set_rap_phi``
(including ``MaxRap = 1e5`` for ``E == |pz|`` and ``pt == 0``), momenta are
summed in the same order, and distances are evaluated as in
``ClusterSequence::_bj_dist`` / ``_bj_diJ`` (distances times ``R**2``, the
normalisation restored at the end).  Exact ties (equal distances, which occur
for degenerate inputs such as several ``pt = 0`` particles in kt, or the equal
beam distances of Cambridge/Aachen that decide ``exclusive_jets(n)`` below the
inclusive multiplicity) are broken by the order in which the data structures
are scanned, which differs between FastJet's strategies.  This module
therefore re-implements the strategies that FastJet's ``Best`` choice uses for
events up to ~10^5 particles, with the same data-structure orders:

* ``N2Plain``        (``ClusterSequence::_simple_N2_cluster``),
* ``N2Tiled``        (``_faster_tiled_N2_cluster``, tiles of size R in y-phi),
* ``N2MinHeapTiled`` (``_minheap_faster_tiled_N2_cluster``, with ``MinHeap``),
* ``N2MHTLazy9`` and ``N2MHTLazy25`` (``LazyTiling9`` / ``LazyTiling25``),

and selects between them with the transcription of
``ClusterSequence::_best_strategy``.  FastJet's ``NlnN`` (CGAL Delaunay) and
``NlnNCam`` strategies, chosen by ``Best`` only above roughly 10^5 particles
(1.5 10^4 for C/A with R > pi/2), are not re-implemented; ``N2MHTLazy25`` is
used instead, which gives identical jets except for exact ties.

Speed
-----
Per event and per thread the work is FastJet's own (same strategy, same
operations), so one thread runs at about FastJet's speed; blocks of events
run concurrently on ``numba.get_num_threads()`` Python threads (the kernels
release the GIL), each event writing to its own slice of the outputs, so the
results do not depend on the number of threads or on the chunking.  See
``benchmarks/jets.py``.

Known differences from FastJet
------------------------------
* ``exclusive_jets`` with ``n_jets`` larger than the number of particles of an
  event returns all particles as jets (FastJet's ``exclusive_jets_up_to``);
  FastJet's ``exclusive_jets(n)`` raises instead.
* Jets are sorted by ``-pt**2`` with a *stable* sort of FastJet's output order;
  ``fastjet::sorted_by_pt`` uses ``std::sort``, whose order for jets with
  exactly equal ``pt**2`` is unspecified beyond 16 jets.
* Inputs with NaN or infinite components are not supported (FastJet's
  behaviour is undefined for them as well).
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from .._numba import jit

__all__ = ["inclusive_jets", "exclusive_jets", "jet_kinematics", "best_strategy", "STRATEGIES"]

# ----------------------------------------------------------------------------
# constants (FastJet's values)
# ----------------------------------------------------------------------------
_PI = math.pi
_TWOPI = 2.0 * math.pi  # == fastjet::twopi as a double
_MAX_RAP = 1e5  # fastjet::MaxRap
_DBL_MAX = float(np.finfo(np.float64).max)  # numeric_limits<double>::max()
_TILE_EDGE_SECURITY_MARGIN = 1.0e-7  # LazyTiling9Alt.hh

# Hot helpers that neither allocate nor return arrays are compiled with
# ``@jit(_nrt=False)``: without the numba runtime (NRT) they skip the reference
# counting of their array arguments (an atomic increment and decrement per
# array and call, ~15% of the run time otherwise); their callers keep the
# arrays alive.

# history "pointers" (ClusterSequence enum)
_INEXISTENT_PARENT = -2
_BEAM_JET = -1
_INVALID = -3

# algorithm codes, derived from p
_ALG_KT = 0
_ALG_CAM = 1
_ALG_ANTIKT = 2
_ALG_GENKT = 3

# strategy codes
_S_BEST = -1
_S_N2PLAIN = 0
_S_N2TILED = 1
_S_N2MHT = 2
_S_LAZY9 = 3
_S_LAZY25 = 4

#: Strategy names accepted by the private ``strategy`` argument, in code order.
STRATEGIES = ("N2Plain", "N2Tiled", "N2MinHeapTiled", "N2MHTLazy9", "N2MHTLazy25")

# columns of the jet table
_PX = 0
_PY = 1
_PZ = 2
_E = 3
_RAP = 4
_PHIJ = 5

# output modes
_MODE_INCLUSIVE = 0
_MODE_EXCL_N = 1
_MODE_EXCL_DCUT = 2


# ============================================================================
# kinematics
# ============================================================================
@jit
def rap_phi(px, py, pz, e):
    """Rapidity and azimuth exactly as ``PseudoJet::_set_rap_phi``."""
    kt2 = px * px + py * py
    if kt2 == 0.0:
        phi = 0.0
    else:
        phi = math.atan2(py, px)
    if phi < 0.0:
        phi += _TWOPI
    if phi >= _TWOPI:
        phi -= _TWOPI
    if e == abs(pz) and kt2 == 0.0:
        max_rap_here = _MAX_RAP + abs(pz)
        if pz >= 0.0:
            rap = max_rap_here
        else:
            rap = -max_rap_here
    else:
        m2 = (e + pz) * (e - pz) - kt2
        effective_m2 = m2 if 0.0 < m2 else 0.0  # std::max(0.0, m2)
        e_plus_pz = e + abs(pz)
        rap = 0.5 * math.log((kt2 + effective_m2) / (e_plus_pz * e_plus_pz))
        if pz > 0:
            rap = -rap
    return rap, phi


@jit
def _jet_kinematics_impl(px, py, pz, e):
    n = px.shape[0]
    pt = np.empty(n)
    rap = np.empty(n)
    phi = np.empty(n)
    mass = np.empty(n)
    for i in range(n):
        kt2 = px[i] * px[i] + py[i] * py[i]
        pt[i] = math.sqrt(kt2)
        r, f = rap_phi(px[i], py[i], pz[i], e[i])
        rap[i] = r
        phi[i] = f
        m2 = (e[i] + pz[i]) * (e[i] - pz[i]) - kt2
        mass[i] = -math.sqrt(-m2) if m2 < 0.0 else math.sqrt(m2)
    return pt, rap, phi, mass


def jet_kinematics(px, py, pz, E):
    """Transverse momentum, rapidity, azimuth and mass with FastJet's conventions.

    Parameters
    ----------
    px, py, pz, E : array_like of float
        Four-momentum components in GeV (any shape; flattened).

    Returns
    -------
    pt : numpy.ndarray
        ``sqrt(px**2 + py**2)`` in GeV (``PseudoJet::pt``).
    rapidity : numpy.ndarray
        ``PseudoJet::rap``: ``0.5*log((pt**2 + max(m**2, 0)) / (E + |pz|)**2)``
        with the sign of ``pz``; ``+-(1e5 + |pz|)`` when ``E == |pz|`` and
        ``pt == 0``.
    phi : numpy.ndarray
        ``PseudoJet::phi`` in ``[0, 2*pi)`` radians (0 when ``pt == 0``).
    mass : numpy.ndarray
        ``PseudoJet::m`` in GeV: ``sqrt(m2)``, or ``-sqrt(-m2)`` when
        ``m2 = (E + pz)*(E - pz) - pt**2`` is negative.
    """
    arrays = [np.ascontiguousarray(np.ravel(a), dtype=np.float64) for a in (px, py, pz, E)]
    n = arrays[0].shape[0]
    if any(a.shape[0] != n for a in arrays):
        raise ValueError("px, py, pz and E must have the same length")
    return _jet_kinematics_impl(*arrays)


# ============================================================================
# scales, strategy choice
# ============================================================================
@jit
def _algorithm_code(p):
    if p == 1.0:
        return _ALG_KT
    if p == 0.0:
        return _ALG_CAM
    if p == -1.0:
        return _ALG_ANTIKT
    return _ALG_GENKT


@jit
def _jet_scale(kt2, algo, p):
    """``ClusterSequence::jet_scale_for_algorithm``."""
    if algo == _ALG_KT:
        return kt2
    elif algo == _ALG_CAM:
        return 1.0
    elif algo == _ALG_ANTIKT:
        if kt2 > 1e-300:
            return 1.0 / kt2
        return 1e300
    if p <= 0 and kt2 < 1e-300:
        kt2 = 1e-300
    return math.pow(kt2, p)


@jit
def _parabola(a, b, c, r):
    """``ClusterSequence::_Parabola``: c*(a*R*R + b*R + 1)."""
    return c * (a * r * r + b * r + 1)


@jit
def _best_strategy(n, r, algo, p):
    """Transcription of ``ClusterSequence::_best_strategy`` (FastJet 3.5).

    NlnN and NlnNCam are replaced by N2MHTLazy25 (see the module docstring).
    """
    bounded_r = max(r, 0.1)
    if n <= 30 or n <= 39.0 / (bounded_r + 0.6):
        return _S_N2PLAIN
    # timing-equivalent algorithm
    if algo == _ALG_GENKT:
        talg = _ALG_ANTIKT if p < 0.0 else _ALG_KT
    else:
        talg = algo
    if bounded_r < 0.65:
        if n < _parabola(-45.4947, 54.3528, 44.6283, bounded_r):
            return _S_N2TILED
        logn = math.log(float(n))
        if logn < _parabola(0.677807, -1.05006, 10.6994, bounded_r):
            return _S_N2MHT
        if talg == _ALG_ANTIKT:
            if logn < _parabola(0.169967, -0.512589, 12.1572, bounded_r):
                return _S_LAZY9
            return _S_LAZY25
        if logn < _parabola(0.16237, -0.484612, 12.3373, bounded_r):
            return _S_LAZY9
        return _S_LAZY25
    elif bounded_r < 0.5 * _PI:
        logn = math.log(float(n))
        if logn < -1.31304 * bounded_r + 7.29621:
            return _S_N2TILED
        if talg == _ALG_ANTIKT:
            if logn < _parabola(0.169967, -0.512589, 12.1572, bounded_r):
                return _S_LAZY9
            return _S_LAZY25
        if logn < _parabola(0.16237, -0.484612, 12.3373, bounded_r):
            return _S_LAZY9
        return _S_LAZY25
    else:
        if n < 75:
            return _S_N2PLAIN
        if talg == _ALG_ANTIKT:
            if n < 700:
                return _S_LAZY9
            return _S_LAZY25
        if n < 1000:
            return _S_LAZY9
        return _S_LAZY25


def best_strategy(n_particles, R, p):
    """Name of the FastJet strategy that ``Best`` picks (and this module uses).

    Parameters
    ----------
    n_particles : int
        Number of inputs of the event.
    R : float
        Jet radius.
    p : float
        Generalised-kt exponent (-1 anti-kt, 0 C/A, 1 kt).
    """
    code = _best_strategy(int(n_particles), float(R), _algorithm_code(float(p)), float(p))
    return STRATEGIES[code]


# ============================================================================
# ClusterSequence bookkeeping: jets and history
# ============================================================================
@jit(_nrt=False)
def _add_step(hint, hflt, cnt, parent1, parent2, jetp, dij):
    """``ClusterSequence::_add_step_to_history``; returns the step index."""
    step = cnt[1]
    hint[step, 0] = parent1
    hint[step, 1] = parent2
    hint[step, 2] = jetp
    hflt[step, 0] = dij
    prev = hflt[step - 1, 1]
    hflt[step, 1] = prev if dij < prev else dij  # std::max(dij, prev)
    cnt[1] = step + 1
    return step


@jit(_nrt=False)
def _do_ij(jm, jhist, hint, hflt, cnt, jet_i, jet_j, dij):
    """``_do_ij_recombination_step`` with E-scheme recombination."""
    k = cnt[0]
    jm[k, _PX] = jm[jet_i, _PX] + jm[jet_j, _PX]
    jm[k, _PY] = jm[jet_i, _PY] + jm[jet_j, _PY]
    jm[k, _PZ] = jm[jet_i, _PZ] + jm[jet_j, _PZ]
    jm[k, _E] = jm[jet_i, _E] + jm[jet_j, _E]
    rap, phi = rap_phi(jm[k, _PX], jm[k, _PY], jm[k, _PZ], jm[k, _E])
    jm[k, _RAP] = rap
    jm[k, _PHIJ] = phi
    cnt[0] = k + 1
    hist_i = jhist[jet_i]
    hist_j = jhist[jet_j]
    step = _add_step(hint, hflt, cnt, min(hist_i, hist_j), max(hist_i, hist_j), k, dij)
    jhist[k] = step
    return k


@jit(_nrt=False)
def _do_ib(jhist, hint, hflt, cnt, jet_i, dib):
    """``_do_iB_recombination_step``."""
    _add_step(hint, hflt, cnt, jhist[jet_i], _BEAM_JET, _INVALID, dib)


@jit(inline="always")
def _init_event(px, py, pz, e, lo, n, jm, jhist, hint, hflt, cnt):
    """Copy the inputs into the jet table and fill the initial history."""
    for i in range(n):
        jm[i, _PX] = px[lo + i]
        jm[i, _PY] = py[lo + i]
        jm[i, _PZ] = pz[lo + i]
        jm[i, _E] = e[lo + i]
        rap, phi = rap_phi(px[lo + i], py[lo + i], pz[lo + i], e[lo + i])
        jm[i, _RAP] = rap
        jm[i, _PHIJ] = phi
        jhist[i] = i
        hint[i, 0] = _INEXISTENT_PARENT
        hint[i, 1] = _INEXISTENT_PARENT
        hint[i, 2] = i
        hflt[i, 0] = 0.0
        hflt[i, 1] = 0.0
    cnt[0] = n
    cnt[1] = n


# ============================================================================
# brief jets: FastJet's BriefJet / TiledJet, one array per member
#
#   bfl = (eta, phi, scale, nnd)              float64, "scale" is kt2 in FastJet
#   bil = (nn, prev, nxt, tile, jidx, flag)   int64, -1 is NULL
#
# jidx is the index of the jet in the jet table; flag is diJ_posn (N2Tiled) or
# the "minheap update needed" label (heap strategies).
# ============================================================================
@jit(_nrt=False)
def _bj_set_jetinfo(bfl, bil, row, k, jm, r2, algo, p):
    eta, phi, scale, nnd = bfl
    nn, prev, nxt, tile, jidx, flag = bil
    eta[row] = jm[k, _RAP]
    phi[row] = jm[k, _PHIJ]
    kt2 = jm[k, _PX] * jm[k, _PX] + jm[k, _PY] * jm[k, _PY]
    scale[row] = _jet_scale(kt2, algo, p)
    jidx[row] = k
    nnd[row] = r2
    nn[row] = -1


@jit
def _dist(eta_a, phi_a, eta_b, phi_b):
    """``_bj_dist``: Delta y**2 + Delta phi**2 with the periodic phi difference."""
    dphi = abs(phi_a - phi_b)
    deta = eta_a - eta_b
    if dphi > _PI:
        dphi = _TWOPI - dphi
    return dphi * dphi + deta * deta


@jit
def _dist_not_periodic(eta_a, phi_a, eta_b, phi_b):
    """``_bj_dist_not_periodic`` of the lazy tilings."""
    dphi = phi_a - phi_b
    deta = eta_a - eta_b
    return dphi * dphi + deta * deta


@jit(_nrt=False)
def _bj_diJ(scale, nnd, nn, a):
    kt2 = scale[a]
    b = nn[a]
    if b >= 0:
        if scale[b] < kt2:
            kt2 = scale[b]
    return nnd[a] * kt2


# ============================================================================
# N2Plain
# ============================================================================
@jit(inline="always")
def _n2plain(n, r2, inv_r2, algo, p, jm, jhist, hint, hflt, cnt, bfl, bil, dij_arr):
    eta, phi, scale, nnd = bfl
    nn, prev, nxt, tile, jidx, flag = bil
    for i in range(n):
        _bj_set_jetinfo(bfl, bil, i, i, jm, r2, algo, p)
    tail = n
    # _bj_set_NN_crosscheck(jetA, head, jetA) for jetA = 1..n-1
    for a in range(1, n):
        eta_a = eta[a]
        phi_a = phi[a]
        best_dist = r2
        best = -1
        for b in range(0, a):
            dist = _dist(eta_a, phi_a, eta[b], phi[b])
            if dist < best_dist:
                best_dist = dist
                best = b
            if dist < nnd[b]:
                nnd[b] = dist
                nn[b] = a
        nn[a] = best
        nnd[a] = best_dist
    for i in range(n):
        dij_arr[i] = _bj_diJ(scale, nnd, nn, i)

    while tail != 0:
        dij_min = dij_arr[0]
        best = 0
        for i in range(1, n):
            if dij_arr[i] < dij_min:
                best = i
                dij_min = dij_arr[i]
        jet_a = best
        jet_b = nn[jet_a]
        dij_min *= inv_r2
        if jet_b >= 0:
            if jet_a < jet_b:
                jet_a, jet_b = jet_b, jet_a
            k = _do_ij(jm, jhist, hint, hflt, cnt, jidx[jet_a], jidx[jet_b], dij_min)
            _bj_set_jetinfo(bfl, bil, jet_b, k, jm, r2, algo, p)
        else:
            _do_ib(jhist, hint, hflt, cnt, jidx[jet_a], dij_min)
        tail -= 1
        n -= 1
        # *jetA = *tail
        eta[jet_a] = eta[tail]
        phi[jet_a] = phi[tail]
        scale[jet_a] = scale[tail]
        nnd[jet_a] = nnd[tail]
        nn[jet_a] = nn[tail]
        jidx[jet_a] = jidx[tail]
        dij_arr[jet_a] = dij_arr[tail]
        for ji in range(0, tail):
            nn_i = nn[ji]
            if nn_i == jet_a or nn_i == jet_b:
                # _bj_set_NN_nocross(jetI, head, tail)
                eta_i = eta[ji]
                phi_i = phi[ji]
                best_dist = r2
                best = -1
                for b in range(0, ji):
                    dist = _dist(eta_i, phi_i, eta[b], phi[b])
                    if dist < best_dist:
                        best_dist = dist
                        best = b
                for b in range(ji + 1, tail):
                    dist = _dist(eta_i, phi_i, eta[b], phi[b])
                    if dist < best_dist:
                        best_dist = dist
                        best = b
                nn[ji] = best
                nnd[ji] = best_dist
                dij_arr[ji] = _bj_diJ(scale, nnd, nn, ji)
            if jet_b >= 0:
                dist = _dist(eta[ji], phi[ji], eta[jet_b], phi[jet_b])
                if dist < nnd[ji]:
                    if ji != jet_b:
                        nnd[ji] = dist
                        nn[ji] = jet_b
                        dij_arr[ji] = _bj_diJ(scale, nnd, nn, ji)
                if dist < nnd[jet_b]:
                    if ji != jet_b:
                        nnd[jet_b] = dist
                        nn[jet_b] = ji
            if nn[ji] == tail:
                nn[ji] = jet_a
        if jet_b >= 0:
            dij_arr[jet_b] = _bj_diJ(scale, nnd, nn, jet_b)


# ============================================================================
# tiling (ClusterSequence tiles, LazyTiling9, LazyTiling25)
# ============================================================================
@jit
def _tiling_extent(jm, n):
    """``TilingExtent::_determine_rapidity_extent`` on the initial particles."""
    nrap = 20
    nbins = 2 * nrap
    counts = np.zeros(nbins)
    minrap = _DBL_MAX
    maxrap = -_DBL_MAX
    for i in range(n):
        if jm[i, _E] == abs(jm[i, _PZ]):
            continue
        rap = jm[i, _RAP]
        if rap < minrap:
            minrap = rap
        if rap > maxrap:
            maxrap = rap
        ibin = int(rap + nrap)
        if ibin < 0:
            ibin = 0
        if ibin >= nbins:
            ibin = nbins - 1
        counts[ibin] += 1
    max_in_bin = 0.0
    for ibin in range(nbins):
        if max_in_bin < counts[ibin]:
            max_in_bin = counts[ibin]
    frac = max_in_bin * 0.25
    allowed_max_cumul = math.floor(4.0 if frac < 4.0 else frac)
    if allowed_max_cumul > max_in_bin:
        allowed_max_cumul = max_in_bin
    cumul_lo = 0.0
    for ibin in range(nbins):
        cumul_lo += counts[ibin]
        if cumul_lo >= allowed_max_cumul:
            y = float(ibin - nrap)
            if y > minrap:
                minrap = y
            break
    cumul_hi = 0.0
    for ibin in range(nbins - 1, -1, -1):
        cumul_hi += counts[ibin]
        if cumul_hi >= allowed_max_cumul:
            y = float(ibin - nrap + 1)
            if y < maxrap:
                maxrap = y
            break
    if minrap > maxrap:
        # no particle with finite rapidity: FastJet's behaviour is undefined
        # here (integer overflow); use a single central tile column instead
        minrap = 0.0
        maxrap = 0.0
    return minrap, maxrap


@jit
def _tile_index_ij(ieta, iphi, ieta_min, nphi):
    return (ieta - ieta_min) * nphi + (iphi + nphi) % nphi


@jit
def _build_tiles(kind, r, jm, n):
    """Tile geometry and neighbour lists.

    kind 0: ``ClusterSequence::_initialise_tiles`` (N2Tiled, N2MinHeapTiled),
    kind 1: ``LazyTiling9::_initialise_tiles``, kind 2: ``LazyTiling25``.

    Returns ``(tf, ti, nb, nnb, rh, etac, phic, periodic)`` where
    ``tf = [eta_min, eta_max, size_eta, size_phi, half_eta, half_phi]``,
    ``ti = [ieta_min, ieta_max, n_phi, n_tiles]`` and ``nb[t, :nnb[t]]`` are
    the neighbours of tile ``t`` in FastJet's order (itself, the left-hand
    ones, then from ``rh[t]`` on the right-hand ones).
    """
    if kind == 2:
        default_size = max(0.1, r) / 2
        min_phi_tiles = 5
        reach = 2
    else:
        default_size = max(0.1, r)
        min_phi_tiles = 3
        reach = 1
    size_eta = default_size
    nphi = max(min_phi_tiles, int(math.floor(_TWOPI / default_size)))
    size_phi = _TWOPI / nphi
    eta_min, eta_max = _tiling_extent(jm, n)
    min_cols = reach + 1  # FASTJET_LAZY9_MIN2TILESY / FASTJET_LAZY25_MIN3TILESY
    if kind != 0 and eta_max - eta_min < min_cols * size_eta:
        size_eta = (eta_max - eta_min) / min_cols
        ieta_min = 0
        ieta_max = min_cols - 1
        eta_max -= size_eta
    else:
        ieta_min = int(math.floor(eta_min / size_eta))
        ieta_max = int(math.floor(eta_max / size_eta))
        eta_min = ieta_min * size_eta
        eta_max = ieta_max * size_eta
    half_eta = size_eta * 0.5
    half_phi = size_phi * 0.5
    ntiles = (ieta_max - ieta_min + 1) * nphi
    width = 2 * reach + 1
    nb = np.empty((ntiles, width * width), dtype=np.int64)
    nnb = np.empty(ntiles, dtype=np.int64)
    rh = np.empty(ntiles, dtype=np.int64)
    etac = np.empty(ntiles)
    phic = np.empty(ntiles)
    periodic = np.zeros(ntiles, dtype=np.bool_)
    for ieta in range(ieta_min, ieta_max + 1):
        for iphi in range(nphi):
            t = _tile_index_ij(ieta, iphi, ieta_min, nphi)
            k = 0
            nb[t, k] = t
            k += 1
            # columns to the left: ieta-1, then (Lazy25) ieta-2
            for dcol in range(1, reach + 1):
                if ieta - dcol >= ieta_min:
                    for dphi in range(-reach, reach + 1):
                        nb[t, k] = _tile_index_ij(ieta - dcol, iphi + dphi, ieta_min, nphi)
                        k += 1
            # below X: iphi-1, then (Lazy25) iphi-2
            for dphi in range(1, reach + 1):
                nb[t, k] = _tile_index_ij(ieta, iphi - dphi, ieta_min, nphi)
                k += 1
            rh[t] = k
            # above X: iphi+1, then (Lazy25) iphi+2
            for dphi in range(1, reach + 1):
                nb[t, k] = _tile_index_ij(ieta, iphi + dphi, ieta_min, nphi)
                k += 1
            # columns to the right
            for dcol in range(1, reach + 1):
                if ieta + dcol <= ieta_max:
                    for dphi in range(-reach, reach + 1):
                        nb[t, k] = _tile_index_ij(ieta + dcol, iphi + dphi, ieta_min, nphi)
                        k += 1
            nnb[t] = k
            etac[t] = ((ieta - ieta_min) + 0.5) * size_eta + eta_min
            phic[t] = (iphi + 0.5) * size_phi
            if nphi <= min_phi_tiles:
                periodic[t] = True
            elif iphi < reach or iphi >= nphi - reach:
                periodic[t] = True
    tf = np.empty(6)
    tf[0] = eta_min
    tf[1] = eta_max
    tf[2] = size_eta
    tf[3] = size_phi
    tf[4] = half_eta
    tf[5] = half_phi
    ti = np.empty(4, dtype=np.int64)
    ti[0] = ieta_min
    ti[1] = ieta_max
    ti[2] = nphi
    ti[3] = ntiles
    return tf, ti, nb, nnb, rh, etac, phic, periodic


@jit(_nrt=False)
def _tile_index(eta, phi, tf, ti):
    """``_tile_index(eta, phi)`` of the tiled strategies."""
    ncol = ti[1] - ti[0]
    if eta <= tf[0]:
        ieta = 0
    elif eta >= tf[1]:
        ieta = ncol
    else:
        ieta = int((eta - tf[0]) / tf[2])
        if ieta > ncol:
            ieta = ncol
    iphi = int((phi + _TWOPI) / tf[3]) % ti[2]
    return iphi + ieta * ti[2]


@jit(_nrt=False)
def _tj_set_jetinfo(bfl, bil, row, k, jm, r2, algo, p, tf, ti, head):
    """``_tj_set_jetinfo``: set the brief jet and insert it at the head of its tile."""
    _bj_set_jetinfo(bfl, bil, row, k, jm, r2, algo, p)
    eta, phi, scale, nnd = bfl
    nn, prev, nxt, tile, jidx, flag = bil
    t = _tile_index(eta[row], phi[row], tf, ti)
    tile[row] = t
    prev[row] = -1
    first = head[t]
    nxt[row] = first
    if first >= 0:
        prev[first] = row
    head[t] = row


@jit(_nrt=False)
def _bj_remove_from_tiles(prev, nxt, tile, row, head):
    before = prev[row]
    after = nxt[row]
    if before < 0:
        head[tile[row]] = after
    else:
        nxt[before] = after
    if after >= 0:
        prev[after] = before


@jit(_nrt=False)
def _add_untagged_neighbours(t0, nb, nnb, tagged, union, n_near):
    for k in range(nnb[t0]):
        t = nb[t0, k]
        if not tagged[t]:
            tagged[t] = True
            union[n_near] = t
            n_near += 1
    return n_near


@jit(_nrt=False)
def _initial_nn_tiled(bfl, bil, head, nb, nnb, rh, ntiles):
    """Initial nearest neighbours of N2Tiled / N2MinHeapTiled."""
    eta, phi, scale, nnd = bfl
    nn, prev, nxt, tile, jidx, flag = bil
    for t in range(ntiles):
        a = head[t]
        while a >= 0:
            eta_a = eta[a]
            phi_a = phi[a]
            b = head[t]
            while b != a:
                dist = _dist(eta_a, phi_a, eta[b], phi[b])
                if dist < nnd[a]:
                    nnd[a] = dist
                    nn[a] = b
                if dist < nnd[b]:
                    nnd[b] = dist
                    nn[b] = a
                b = nxt[b]
            a = nxt[a]
        for k in range(rh[t], nnb[t]):
            rt = nb[t, k]
            a = head[t]
            while a >= 0:
                eta_a = eta[a]
                phi_a = phi[a]
                b = head[rt]
                while b >= 0:
                    dist = _dist(eta_a, phi_a, eta[b], phi[b])
                    if dist < nnd[a]:
                        nnd[a] = dist
                        nn[a] = b
                    if dist < nnd[b]:
                        nnd[b] = dist
                        nn[b] = a
                    b = nxt[b]
                a = nxt[a]


@jit(_nrt=False)
def _nn_in_tiles(eta, phi, nnd, nn, nxt, ji, t0, nb, nnb, head, r2):
    """Recompute jetI's nearest neighbour over the tiles around t0 (N2Tiled)."""
    eta_i = eta[ji]
    phi_i = phi[ji]
    best_dist = r2
    best = -1
    for k in range(nnb[t0]):
        jj = head[nb[t0, k]]
        while jj >= 0:
            dist = _dist(eta_i, phi_i, eta[jj], phi[jj])
            if dist < best_dist and jj != ji:
                best_dist = dist
                best = jj
            jj = nxt[jj]
    nnd[ji] = best_dist
    nn[ji] = best


# ============================================================================
# N2Tiled
# ============================================================================
@jit(inline="always")
def _n2tiled(n, r, r2, inv_r2, algo, p, jm, jhist, hint, hflt, cnt, bfl, bil, dij_val, dij_jet):
    eta, phi, scale, nnd = bfl
    nn, prev, nxt, tile, jidx, flag = bil
    tf, ti, nb, nnb, rh, etac, phic, periodic = _build_tiles(0, r, jm, n)
    ntiles = ti[3]
    head = np.full(ntiles, -1, dtype=np.int64)
    tagged = np.zeros(ntiles, dtype=np.bool_)
    union = np.empty(3 * 9, dtype=np.int64)
    for i in range(n):
        _tj_set_jetinfo(bfl, bil, i, i, jm, r2, algo, p, tf, ti, head)
    _initial_nn_tiled(bfl, bil, head, nb, nnb, rh, ntiles)
    for i in range(n):
        dij_val[i] = _bj_diJ(scale, nnd, nn, i)
        dij_jet[i] = i
        flag[i] = i  # diJ_posn
    while n > 0:
        dij_min = dij_val[0]
        best = 0
        for h in range(1, n):
            if dij_val[h] < dij_min:
                best = h
                dij_min = dij_val[h]
        jet_a = dij_jet[best]
        jet_b = nn[jet_a]
        dij_min *= inv_r2
        old_b_tile = -1
        if jet_b >= 0:
            if jet_a < jet_b:
                jet_a, jet_b = jet_b, jet_a
            k = _do_ij(jm, jhist, hint, hflt, cnt, jidx[jet_a], jidx[jet_b], dij_min)
            _bj_remove_from_tiles(prev, nxt, tile, jet_a, head)
            old_b_tile = tile[jet_b]
            _bj_remove_from_tiles(prev, nxt, tile, jet_b, head)
            _tj_set_jetinfo(bfl, bil, jet_b, k, jm, r2, algo, p, tf, ti, head)
        else:
            _do_ib(jhist, hint, hflt, cnt, jidx[jet_a], dij_min)
            _bj_remove_from_tiles(prev, nxt, tile, jet_a, head)
        tile_a = tile[jet_a]
        n_near = _add_untagged_neighbours(tile_a, nb, nnb, tagged, union, 0)
        if jet_b >= 0:
            tile_b = tile[jet_b]
            if tile_b != tile_a:
                n_near = _add_untagged_neighbours(tile_b, nb, nnb, tagged, union, n_near)
            if old_b_tile != tile_a and old_b_tile != tile_b:
                n_near = _add_untagged_neighbours(old_b_tile, nb, nnb, tagged, union, n_near)
        n -= 1
        # compactify the diJ table
        pos_a = flag[jet_a]
        flag[dij_jet[n]] = pos_a
        dij_val[pos_a] = dij_val[n]
        dij_jet[pos_a] = dij_jet[n]
        if jet_b >= 0:
            eta_b = eta[jet_b]
            phi_b = phi[jet_b]
        else:
            eta_b = 0.0
            phi_b = 0.0
        for it in range(n_near):
            t = union[it]
            tagged[t] = False
            ji = head[t]
            while ji >= 0:
                nn_i = nn[ji]
                if nn_i == jet_a or (nn_i == jet_b and jet_b >= 0):
                    _nn_in_tiles(eta, phi, nnd, nn, nxt, ji, t, nb, nnb, head, r2)
                    dij_val[flag[ji]] = _bj_diJ(scale, nnd, nn, ji)
                if jet_b >= 0:
                    dist = _dist(eta[ji], phi[ji], eta_b, phi_b)
                    if dist < nnd[ji]:
                        if ji != jet_b:
                            nnd[ji] = dist
                            nn[ji] = jet_b
                            dij_val[flag[ji]] = _bj_diJ(scale, nnd, nn, ji)
                    if dist < nnd[jet_b]:
                        if ji != jet_b:
                            nnd[jet_b] = dist
                            nn[jet_b] = ji
                ji = nxt[ji]
        if jet_b >= 0:
            dij_val[flag[jet_b]] = _bj_diJ(scale, nnd, nn, jet_b)


# ============================================================================
# MinHeap
# ============================================================================
@jit(_nrt=False)
def _heap_init(hv, hl, size):
    """``MinHeap::initialise``; values already in hv[:size]."""
    for i in range(size):
        hl[i] = i
    for i in range(size - 1, 0, -1):
        parent = (i - 1) // 2
        if hv[hl[i]] < hv[hl[parent]]:
            hl[parent] = hl[i]


@jit(_nrt=False)
def _heap_update(hv, hl, size, loc, new_value):
    """``MinHeap::update``."""
    start = loc
    if hl[start] != start and not (new_value < hv[hl[start]]):
        hv[start] = new_value
        return
    hv[start] = new_value
    hl[start] = start
    change_made = True
    while change_made:
        here = loc
        change_made = False
        if hl[here] == start:
            hl[here] = here
            change_made = True
        child = 2 * loc + 1
        if child < size and hv[hl[child]] < hv[hl[here]]:
            hl[here] = hl[child]
            change_made = True
        child += 1
        if child < size and hv[hl[child]] < hv[hl[here]]:
            hl[here] = hl[child]
            change_made = True
        if loc == 0:
            break
        loc = (loc - 1) // 2


# ============================================================================
# N2MinHeapTiled
# ============================================================================
@jit(inline="always")
def _n2minheaptiled(n, r, r2, inv_r2, algo, p, jm, jhist, hint, hflt, cnt, bfl, bil, hv, hl, stack):
    eta, phi, scale, nnd = bfl
    nn, prev, nxt, tile, jidx, flag = bil
    tf, ti, nb, nnb, rh, etac, phic, periodic = _build_tiles(0, r, jm, n)
    ntiles = ti[3]
    head = np.full(ntiles, -1, dtype=np.int64)
    tagged = np.zeros(ntiles, dtype=np.bool_)
    union = np.empty(3 * 9, dtype=np.int64)
    for i in range(n):
        _tj_set_jetinfo(bfl, bil, i, i, jm, r2, algo, p, tf, ti, head)
    _initial_nn_tiled(bfl, bil, head, nb, nnb, rh, ntiles)
    size = n
    for i in range(n):
        hv[i] = _bj_diJ(scale, nnd, nn, i)
        flag[i] = 0
    _heap_init(hv, hl, size)
    nstack = 0
    while n > 0:
        jet_a = hl[0]
        dij_min = hv[jet_a] * inv_r2
        jet_b = nn[jet_a]
        old_b_tile = -1
        if jet_b >= 0:
            if jet_a < jet_b:
                jet_a, jet_b = jet_b, jet_a
            k = _do_ij(jm, jhist, hint, hflt, cnt, jidx[jet_a], jidx[jet_b], dij_min)
            _bj_remove_from_tiles(prev, nxt, tile, jet_a, head)
            old_b_tile = tile[jet_b]
            _bj_remove_from_tiles(prev, nxt, tile, jet_b, head)
            _tj_set_jetinfo(bfl, bil, jet_b, k, jm, r2, algo, p, tf, ti, head)
        else:
            _do_ib(jhist, hint, hflt, cnt, jidx[jet_a], dij_min)
            _bj_remove_from_tiles(prev, nxt, tile, jet_a, head)
        _heap_update(hv, hl, size, jet_a, _DBL_MAX)
        tile_a = tile[jet_a]
        n_near = _add_untagged_neighbours(tile_a, nb, nnb, tagged, union, 0)
        if jet_b >= 0:
            tile_b = tile[jet_b]
            if tile_b != tile_a:
                n_near = _add_untagged_neighbours(tile_b, nb, nnb, tagged, union, n_near)
            if old_b_tile != tile_a and old_b_tile != tile_b:
                n_near = _add_untagged_neighbours(old_b_tile, nb, nnb, tagged, union, n_near)
            flag[jet_b] = 1
            stack[nstack] = jet_b
            nstack += 1
            eta_b = eta[jet_b]
            phi_b = phi[jet_b]
        else:
            eta_b = 0.0
            phi_b = 0.0
        for it in range(n_near):
            t = union[it]
            tagged[t] = False
            ji = head[t]
            while ji >= 0:
                nn_i = nn[ji]
                if nn_i == jet_a or (nn_i == jet_b and jet_b >= 0):
                    if flag[ji] != 1:
                        flag[ji] = 1
                        stack[nstack] = ji
                        nstack += 1
                    _nn_in_tiles(eta, phi, nnd, nn, nxt, ji, t, nb, nnb, head, r2)
                if jet_b >= 0:
                    dist = _dist(eta[ji], phi[ji], eta_b, phi_b)
                    if dist < nnd[ji]:
                        if ji != jet_b:
                            nnd[ji] = dist
                            nn[ji] = jet_b
                            if flag[ji] != 1:
                                flag[ji] = 1
                                stack[nstack] = ji
                                nstack += 1
                    if dist < nnd[jet_b]:
                        if ji != jet_b:
                            nnd[jet_b] = dist
                            nn[jet_b] = ji
                ji = nxt[ji]
        while nstack > 0:
            nstack -= 1
            ji = stack[nstack]
            _heap_update(hv, hl, size, ji, _bj_diJ(scale, nnd, nn, ji))
            flag[ji] = 0
        n -= 1


# ============================================================================
# N2MHTLazy9 / N2MHTLazy25
# ============================================================================
@jit(_nrt=False)
def _distance_to_tile(eta, phi, own_tile, t, etac, phic, half_eta, half_phi):
    """``LazyTiling9::_distance_to_tile``."""
    if etac[own_tile] == etac[t]:
        deta = 0.0
    else:
        deta = abs(eta - etac[t]) - half_eta
    dphi = abs(phi - phic[t])
    if dphi > _PI:
        dphi = _TWOPI - dphi
    dphi -= half_phi
    if dphi < 0:
        dphi = 0.0
    return dphi * dphi + deta * deta


@jit(_nrt=False)
def _lazy_set_nn(eta, phi, nnd, nn, nxt, tile, flag, ji, nb, nnb, head, etac, phic, half_eta, half_phi, r2,
                 stack, nstack):
    """``LazyTiling9::_set_NN``; returns the new stack size."""
    if flag[ji] != 1:
        flag[ji] = 1
        stack[nstack] = ji
        nstack += 1
    t0 = tile[ji]
    eta_i = eta[ji]
    phi_i = phi[ji]
    best_dist = r2
    best = -1
    for k in range(nnb[t0]):
        t = nb[t0, k]
        if best_dist < _distance_to_tile(eta_i, phi_i, t0, t, etac, phic, half_eta, half_phi):
            continue
        jj = head[t]
        while jj >= 0:
            dist = _dist(eta_i, phi_i, eta[jj], phi[jj])
            if dist < best_dist and jj != ji:
                best_dist = dist
                best = jj
            jj = nxt[jj]
    nnd[ji] = best_dist
    nn[ji] = best
    return nstack


@jit(_nrt=False)
def _lazy_add_untagged_using_max_info(eta, phi, t0, nb, nnb, tagged, union, n_near, maxnn, etac, phic,
                                      half_eta, half_phi):
    for k in range(nnb[t0]):
        t = nb[t0, k]
        if tagged[t]:
            continue
        dist = _distance_to_tile(eta, phi, t0, t, etac, phic, half_eta, half_phi) - _TILE_EDGE_SECURITY_MARGIN
        if dist > maxnn[t]:
            continue
        tagged[t] = True
        union[n_near] = t
        n_near += 1
    return n_near


@jit(inline="always")
def _lazy(kind, n, r, r2, inv_r2, algo, p, jm, jhist, hint, hflt, cnt, bfl, bil, hv, hl, stack):
    """``LazyTiling9::run`` (kind 1) and ``LazyTiling25::run`` (kind 2)."""
    eta, phi, scale, nnd = bfl
    nn, prev, nxt, tile, jidx, flag = bil
    tf, ti, nb, nnb, rh, etac, phic, periodic = _build_tiles(kind, r, jm, n)
    half_eta = tf[4]
    half_phi = tf[5]
    ntiles = ti[3]
    head = np.full(ntiles, -1, dtype=np.int64)
    tagged = np.zeros(ntiles, dtype=np.bool_)
    maxnn = np.zeros(ntiles)
    union = np.empty(3 * nb.shape[1], dtype=np.int64)
    for i in range(n):
        _tj_set_jetinfo(bfl, bil, i, i, jm, r2, algo, p, tf, ti, head)

    # initial nearest neighbours: own tile first
    for t in range(ntiles):
        a = head[t]
        while a >= 0:
            eta_a = eta[a]
            phi_a = phi[a]
            b = head[t]
            while b != a:
                dist = _dist_not_periodic(eta_a, phi_a, eta[b], phi[b])
                if dist < nnd[a]:
                    nnd[a] = dist
                    nn[a] = b
                if dist < nnd[b]:
                    nnd[b] = dist
                    nn[b] = a
                b = nxt[b]
            a = nxt[a]
        a = head[t]
        while a >= 0:
            if nnd[a] > maxnn[t]:
                maxnn[t] = nnd[a]
            a = nxt[a]
    # then the right-hand tiles, only where relevant
    for t in range(ntiles):
        per = periodic[t]
        for k in range(rh[t], nnb[t]):
            rt = nb[t, k]
            a = head[t]
            while a >= 0:
                eta_a = eta[a]
                phi_a = phi[a]
                dtt = _distance_to_tile(eta_a, phi_a, t, rt, etac, phic, half_eta, half_phi)
                if dtt <= nnd[a] or dtt <= maxnn[rt]:
                    b = head[rt]
                    while b >= 0:
                        if per:
                            dist = _dist(eta_a, phi_a, eta[b], phi[b])
                        else:
                            dist = _dist_not_periodic(eta_a, phi_a, eta[b], phi[b])
                        if dist < nnd[a]:
                            nnd[a] = dist
                            nn[a] = b
                        if dist < nnd[b]:
                            nnd[b] = dist
                            nn[b] = a
                        b = nxt[b]
                a = nxt[a]
    for t in range(ntiles):
        maxnn[t] = 0.0
        a = head[t]
        while a >= 0:
            if nnd[a] > maxnn[t]:
                maxnn[t] = nnd[a]
            a = nxt[a]

    size = n
    for i in range(n):
        hv[i] = _bj_diJ(scale, nnd, nn, i)
        flag[i] = 0
    _heap_init(hv, hl, size)
    nstack = 0

    while n > 0:
        jet_a = hl[0]
        dij_min = hv[jet_a] * inv_r2
        jet_b = nn[jet_a]
        old_b_eta = 0.0
        old_b_phi = 0.0
        old_b_tile = -1
        if jet_b >= 0:
            if jet_a < jet_b:
                jet_a, jet_b = jet_b, jet_a
            k = _do_ij(jm, jhist, hint, hflt, cnt, jidx[jet_a], jidx[jet_b], dij_min)
            _bj_remove_from_tiles(prev, nxt, tile, jet_a, head)
            old_b_eta = eta[jet_b]
            old_b_phi = phi[jet_b]
            old_b_tile = tile[jet_b]
            _bj_remove_from_tiles(prev, nxt, tile, jet_b, head)
            _tj_set_jetinfo(bfl, bil, jet_b, k, jm, r2, algo, p, tf, ti, head)
        else:
            _do_ib(jhist, hint, hflt, cnt, jidx[jet_a], dij_min)
            _bj_remove_from_tiles(prev, nxt, tile, jet_a, head)
        _heap_update(hv, hl, size, jet_a, _DBL_MAX)

        n_near = 0
        if jet_b >= 0:
            tb = tile[jet_b]
            eta_b = eta[jet_b]
            phi_b = phi[jet_b]
            for k in range(nnb[tb]):
                t = nb[tb, k]
                dtt = _distance_to_tile(eta_b, phi_b, tb, t, etac, phic, half_eta, half_phi)
                if not (dtt <= nnd[jet_b] or dtt <= maxnn[t]):
                    continue
                union[n_near] = t
                tagged[t] = True
                n_near += 1
                ji = head[t]
                while ji >= 0:
                    nn_i = nn[ji]
                    if nn_i == jet_a or nn_i == jet_b:
                        nstack = _lazy_set_nn(eta, phi, nnd, nn, nxt, tile, flag, ji, nb, nnb, head, etac, phic,
                                              half_eta, half_phi, r2, stack, nstack)
                    # _update_jetX_jetI_NN(jetB, jetI)
                    dist = _dist(eta[ji], phi[ji], eta_b, phi_b)
                    if dist < nnd[ji]:
                        if ji != jet_b:
                            nnd[ji] = dist
                            nn[ji] = jet_b
                            if flag[ji] != 1:
                                flag[ji] = 1
                                stack[nstack] = ji
                                nstack += 1
                    if dist < nnd[jet_b]:
                        if ji != jet_b:
                            nnd[jet_b] = dist
                            nn[jet_b] = ji
                    ji = nxt[ji]
        n_done = n_near
        n_near = _lazy_add_untagged_using_max_info(eta[jet_a], phi[jet_a], tile[jet_a], nb, nnb, tagged, union,
                                                   n_near, maxnn, etac, phic, half_eta, half_phi)
        if jet_b >= 0:
            n_near = _lazy_add_untagged_using_max_info(old_b_eta, old_b_phi, old_b_tile, nb, nnb, tagged, union,
                                                       n_near, maxnn, etac, phic, half_eta, half_phi)
            flag[jet_b] = 1
            stack[nstack] = jet_b
            nstack += 1
        for it in range(n_done):
            tagged[union[it]] = False
        for it in range(n_done, n_near):
            t = union[it]
            tagged[t] = False
            ji = head[t]
            while ji >= 0:
                nn_i = nn[ji]
                if nn_i == jet_a or (nn_i == jet_b and jet_b >= 0):
                    nstack = _lazy_set_nn(eta, phi, nnd, nn, nxt, tile, flag, ji, nb, nnb, head, etac, phic,
                                          half_eta, half_phi, r2, stack, nstack)
                ji = nxt[ji]
        while nstack > 0:
            nstack -= 1
            ji = stack[nstack]
            _heap_update(hv, hl, size, ji, _bj_diJ(scale, nnd, nn, ji))
            flag[ji] = 0
            tj = tile[ji]
            if maxnn[tj] < nnd[ji]:
                maxnn[tj] = nnd[ji]
        n -= 1


# ============================================================================
# jet selection and constituents
# ============================================================================
@jit(inline="always")
def _select_inclusive(n, algo, ptmin, jm, hint, hflt, nodes):
    """``ClusterSequence::inclusive_jets``: history nodes of the jets, in FastJet's order."""
    dcut = ptmin * ptmin
    i = 2 * n - 1
    nj = 0
    if algo == _ALG_KT:
        while i >= 0:
            if hflt[i, 1] < dcut:
                break
            if hint[i, 1] == _BEAM_JET and hflt[i, 0] >= dcut:
                nodes[nj] = hint[i, 0]
                nj += 1
            i -= 1
    elif algo == _ALG_CAM:
        while i >= 0:
            if hint[i, 1] != _BEAM_JET:
                break
            parent1 = hint[i, 0]
            k = hint[parent1, 2]
            if jm[k, _PX] * jm[k, _PX] + jm[k, _PY] * jm[k, _PY] >= dcut:
                nodes[nj] = parent1
                nj += 1
            i -= 1
    else:
        while i >= 0:
            if hint[i, 1] == _BEAM_JET:
                parent1 = hint[i, 0]
                k = hint[parent1, 2]
                if jm[k, _PX] * jm[k, _PX] + jm[k, _PY] * jm[k, _PY] >= dcut:
                    nodes[nj] = parent1
                    nj += 1
            i -= 1
    return nj


@jit(inline="always")
def _select_exclusive(n, njets, hint, nodes):
    """``ClusterSequence::exclusive_jets_up_to``: history nodes, in FastJet's order."""
    if n == 0:
        return 0
    stop_point = 2 * n - njets
    if stop_point < n:
        stop_point = n
    nj = 0
    for i in range(stop_point, 2 * n):
        parent1 = hint[i, 0]
        if parent1 < stop_point:
            nodes[nj] = parent1
            nj += 1
        parent2 = hint[i, 1]
        if parent2 < stop_point and parent2 > 0:
            nodes[nj] = parent2
            nj += 1
    return nj


@jit(inline="always")
def _n_exclusive_jets(n, dcut, hflt):
    """``ClusterSequence::n_exclusive_jets``."""
    i = 2 * n - 1
    while i >= 0:
        if hflt[i, 1] <= dcut:
            break
        i -= 1
    return 2 * n - (i + 1)


@jit
def _stable_argsort(key):
    """Indices that sort ``key`` ascending, equal keys kept in input order (merge sort)."""
    n = key.shape[0]
    order = np.empty(n, dtype=np.int64)
    tmp = np.empty(n, dtype=np.int64)
    for i in range(n):
        order[i] = i
    width = 1
    while width < n:
        lo = 0
        while lo < n:
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            a = lo
            b = mid
            k = lo
            while a < mid and b < hi:
                if key[order[b]] < key[order[a]]:
                    tmp[k] = order[b]
                    b += 1
                else:
                    tmp[k] = order[a]
                    a += 1
                k += 1
            while a < mid:
                tmp[k] = order[a]
                a += 1
                k += 1
            while b < hi:
                tmp[k] = order[b]
                b += 1
                k += 1
            lo += 2 * width
        order, tmp = tmp, order
        width *= 2
    return order


@jit(inline="always")
def _emit_jets(n, nj, nodes, jm, hint, out_jet, out_jcnt, out_const, base, label, dfs):
    """Sort the selected jets by pt (stable) and write momenta and constituents."""
    if nj == 0:
        return
    key = np.empty(nj)
    for r in range(nj):
        k = hint[nodes[r], 2]
        key[r] = -(jm[k, _PX] * jm[k, _PX] + jm[k, _PY] * jm[k, _PY])
    order = _stable_argsort(key)
    for i in range(n):
        label[i] = -1
    for r in range(nj):
        node = nodes[order[r]]
        k = hint[node, 2]
        out_jet[base + r, 0] = jm[k, _PX]
        out_jet[base + r, 1] = jm[k, _PY]
        out_jet[base + r, 2] = jm[k, _PZ]
        out_jet[base + r, 3] = jm[k, _E]
        count = 0
        top = 0
        dfs[top] = node
        top += 1
        while top > 0:
            top -= 1
            h = dfs[top]
            p1 = hint[h, 0]
            if p1 == _INEXISTENT_PARENT:
                label[h] = r
                count += 1
            else:
                dfs[top] = p1
                top += 1
                p2 = hint[h, 1]
                if p2 != _BEAM_JET:
                    dfs[top] = p2
                    top += 1
        out_jcnt[base + r] = count
    # constituents in ascending particle index, grouped by jet (counting sort)
    start = np.empty(nj, dtype=np.int64)
    s = 0
    for r in range(nj):
        start[r] = s
        s += out_jcnt[base + r]
    for i in range(n):
        r = label[i]
        if r >= 0:
            out_const[base + start[r]] = i
            start[r] += 1


@jit
def _process_block(px, py, pz, e, offsets, ev_lo, ev_hi, r, algo, p, strategy, mode, ptmin, n_excl, dcut,
                   out_jet, out_nj, out_jcnt, out_const):
    """Cluster events ``ev_lo:ev_hi`` and write their jets into the output buffers.

    Event ``ev`` writes its jets and constituents at ``offsets[ev] - offsets[0]``
    (it has at most as many jets and constituents as particles), so blocks of
    events can run concurrently.
    """
    nmax = 0
    for ev in range(ev_lo, ev_hi):
        m = offsets[ev + 1] - offsets[ev]
        if m > nmax:
            nmax = m
    cap = max(nmax, 1)
    jm = np.empty((2 * cap, 6))
    jhist = np.empty(2 * cap, dtype=np.int64)
    hint = np.empty((2 * cap, 3), dtype=np.int64)
    hflt = np.empty((2 * cap, 2))
    cnt = np.zeros(2, dtype=np.int64)
    bfl = (np.empty(cap), np.empty(cap), np.empty(cap), np.empty(cap))
    bil = (np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64),
           np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64))
    ws_f = np.empty(cap)
    wi0 = np.empty(2 * cap + 2, dtype=np.int64)
    wi1 = np.empty(2 * cap + 2, dtype=np.int64)
    nodes = np.empty(cap, dtype=np.int64)
    first = offsets[0]
    r2 = r * r
    inv_r2 = 1.0 / r2
    for ev in range(ev_lo, ev_hi):
        lo = offsets[ev]
        n = offsets[ev + 1] - lo
        base = lo - first
        _init_event(px, py, pz, e, lo, n, jm, jhist, hint, hflt, cnt)
        if n > 0:
            s = strategy if strategy >= 0 else _best_strategy(n, r, algo, p)
            if s == _S_N2PLAIN:
                _n2plain(n, r2, inv_r2, algo, p, jm, jhist, hint, hflt, cnt, bfl, bil, ws_f)
            elif s == _S_N2TILED:
                _n2tiled(n, r, r2, inv_r2, algo, p, jm, jhist, hint, hflt, cnt, bfl, bil, ws_f, wi0)
            elif s == _S_N2MHT:
                _n2minheaptiled(n, r, r2, inv_r2, algo, p, jm, jhist, hint, hflt, cnt, bfl, bil, ws_f, wi0, wi1)
            else:
                _lazy(1 if s == _S_LAZY9 else 2, n, r, r2, inv_r2, algo, p, jm, jhist, hint, hflt, cnt, bfl, bil,
                      ws_f, wi0, wi1)
        if mode == _MODE_INCLUSIVE:
            nj = _select_inclusive(n, algo, ptmin, jm, hint, hflt, nodes)
        elif mode == _MODE_EXCL_N:
            nj = _select_exclusive(n, n_excl, hint, nodes)
        else:
            nj = _select_exclusive(n, _n_exclusive_jets(n, dcut, hflt), hint, nodes)
        out_nj[ev] = nj
        _emit_jets(n, nj, nodes, jm, hint, out_jet, out_jcnt, out_const, base, wi0, wi1)


@jit
def _compact(offsets, out_jet, out_nj, out_jcnt, out_const):
    nev = offsets.shape[0] - 1
    first = offsets[0]
    jet_offsets = np.zeros(nev + 1, dtype=np.int64)
    for ev in range(nev):
        jet_offsets[ev + 1] = jet_offsets[ev] + out_nj[ev]
    njet = jet_offsets[nev]
    jet_px = np.empty(njet)
    jet_py = np.empty(njet)
    jet_pz = np.empty(njet)
    jet_e = np.empty(njet)
    const_offsets = np.zeros(njet + 1, dtype=np.int64)
    for ev in range(nev):
        base = offsets[ev] - first
        for k in range(out_nj[ev]):
            j = jet_offsets[ev] + k
            jet_px[j] = out_jet[base + k, 0]
            jet_py[j] = out_jet[base + k, 1]
            jet_pz[j] = out_jet[base + k, 2]
            jet_e[j] = out_jet[base + k, 3]
            const_offsets[j + 1] = const_offsets[j] + out_jcnt[base + k]
    const_index = np.empty(const_offsets[njet], dtype=np.int64)
    for ev in range(nev):
        base = offsets[ev] - first
        c0 = const_offsets[jet_offsets[ev]]
        c1 = const_offsets[jet_offsets[ev + 1]]
        for c in range(c1 - c0):
            const_index[c0 + c] = out_const[base + c]
    return jet_px, jet_py, jet_pz, jet_e, jet_offsets, const_index, const_offsets


# ============================================================================
# public API
# ============================================================================
def _prepare(px, py, pz, E, offsets, R, p):
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (px, py, pz, E)]
    for name, a in zip(("px", "py", "pz", "E"), arrays):
        if a.ndim != 1:
            raise ValueError(f"{name} must be a flat (1-d) array, got shape {a.shape}")
    if len({a.shape[0] for a in arrays}) != 1:
        raise ValueError("px, py, pz and E must have the same length")
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    if offsets.ndim != 1 or offsets.shape[0] < 1:
        raise ValueError("offsets must be a 1-d array of length n_events + 1")
    if np.any(np.diff(offsets) < 0) or offsets[0] < 0 or offsets[-1] > arrays[0].shape[0]:
        raise ValueError(
            f"offsets must be non-decreasing within [0, {arrays[0].shape[0]}], "
            f"got first={offsets[0]}, last={offsets[-1]}")
    R = float(R)
    p = float(p)
    if not (R > 0.0 and math.isfinite(R)):
        raise ValueError(f"R must be a positive finite number, got {R}")
    if not math.isfinite(p):
        raise ValueError(f"p must be finite, got {p}")
    return arrays, offsets, R, p


def _blocks(offsets, nthreads):
    """Contiguous event ranges of about equal cost, a few per thread."""
    nev = offsets.shape[0] - 1
    if nev == 0 or nthreads <= 1:
        return np.array([0, nev], dtype=np.int64)
    nblocks = min(nev, 4 * nthreads)
    # the cost grows faster than linearly with the multiplicity; N**1.5 is a fair proxy
    cost = np.cumsum(np.diff(offsets).astype(np.float64) ** 1.5 + 1.0)
    targets = cost[-1] * np.arange(1, nblocks) / nblocks
    inner = np.searchsorted(cost, targets, side="right")
    return np.unique(np.concatenate(([0], inner, [nev]))).astype(np.int64)


def _run(px, py, pz, E, offsets, R, p, mode, ptmin=0.0, n_excl=-1, dcut=-1.0, strategy=None):
    arrays, offsets, R, p = _prepare(px, py, pz, E, offsets, R, p)
    if strategy is not None and strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    code = _S_BEST if strategy is None else STRATEGIES.index(strategy)
    nev = offsets.shape[0] - 1
    total = int(offsets[-1] - offsets[0])
    out_jet = np.empty((total, 4))
    out_nj = np.zeros(nev, dtype=np.int64)
    out_jcnt = np.empty(total, dtype=np.int64)
    out_const = np.empty(total, dtype=np.int64)
    algo = _algorithm_code(p)
    nthreads = numba.get_num_threads()
    blocks = _blocks(offsets, nthreads)

    def work(b):
        _process_block(*arrays, offsets, blocks[b], blocks[b + 1], R, algo, p, code, mode, float(ptmin),
                       int(n_excl), float(dcut), out_jet, out_nj, out_jcnt, out_const)

    if blocks.shape[0] <= 2:
        work(0)
    else:
        # the kernels release the GIL (nogil): blocks of events run concurrently;
        # every event writes to its own slice of the output buffers
        with ThreadPoolExecutor(max_workers=nthreads) as pool:
            for future in [pool.submit(work, b) for b in range(blocks.shape[0] - 1)]:
                future.result()
    return _compact(offsets, out_jet, out_nj, out_jcnt, out_const)


def inclusive_jets(px, py, pz, E, offsets, R, p, ptmin=0.0, *, strategy=None):
    """Inclusive generalised-kt jets of every event, identical to FastJet.

    Parameters
    ----------
    px, py, pz, E : numpy.ndarray
        Flat float64 four-momenta (GeV) of all particles of all events.
    offsets : numpy.ndarray
        int64, length ``n_events + 1``: event ``i`` is ``offsets[i]:offsets[i+1]``.
    R : float
        Jet radius (rapidity-azimuth distance).
    p : float
        Exponent: -1 anti-kt, 0 Cambridge/Aachen, 1 kt, other values genkt.
    ptmin : float, optional
        Keep jets with ``pt**2 >= ptmin**2`` (GeV), as
        ``ClusterSequence::inclusive_jets(ptmin)``; default 0.
    strategy : str, optional
        Force one of :data:`STRATEGIES` (for validation); default FastJet's
        ``Best`` choice per event.

    Returns
    -------
    jet_px, jet_py, jet_pz, jet_E : numpy.ndarray
        Jet four-momenta (GeV), events concatenated, pt-descending within each
        event.
    jet_offsets : numpy.ndarray
        int64, length ``n_events + 1``: jets of event ``i`` are
        ``jet_offsets[i]:jet_offsets[i+1]``.
    const_index : numpy.ndarray
        int64 positions of the constituents within their event, ascending per jet.
    const_offsets : numpy.ndarray
        int64, length ``n_jets + 1``: constituents of global jet ``j`` are
        ``const_index[const_offsets[j]:const_offsets[j+1]]``.

    Notes
    -----
    Events are clustered on up to ``numba.get_num_threads()`` threads; the
    results are the same for any number of threads and any chunking.
    """
    if not math.isfinite(float(ptmin)):
        raise ValueError(f"ptmin must be finite, got {ptmin}")
    return _run(px, py, pz, E, offsets, R, p, _MODE_INCLUSIVE, ptmin=ptmin, strategy=strategy)


def exclusive_jets(px, py, pz, E, offsets, R, p, n_jets=-1, dcut=-1.0, *, strategy=None):
    """Exclusive generalised-kt jets of every event, identical to FastJet.

    The jets present when the clustering of each event is stopped at
    ``n_jets`` jets (``ClusterSequence::exclusive_jets(n)``) or when the next
    recombination would exceed ``dcut`` (``exclusive_jets(dcut)``).

    Parameters
    ----------
    px, py, pz, E, offsets, R, p
        As for :func:`inclusive_jets`.
    n_jets : int, optional
        Number of jets per event (>= 1).
    dcut : float, optional
        Stopping distance (>= 0) in the units of FastJet's ``d_ij``: GeV**2
        for kt, GeV**-2 for anti-kt, dimensionless for C/A.  Give exactly one
        of ``n_jets`` and ``dcut``.
    strategy : str, optional
        As for :func:`inclusive_jets`.

    Returns
    -------
    tuple
        The layout of :func:`inclusive_jets`, pt-descending within each event.

    Notes
    -----
    An event with fewer particles than ``n_jets`` gives all its particles as
    jets (FastJet's ``exclusive_jets_up_to``); FastJet's ``exclusive_jets(n)``
    raises in that case.  Empty events give no jets.  For anti-kt (and C/A
    below its inclusive multiplicity) exclusive jets are defined, as in
    FastJet, but are rarely meaningful physics objects.
    """
    n_jets = int(n_jets)
    dcut = float(dcut)
    if n_jets != -1 and dcut != -1.0:
        raise ValueError("give either n_jets or dcut, not both")
    if n_jets != -1:
        if n_jets < 1:
            raise ValueError(f"n_jets must be >= 1, got {n_jets}")
        return _run(px, py, pz, E, offsets, R, p, _MODE_EXCL_N, n_excl=n_jets, strategy=strategy)
    if dcut == -1.0:
        raise ValueError("give either n_jets (>= 1) or dcut (>= 0)")
    if not (dcut >= 0.0 and math.isfinite(dcut)):
        raise ValueError(f"dcut must be a finite number >= 0, got {dcut}")
    return _run(px, py, pz, E, offsets, R, p, _MODE_EXCL_DCUT, dcut=dcut, strategy=strategy)


# ============================================================================
# the other jet kernels, re-exported (imported on first use: see the docstring)
# ============================================================================
_REEXPORTED = {
    "Substructure": "substructure", "SoftDrop": "substructure", "jet_substructure": "substructure",
    "jet_mass": "substructure", "nsubjettiness": "substructure", "energy_correlations": "substructure",
    "soft_drop": "substructure", "ImageFrame": "images", "jet_images": "images", "image_coordinates": "images",
    "TaggingFeatures": "tagging_features", "tagging_features": "tagging_features", "label_jets": "labelling",
    "constituent_sets": "constituent_sets",
}
__all__ += list(_REEXPORTED)


def __getattr__(name):
    module = _REEXPORTED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __package__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_REEXPORTED})
