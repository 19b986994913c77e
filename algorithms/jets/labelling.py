"""Truth labels of large-R jets: W, Z, top by containment of the decaying particle and its decay quarks.

Pure functions on flat arrays plus per-event offsets (numba); no store.

Definition
----------
The truth is the ``TruthHardProcess`` collection of
:class:`~hepreco.algorithms.generation.pythia_source.PythiaSource`: rows
(pdg_id, px, py, pz, E, parent) for every W, Z and top quark of the hard
process (last copy) and their decay products, ``parent`` the row of the
decaying W/Z/top (-1: none).  A *candidate* is a W, Z or top with
``parent == -1`` (a W from a top decay is part of its top, never a
candidate itself); its *decay quarks* are the rows that descend from it and
are not W, Z or top themselves (for a top: the b and the two quarks of its W).
A candidate is *hadronic* when every decay product is a quark (``|pdg_id|``
1-5).

A jet gets the label of the hadronic candidate closest to its axis in
``Delta R = sqrt(Delta eta**2 + Delta phi**2)`` among those with
``Delta R(jet, candidate) < max_dr`` *and* ``Delta R(jet, q) < max_dr`` for
every decay quark ``q`` (containment; ``max_dr = 0.75`` by default, with
R = 1.0 jets).  A jet without such a candidate is ``UNCONTAINED`` (-1): in a
signal sample it is not used.  In a QCD sample every jet is QCD, whatever
the truth holds (:func:`label_jets` with ``qcd_sample=True``).

Labels index :data:`CLASSES`: 0 QCD, 1 W, 2 Z, 3 top.

The five classes of hls4ml's jet-tagging network (:data:`HLS4ML_CLASSES`)
split QCD jets by the outgoing parton of the hard 2 -> 2 scattering
(``TruthPartons``) closest to the jet axis (:func:`nearest_parton`): gluon or
light quark (u, d, s); see :func:`hls4ml_labels`.
"""
from __future__ import annotations

import math

import numpy as np

from .._numba import jit

__all__ = ["CLASSES", "QCD", "W", "Z", "TOP", "UNCONTAINED", "label_jets", "HLS4ML_CLASSES", "nearest_parton",
           "hls4ml_labels"]

#: Class names, in label order.
CLASSES = ("qcd", "w", "z", "top")
QCD, W, Z, TOP = 0, 1, 2, 3
#: Label of a jet of a signal sample without a contained W, Z or top.
UNCONTAINED = -1

_PI = math.pi
_TWOPI = 2.0 * math.pi


@jit
def _class_of(apdg):
    if apdg == 24:
        return W
    if apdg == 23:
        return Z
    if apdg == 6:
        return TOP
    return -1


@jit
def _dr2(eta1, phi1, eta2, phi2):
    dphi = abs(phi1 - phi2) % _TWOPI
    if dphi > _PI:
        dphi = _TWOPI - dphi
    deta = eta1 - eta2
    return deta * deta + dphi * dphi


@jit
def _label_kernel(jet_eta, jet_phi, jet_off, pdg, t_eta, t_phi, parent, t_off, max_dr2, labels, index, dr):
    n_events = jet_off.shape[0] - 1
    for ev in range(n_events):
        t0 = t_off[ev]
        nt = t_off[ev + 1] - t0
        # root candidate of every row (parents come before their children)
        root = np.empty(nt, dtype=np.int64)
        hadronic = np.ones(nt, dtype=np.bool_)
        for r in range(nt):
            p = parent[t0 + r]
            root[r] = r if p < 0 or p >= r else root[p]
        for r in range(nt):
            apdg = abs(pdg[t0 + r])
            if _class_of(apdg) < 0 and not (1 <= apdg <= 5):
                hadronic[root[r]] = False
        for j in range(jet_off[ev], jet_off[ev + 1]):
            labels[j] = UNCONTAINED
            index[j] = -1
            dr[j] = math.inf
            for c in range(nt):
                row = t0 + c
                if parent[row] >= 0 or _class_of(abs(pdg[row])) < 0 or not hadronic[c]:
                    continue
                d2 = _dr2(jet_eta[j], jet_phi[j], t_eta[row], t_phi[row])
                if d2 >= max_dr2 or d2 >= dr[j] * dr[j]:
                    continue
                contained = True
                for r in range(nt):
                    if r != c and root[r] == c and _class_of(abs(pdg[t0 + r])) < 0:
                        if _dr2(jet_eta[j], jet_phi[j], t_eta[t0 + r], t_phi[t0 + r]) >= max_dr2:
                            contained = False
                            break
                if contained:
                    labels[j] = _class_of(abs(pdg[row]))
                    index[j] = c
                    dr[j] = math.sqrt(d2)


