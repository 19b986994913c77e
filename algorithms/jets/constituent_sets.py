"""Constituent sets of jets for set networks: fixed-length, zero-padded, pT-ordered, relative to the jet axis.

Pure functions on flat arrays (numpy): no store, no configuration.  The
constituents of jet ``j`` are the slice ``const_offsets[j]:const_offsets[j+1]``
of the flat constituent arrays.

Definition
----------
Per jet, the constituents are sorted by ``pt`` descending (ties by
``Delta eta``, then ``Delta phi``, so the order never depends on the input
order), the first ``n_max`` are kept and the rest of the ``n_max`` slots are
zero.  Per constituent:

``pt_frac``  ``pt_i / pt_jet``
``deta``     ``eta_i - eta_jet`` (pseudorapidity)
``dphi``     ``phi_i - phi_jet`` folded into ``[-pi, pi)``
``e_frac``   ``E_i / E_jet``
extra        any per-constituent values passed in ``extra`` (cluster moments), unchanged

There is no rotation or flip (unlike the images): the set is exactly
invariant under a rotation in phi of the whole jet, and under a translation
in pseudorapidity for ``pt_frac``, ``deta``, ``dphi`` (``E`` changes with eta,
so ``e_frac`` is not), and under any permutation of the constituents.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

__all__ = ["SET_FIELDS", "constituent_sets"]

#: The fields of every set, before any extra ones.
SET_FIELDS = ("pt_frac", "deta", "dphi", "e_frac")


def constituent_sets(pt, eta, phi, E, const_offsets, jet_pt, jet_eta, jet_phi, jet_E, *, n_max=50,
                     extra: Mapping[str, np.ndarray] | None = None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Padded constituent sets of every jet.

    Parameters
    ----------
    pt, eta, phi, E : numpy.ndarray
        Flat constituents of all jets: pt (GeV), pseudorapidity, azimuth (radians), energy (GeV).
    const_offsets : numpy.ndarray
        int64, ``n_jets + 1``.
    jet_pt, jet_eta, jet_phi, jet_E : numpy.ndarray
        The jets' axes and scales, one entry per jet (GeV, -, radians, GeV).
    n_max : int, optional
        Constituents kept per jet (default 50).
    extra : mapping, optional
        ``{name: flat per-constituent values}`` carried into the set as they are.

    Returns
    -------
    sets : dict
        ``{name: float32 (n_jets, n_max)}`` for :data:`SET_FIELDS` and the extra names.
    n_const : numpy.ndarray
        int32 per jet: the number of filled slots, ``min(n, n_max)``.
    """
    n_max = int(n_max)
    if n_max < 1:
        raise ValueError(f"n_max must be >= 1, got {n_max}")
    coff = np.asarray(const_offsets, dtype=np.int64)
    n_jets = coff.shape[0] - 1
    counts = np.diff(coff)
    sl = slice(coff[0], coff[-1])
    pt, eta, phi, E = (np.asarray(a, dtype=np.float64)[sl] for a in (pt, eta, phi, E))
    jet = np.repeat(np.arange(n_jets), counts)
    deta = eta - np.asarray(jet_eta, dtype=np.float64)[jet]
    dphi = phi - np.asarray(jet_phi, dtype=np.float64)[jet]
    dphi = dphi - 2.0 * math.pi * np.floor((dphi + math.pi) / (2.0 * math.pi))
    values = {"pt_frac": pt / np.asarray(jet_pt, dtype=np.float64)[jet], "deta": deta, "dphi": dphi,
              "e_frac": E / np.asarray(jet_E, dtype=np.float64)[jet]}
    for name, column in (extra or {}).items():
        if name in values:
            raise ValueError(f"extra set field {name!r} clashes with a built-in one")
        values[name] = np.asarray(column, dtype=np.float64)[sl]
    order = np.lexsort((dphi, deta, -pt, jet))
    rank = np.arange(order.shape[0]) - (coff[:-1] - coff[0])[jet[order]]
    keep = rank < n_max
    rows, cols = jet[order][keep], rank[keep]
    sets = {}
    for name, column in values.items():
        out = np.zeros((n_jets, n_max), dtype=np.float32)
        out[rows, cols] = column[order][keep]
        sets[name] = out
    return sets, np.minimum(counts, n_max).astype(np.int32)
