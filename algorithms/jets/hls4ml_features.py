"""The 16 high-level jet features of hls4ml's jet-tagging dataset, as numba kernels: all jets of a chunk in one call.

Pure functions on flat arrays: no I/O, no logging, no configuration.  The
constituents of jet ``j`` are the slice ``const_offsets[j]:const_offsets[j+1]``
of flat four-momentum arrays ``px, py, pz, E`` (GeV), as in :mod:`.substructure`.

The features are those of the hls4ml LHC jet dataset (Coleman et al., JINST
13 (2018) T01003; Duarte et al., JINST 13 (2018) P07027), in its order and
with its names (:data:`FEATURES`).  All but two are computed on the jet
groomed by the modified mass-drop tagger (``_mmdt``: soft drop with
``z_cut = 0.1``, ``beta = 0``, :func:`.substructure.soft_drop`), from the
generalised energy correlation functions with the ``pt_R`` measure
(Moult, Necib, Thaler, JHEP 12 (2016) 153), ``z_i = pt_i / sum_k pt_k`` over
the groomed constituents and ``R_ij**2 = Delta y**2 + Delta phi**2``:

- ``e2(b)  = sum_{i<j} z_i z_j R_ij**b``  (``1e2``; ``b = 0`` gives ``sum_{i<j} z_i z_j``)
- ``e3(a)  = sum_{i<j<k} z_i z_j z_k (R_ij R_ik R_jk)**a``  (``3e3``)
- ``1e3(b) = sum_{i<j<k} z_i z_j z_k min(R_ij, R_ik, R_jk)**b``
- ``2e3(b) = sum_{i<j<k} z_i z_j z_k (product of the two smallest of R_ij, R_ik, R_jk)**b``

================  ==========================================
feature           definition
================  ==========================================
j_zlogz           ``sum_i z_i log z_i`` over all constituents (ungroomed)
j_c1_b{0,1,2}     ``C1 = e2(b)``
j_c2_b{1,2}       ``C2 = e3(b) / e2(b)**2``
j_d2_b{1,2}       ``D2 = e3(b) / e2(b)**3``
j_d2_a1_b{1,2}    ``D2(1, b) = e3(1) / e2(b)**(3/b)``
j_m2_b{1,2}       ``M2 = 1e3(b) / e2(b)``
j_n2_b{1,2}       ``N2 = 2e3(b) / e2(b)**2``
j_mass_mmdt       groomed jet mass (GeV)
j_multiplicity    number of constituents (ungroomed)
================  ==========================================

A ratio whose denominator is 0 (a groomed jet of one constituent) is 0.  The
three-point sums cost ``n**3/6`` terms per jet over a precomputed angle matrix.
"""
from __future__ import annotations

import math

import numpy as np

from .._numba import jit
from .kernels import rap_phi
from .substructure import check_jet_arrays, run_blocks, soft_drop

__all__ = ["FEATURES", "ECF_COLUMNS", "groomed_ecfs", "hls4ml_jet_features"]

#: The features, in the order and with the names of hls4ml's jet dataset.
FEATURES = ("j_zlogz", "j_c1_b0_mmdt", "j_c1_b1_mmdt", "j_c1_b2_mmdt", "j_c2_b1_mmdt", "j_c2_b2_mmdt",
            "j_d2_b1_mmdt", "j_d2_b2_mmdt", "j_d2_a1_b1_mmdt", "j_d2_a1_b2_mmdt", "j_m2_b1_mmdt", "j_m2_b2_mmdt",
            "j_n2_b1_mmdt", "j_n2_b2_mmdt", "j_mass_mmdt", "j_multiplicity")

#: Columns of :func:`groomed_ecfs`.
ECF_COLUMNS = ("e2_b0", "e2_b1", "e2_b2", "e3_b1", "e3_b2", "1e3_b1", "1e3_b2", "2e3_b1", "2e3_b2")


@jit
def _ecf_block(px, py, pz, e, coff, j_lo, j_hi, out):
    """Normalised generalised ECFs (columns of ``ECF_COLUMNS``) of jets ``j_lo:j_hi``."""
    nmax = 0
    for j in range(j_lo, j_hi):
        nmax = max(nmax, coff[j + 1] - coff[j])
    y = np.empty(nmax)
    f = np.empty(nmax)
    z = np.empty(nmax)
    ang = np.empty((nmax, nmax))
    for j in range(j_lo, j_hi):
        lo = coff[j]
        n = coff[j + 1] - lo
        for c in range(out.shape[1]):
            out[j, c] = 0.0
        total = 0.0
        for i in range(n):
            y[i], f[i] = rap_phi(px[lo + i], py[lo + i], pz[lo + i], e[lo + i])
            z[i] = math.sqrt(px[lo + i] ** 2 + py[lo + i] ** 2)
            total += z[i]
        if total <= 0.0:
            continue
        for i in range(n):
            z[i] /= total
        for i in range(n):
            for k in range(i + 1, n):
                dphi = abs(f[i] - f[k])
                if dphi > math.pi:
                    dphi = 2.0 * math.pi - dphi
                r = math.sqrt((y[i] - y[k]) ** 2 + dphi * dphi)
                ang[i, k] = r
                ang[k, i] = r
        e2b0 = 0.0
        e2b1 = 0.0
        e2b2 = 0.0
        e3b1 = 0.0
        e3b2 = 0.0
        m3b1 = 0.0
        m3b2 = 0.0
        n3b1 = 0.0
        n3b2 = 0.0
        for i in range(n):
            for k in range(i + 1, n):
                zz = z[i] * z[k]
                r = ang[i, k]
                e2b0 += zz
                e2b1 += zz * r
                e2b2 += zz * r * r
                for m in range(k + 1, n):
                    zzz = zz * z[m]
                    a = r
                    b = ang[i, m]
                    c = ang[k, m]
                    # the two smallest of the three angles
                    if a > b:
                        a, b = b, a
                    if b > c:
                        b, c = c, b
                    if a > b:
                        a, b = b, a
                    p = a * b * c
                    s2 = a * b
                    e3b1 += zzz * p
                    e3b2 += zzz * p * p
                    m3b1 += zzz * a
                    m3b2 += zzz * a * a
                    n3b1 += zzz * s2
                    n3b2 += zzz * s2 * s2
        out[j, 0] = e2b0
        out[j, 1] = e2b1
        out[j, 2] = e2b2
        out[j, 3] = e3b1
        out[j, 4] = e3b2
        out[j, 5] = m3b1
        out[j, 6] = m3b2
        out[j, 7] = n3b1
        out[j, 8] = n3b2