def pseudorapidity_phi(px, py, pz):
    """Pseudorapidity and azimuth (radians) of flat momenta (GeV); eta is +-inf along the beam."""
    px, py, pz = (np.asarray(a, dtype=np.float64) for a in (px, py, pz))
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore"):
        eta = np.arcsinh(np.divide(pz, pt, out=np.copysign(np.full_like(pz, np.inf), pz), where=pt > 0))
    return eta, np.arctan2(py, px)


def label_jets(jet_eta, jet_phi, jet_offsets, pdg_id, px, py, pz, parent, truth_offsets, *, max_dr=0.75,
               qcd_sample=False):
    """Truth label of every jet (see the module docstring for the definition).

    Parameters
    ----------
    jet_eta, jet_phi : numpy.ndarray
        Flat pseudorapidity and azimuth (radians) of the jets of all events.
    jet_offsets : numpy.ndarray
        int64, ``n_events + 1``: the jets of event ``e`` are ``jet_offsets[e]:jet_offsets[e+1]``.
    pdg_id, px, py, pz, parent : numpy.ndarray
        Flat ``TruthHardProcess`` rows of all events (momenta in GeV;
        ``parent`` is the row within the event, -1 for none).
    truth_offsets : numpy.ndarray
        int64, ``n_events + 1``: the rows of event ``e``.
    max_dr : float, optional
        Containment radius in Delta R (default 0.75).
    qcd_sample : bool, optional
        Every jet is QCD (label 0), with no truth match.

    Returns
    -------
    label : numpy.ndarray
        int32 per jet: an index of :data:`CLASSES`, or ``UNCONTAINED`` (-1).
    truth_index : numpy.ndarray
        int32 per jet: the candidate's row within its event (-1: none).
    truth_dr : numpy.ndarray
        float64 Delta R between the jet and that candidate (inf: none).
    """
    jet_eta, jet_phi = (np.ascontiguousarray(a, dtype=np.float64) for a in (jet_eta, jet_phi))
    jet_off = np.ascontiguousarray(jet_offsets, dtype=np.int64)
    t_off = np.ascontiguousarray(truth_offsets, dtype=np.int64)
    if jet_off.shape[0] != t_off.shape[0]:
        raise ValueError(f"jet_offsets describe {jet_off.shape[0] - 1} events, truth_offsets {t_off.shape[0] - 1}")
    if not max_dr > 0:
        raise ValueError(f"max_dr must be positive, got {max_dr}")
    n_jets = jet_eta.shape[0]
    if qcd_sample:
        return (np.full(n_jets, QCD, dtype=np.int32), np.full(n_jets, -1, dtype=np.int32), np.full(n_jets, np.inf))
    t_eta, t_phi = pseudorapidity_phi(px, py, pz)
    labels = np.empty(n_jets, dtype=np.int32)
    index = np.empty(n_jets, dtype=np.int32)
    dr = np.empty(n_jets)
    _label_kernel(jet_eta, jet_phi, jet_off, np.ascontiguousarray(pdg_id, dtype=np.int64), t_eta, t_phi,
                  np.ascontiguousarray(parent, dtype=np.int64), t_off, float(max_dr) ** 2, labels, index, dr)
    return labels, index, dr


