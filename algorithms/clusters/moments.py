"""Cluster kinematics and shower moments from weighted cell links.

:func:`cluster_moments` computes, for every cluster of a chunk
(:class:`~.links.CellLinks`, from :func:`~.links.topo_links` or
:func:`~.splitting.split_clusters`), the quantities a calibration or a jet
finder needs.  Cell ``i`` of a cluster enters with its weight ``w_i`` and
energy ``E_i`` (GeV); positions are the cell centres.

Definitions
-----------
``energy``
    ``E = sum w_i E_i`` (GeV).
Positional weights
    ``p_i = w_i E_i`` over the cells with ``E_i > 0``; for a cluster with no
    such cell, ``p_i = w_i |E_i|`` over all its cells.  They enter
    ``eta``, ``phi``, the centroid and the shower moments (ATLAS computes
    moments from positive cells).
``eta``, ``phi``
    ``p``-weighted means.  Phi is averaged as the differences to the phi of
    the cell with the largest ``p``, each wrapped into [-pi, pi), so a
    cluster across phi = +-pi gets the right mean; the result is in
    [-pi, pi).
``px``, ``py``, ``pz``
    Massless four-momentum of energy ``E`` along (eta, phi), GeV:
    ``E cos(phi) / cosh(eta)``, ``E sin(phi) / cosh(eta)``, ``E tanh(eta)``.
``n_cells``
    Number of cells (a shared cell counts in both clusters).
``significance``
    ``E / sqrt(sum w_i^2 sigma_i^2)`` with the cell noise sigma (GeV).
``center_lambda``
    Depth of the shower centre, mm: the ``p``-weighted centroid ``c`` (x, y,
    z) lies on the shower axis, taken as the line from the origin through
    ``c``; ``center_lambda`` is the distance along that axis from where it
    enters the calorimeter (the front cylinder ``r = R0``, ``R0`` the front
    radius of the innermost layer) to ``c``: ``|c| (1 - R0 / rho_c)`` with
    ``rho_c`` the transverse radius of ``c``.  (ATLAS uses the principal
    axis of the cell energy distribution and the real front face.)
``second_r``
    ``<r^2>``, mm^2: ``p``-weighted mean squared distance of the cells from
    the shower axis (lateral).
``second_lambda``
    ``<lambda^2>``, mm^2: ``p``-weighted mean squared distance of the cells
    from the centroid along the axis (longitudinal).
``em_fraction``
    ``sum_EM w_i E_i / E`` over the cells of EM layers (``layer_kind == 0``);
    0 for ``E == 0``.
``layer_energy``
    ``(n_clusters, n_layers)``: ``sum w_i E_i`` per layer, GeV.

Degenerate clusters (every cell at exactly 0 GeV) get 0 for the positional
quantities.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from .._numba import jit
from .cells import cell_xyz, dense_energy, effective_noise, per_cell

__all__ = ["cluster_moments", "MOMENT_NAMES"]

#: Keys of the dictionary returned by :func:`cluster_moments`.
MOMENT_NAMES = ("energy", "eta", "phi", "px", "py", "pz", "n_cells", "significance",
                "center_lambda", "second_r", "second_lambda", "em_fraction",
                "layer_energy")

_TWO_PI = 2.0 * math.pi


@jit
def _wrap(dphi):
    """Angle wrapped into [-pi, pi)."""
    return dphi - _TWO_PI * math.floor((dphi + math.pi) / _TWO_PI)


@jit
def _position_weight(e, positive):
    if positive:
        return e if e > 0.0 else 0.0
    return abs(e)


@jit(parallel=True)
def _moments_kernel(energy, noise, cluster, cell, weight, link_offsets, cluster_offsets,
                    x, y, z, eta, phi, layer, layer_is_em, r_front,
                    out_e, out_eta, out_phi, out_px, out_py, out_pz, out_n, out_sig,
                    out_clambda, out_r2, out_l2, out_em, out_layer_e):
    for ev in numba.prange(energy.shape[0]):
        row = energy[ev]
        l0 = link_offsets[ev]
        l1 = link_offsets[ev + 1]
        k0 = cluster_offsets[ev]
        nc = cluster_offsets[ev + 1] - k0
        var = np.zeros(nc)
        em = np.zeros(nc)
        w_pos = np.zeros(nc)
        ref_pos = np.full(nc, -1, dtype=np.int64)
        ref_abs = np.full(nc, -1, dtype=np.int64)
        max_pos = np.zeros(nc)
        max_abs = np.zeros(nc)
        # pass 1: energies, counts, noise, layers, reference cells
        for j in range(l0, l1):
            k = cluster[j]
            c = cell[j]
            w = weight[j]
            e = w * np.float64(row[c])
            kk = k0 + k
            out_e[kk] += e
            out_n[kk] += 1
            var[k] += (w * np.float64(noise[c])) ** 2
            out_layer_e[kk, layer[c]] += e
            if layer_is_em[layer[c]]:
                em[k] += e
            if e > 0.0:
                w_pos[k] += e
                if e > max_pos[k]:
                    max_pos[k] = e
                    ref_pos[k] = c
            if abs(e) > max_abs[k]:
                max_abs[k] = abs(e)
                ref_abs[k] = c
        # pass 2: positional means
        wsum = np.zeros(nc)
        s_eta = np.zeros(nc)
        s_dphi = np.zeros(nc)
        cx = np.zeros(nc)
        cy = np.zeros(nc)
        cz = np.zeros(nc)
        phi_ref = np.zeros(nc)
        for k in range(nc):
            ref = ref_pos[k] if w_pos[k] > 0.0 else ref_abs[k]
            if ref >= 0:
                phi_ref[k] = phi[ref]
        for j in range(l0, l1):
            k = cluster[j]
            c = cell[j]
            p = _position_weight(weight[j] * np.float64(row[c]), w_pos[k] > 0.0)
            wsum[k] += p
            s_eta[k] += p * eta[c]
            s_dphi[k] += p * _wrap(phi[c] - phi_ref[k])
            cx[k] += p * x[c]
            cy[k] += p * y[c]
            cz[k] += p * z[c]
        norm = np.zeros(nc)
        for k in range(nc):
            kk = k0 + k
            e = out_e[kk]
            out_sig[kk] = e / math.sqrt(var[k]) if var[k] > 0.0 else 0.0
            out_em[kk] = em[k] / e if e != 0.0 else 0.0
            if wsum[k] > 0.0:
                cx[k] /= wsum[k]
                cy[k] /= wsum[k]
                cz[k] /= wsum[k]
                h = s_eta[k] / wsum[k]
                f = _wrap(phi_ref[k] + s_dphi[k] / wsum[k])
                out_eta[kk] = h
                out_phi[kk] = f
                pt = e / math.cosh(h)
                out_px[kk] = pt * math.cos(f)
                out_py[kk] = pt * math.sin(f)
                out_pz[kk] = e * math.tanh(h)
                rho = math.sqrt(cx[k] ** 2 + cy[k] ** 2)
                norm[k] = math.sqrt(rho ** 2 + cz[k] ** 2)
                if rho > 0.0:
                    out_clambda[kk] = norm[k] * (1.0 - r_front / rho)
        # pass 3: second moments about the axis through the origin and centroid
        for j in range(l0, l1):
            k = cluster[j]
            if norm[k] <= 0.0:
                continue
            c = cell[j]
            p = _position_weight(weight[j] * np.float64(row[c]), w_pos[k] > 0.0)
            u = (x[c] * cx[k] + y[c] * cy[k] + z[c] * cz[k]) / norm[k]
            r2 = x[c] ** 2 + y[c] ** 2 + z[c] ** 2 - u * u
            kk = k0 + k
            out_r2[kk] += p * max(r2, 0.0)
            out_l2[kk] += p * (u - norm[k]) ** 2
        for k in range(nc):
            if wsum[k] > 0.0:
                out_r2[k0 + k] /= wsum[k]
                out_l2[k0 + k] /= wsum[k]


def cluster_moments(energy, noise, links, geometry):
    """Kinematics and moments of every cluster of a chunk.

    Parameters
    ----------
    energy : array_like of float32, shape (n_events, n_cells)
        Cell energy, GeV.
    noise : array_like of float32, shape (n_cells,)
        Noise sigma per cell, GeV (for the significance).
    links : CellLinks
        The clusters (:func:`~.links.topo_links`,
        :func:`~.splitting.split_clusters`).
    geometry : Geometry
        Reads ``layer``, ``layer_kind``, ``layer_r_front``, ``eta``, ``phi``,
        ``r``, ``z``.

    Returns
    -------
    dict of numpy.ndarray
        One entry per name of :data:`MOMENT_NAMES` (see the module
        docstring), flat over the clusters of the chunk in link order: the
        clusters of event ``i`` are ``links.cluster_offsets()[i:i + 2]``.
        ``n_cells`` is int64, ``layer_energy`` float64 ``(n, n_layers)``, the
        rest float64 ``(n,)``.
    """
    func = "cluster_moments"
    energy = dense_energy(energy, func)
    n_events, n_cells = energy.shape
    noise = effective_noise(noise, n_cells, None, func)
    if links.n_clusters.shape != (n_events,) or links.offsets.shape != (n_events + 1,):
        raise ValueError(f"{func}: links describe {links.n_clusters.shape[0]} events but "
                         f"energy has {n_events}")
    if geometry.n_cells != n_cells:
        raise ValueError(f"{func}: the geometry has {geometry.n_cells} cells but energy "
                         f"has {n_cells} columns")
    cluster = np.ascontiguousarray(links.cluster, dtype=np.int32)
    cell = np.ascontiguousarray(links.cell, dtype=np.int64)
    weight = np.ascontiguousarray(links.weight, dtype=np.float64)
    link_offsets = np.ascontiguousarray(links.offsets, dtype=np.int64)
    n_links = cluster.shape[0]
    if cell.shape != (n_links,) or weight.shape != (n_links,) or link_offsets[0] != 0 \
            or link_offsets[-1] != n_links:
        raise ValueError(f"{func}: inconsistent links: {n_links} clusters indices, "
                         f"{cell.shape[0]} cells, {weight.shape[0]} weights, offsets end "
                         f"at {link_offsets[-1]}")
    if n_links:
        per_link_n = np.repeat(links.n_clusters, np.diff(link_offsets))
        if cluster.min() < 0 or np.any(cluster >= per_link_n):
            raise ValueError(f"{func}: link cluster indices outside [0, n_clusters)")
        if cell.min() < 0 or cell.max() >= n_cells:
            raise ValueError(f"{func}: link cell indices outside [0, {n_cells})")
    clus_offsets = links.cluster_offsets()
    n = int(clus_offsets[-1])
    x, y, z = cell_xyz(geometry)
    layer = per_cell("layer", geometry.layer, n_cells, np.int64)
    eta = per_cell("eta", geometry.eta, n_cells, np.float64)
    phi = per_cell("phi", geometry.phi, n_cells, np.float64)
    layer_is_em = np.ascontiguousarray(np.asarray(geometry.layer_kind) == 0)
    r_front = float(np.min(geometry.layer_r_front))
    out = {name: np.zeros(n) for name in MOMENT_NAMES}
    out["n_cells"] = np.zeros(n, dtype=np.int64)
    out["layer_energy"] = np.zeros((n, layer_is_em.shape[0]))
    if n_events:
        _moments_kernel(energy, noise, cluster, cell, weight, link_offsets, clus_offsets,
                        x, y, z, eta, phi, layer, layer_is_em, r_front,
                        out["energy"], out["eta"], out["phi"], out["px"], out["py"],
                        out["pz"], out["n_cells"], out["significance"],
                        out["center_lambda"], out["second_r"], out["second_lambda"],
                        out["em_fraction"], out["layer_energy"])
    return out