def groomed_ecfs(px, py, pz, E, const_offsets, n_threads=None) -> np.ndarray:
    """The normalised generalised energy correlation functions of every jet (no grooming here).

    Parameters
    ----------
    px, py, pz, E : numpy.ndarray
        Flat float64 four-momenta (GeV) of the constituents of all jets.
    const_offsets : numpy.ndarray
        int64, length ``n_jets + 1``.
    n_threads : int, optional
        Threads over blocks of jets; default ``numba.get_num_threads()``.

    Returns
    -------
    numpy.ndarray
        float64 ``(n_jets, 9)``, columns :data:`ECF_COLUMNS` (0 for a jet
        without enough constituents).
    """
    (px, py, pz, E), coff = check_jet_arrays((px, py, pz, E), ("px", "py", "pz", "E"), const_offsets)
    out = np.zeros((coff.shape[0] - 1, len(ECF_COLUMNS)))

    def work(lo, hi):
        _ecf_block(px, py, pz, E, coff, lo, hi, out)

    run_blocks(work, coff, 3.0, n_threads)
    return out


def _ratio(num, den):
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den != 0.0)
    return out


def hls4ml_jet_features(px, py, pz, E, const_offsets, R, *, zcut=0.1, sd_beta=0.0, n_threads=None) -> dict:
    """The 16 features of hls4ml's jet dataset (:data:`FEATURES`) of every jet.

    Parameters
    ----------
    px, py, pz, E : numpy.ndarray
        Flat float64 four-momenta (GeV) of the constituents of all jets.
    const_offsets : numpy.ndarray
        int64, length ``n_jets + 1``: the constituents of jet ``j`` are
        ``const_offsets[j]:const_offsets[j+1]``.
    R : float
        Jet radius (the soft-drop ``R0``).
    zcut, sd_beta : float, optional
        Grooming (default 0.1 and 0: the modified mass-drop tagger of the ``_mmdt`` features).
    n_threads : int, optional
        Threads over blocks of jets.

    Returns
    -------
    dict
        ``{name: float64 array (n_jets,)}`` in the order of :data:`FEATURES`.
    """
    (px, py, pz, E), coff = check_jet_arrays((px, py, pz, E), ("px", "py", "pz", "E"), const_offsets)
    sd = soft_drop(px, py, pz, E, coff, R, zcut=zcut, beta=sd_beta, n_threads=n_threads)
    kept = sd.kept
    jet_of = np.repeat(np.arange(coff.shape[0] - 1), np.diff(coff))
    g_off = np.zeros_like(coff)
    np.cumsum(np.bincount(jet_of[kept], minlength=coff.shape[0] - 1), out=g_off[1:])
    ecf = groomed_ecfs(px[kept], py[kept], pz[kept], E[kept], g_off, n_threads)
    e2b0, e2b1, e2b2, e3b1, e3b2, m3b1, m3b2, n3b1, n3b2 = ecf.T
    pt = np.hypot(px, py)
    total = np.bincount(jet_of, weights=pt, minlength=coff.shape[0] - 1)
    zfrac = np.divide(pt, total[jet_of], out=np.zeros_like(pt), where=total[jet_of] > 0)
    zlogz_terms = np.where(zfrac > 0, zfrac * np.log(np.where(zfrac > 0, zfrac, 1.0)), 0.0)
    zlogz = np.bincount(jet_of, weights=zlogz_terms, minlength=coff.shape[0] - 1)
    values = {
        "j_zlogz": zlogz,
        "j_c1_b0_mmdt": e2b0, "j_c1_b1_mmdt": e2b1, "j_c1_b2_mmdt": e2b2,
        "j_c2_b1_mmdt": _ratio(e3b1, e2b1 ** 2), "j_c2_b2_mmdt": _ratio(e3b2, e2b2 ** 2),
        "j_d2_b1_mmdt": _ratio(e3b1, e2b1 ** 3), "j_d2_b2_mmdt": _ratio(e3b2, e2b2 ** 3),
        "j_d2_a1_b1_mmdt": _ratio(e3b1, e2b1 ** 3), "j_d2_a1_b2_mmdt": _ratio(e3b1, e2b2 ** 1.5),
        "j_m2_b1_mmdt": _ratio(m3b1, e2b1), "j_m2_b2_mmdt": _ratio(m3b2, e2b2),
        "j_n2_b1_mmdt": _ratio(n3b1, e2b1 ** 2), "j_n2_b2_mmdt": _ratio(n3b2, e2b2 ** 2),
        "j_mass_mmdt": sd.mass.copy(),
        "j_multiplicity": np.diff(coff).astype(np.float64),
    }
    return {name: values[name] for name in FEATURES}