#: Classes of the hls4ml jet-tagging network (gluon, light quark, W, Z, top), in label order.
HLS4ML_CLASSES = ("g", "q", "w", "z", "t")
#: ``|pdg_id|`` of the light quarks (u, d, s): a QCD jet matched to a c or b quark has no hls4ml label.
LIGHT_QUARKS = (1, 2, 3)


@jit
def _nearest_kernel(jet_eta, jet_phi, jet_off, p_eta, p_phi, p_off, max_dr2, index, dr):
    for ev in range(jet_off.shape[0] - 1):
        for j in range(jet_off[ev], jet_off[ev + 1]):
            index[j] = -1
            best = max_dr2
            for r in range(p_off[ev], p_off[ev + 1]):
                d2 = _dr2(jet_eta[j], jet_phi[j], p_eta[r], p_phi[r])
                if d2 < best:
                    best = d2
                    index[j] = r - p_off[ev]
            dr[j] = math.sqrt(best) if index[j] >= 0 else math.inf


def nearest_parton(jet_eta, jet_phi, jet_offsets, px, py, pz, parton_offsets, *, max_dr):
    """The outgoing parton of the hard process closest to each jet axis within ``max_dr``.

    Parameters
    ----------
    jet_eta, jet_phi : numpy.ndarray
        Flat pseudorapidity and azimuth (radians) of the jets of all events.
    jet_offsets, parton_offsets : numpy.ndarray
        int64, ``n_events + 1``: the jets, and the partons (``TruthPartons``), of each event.
    px, py, pz : numpy.ndarray
        Flat parton momenta (GeV).
    max_dr : float
        Largest Delta R (eta, phi) between the jet axis and the parton.

    Returns
    -------
    index : numpy.ndarray
        int32 per jet: the parton's row within its event (-1: none within ``max_dr``).
    dr : numpy.ndarray
        float64 Delta R to it (inf: none).
    """
    jet_eta, jet_phi = (np.ascontiguousarray(a, dtype=np.float64) for a in (jet_eta, jet_phi))
    jet_off = np.ascontiguousarray(jet_offsets, dtype=np.int64)
    p_off = np.ascontiguousarray(parton_offsets, dtype=np.int64)
    if jet_off.shape[0] != p_off.shape[0]:
        raise ValueError(f"jet_offsets describe {jet_off.shape[0] - 1} events, parton_offsets {p_off.shape[0] - 1}")
    if not max_dr > 0:
        raise ValueError(f"max_dr must be positive, got {max_dr}")
    p_eta, p_phi = pseudorapidity_phi(px, py, pz)
    index = np.empty(jet_eta.shape[0], dtype=np.int32)
    dr = np.empty(jet_eta.shape[0])
    _nearest_kernel(jet_eta, jet_phi, jet_off, p_eta, p_phi, p_off, float(max_dr) ** 2, index, dr)
    return index, dr


def hls4ml_labels(label, parton_pdg_id):
    """The five-class label (index of :data:`HLS4ML_CLASSES`) from the W/Z/top/QCD label and the matched parton.

    W, Z and top jets keep their class; a QCD jet is a gluon (``parton_pdg_id``
    21) or a light quark (``|parton_pdg_id|`` in :data:`LIGHT_QUARKS`); any
    other QCD jet (c, b, no parton matched: ``parton_pdg_id`` 0) and an
    uncontained jet get -1.

    Parameters
    ----------
    label : numpy.ndarray
        Per jet, an index of :data:`CLASSES` or ``UNCONTAINED``.
    parton_pdg_id : numpy.ndarray
        Per jet, the pdg id of the matched outgoing parton (0: none).

    Returns
    -------
    numpy.ndarray
        int32 per jet.
    """
    label = np.asarray(label)
    apdg = np.abs(np.asarray(parton_pdg_id))
    out = np.full(label.shape, -1, dtype=np.int32)
    qcd = label == QCD
    out[qcd & (apdg == 21)] = 0
    out[qcd & np.isin(apdg, LIGHT_QUARKS)] = 1
    out[label == W] = 2
    out[label == Z] = 3
    out[label == TOP] = 4
    return out
