"""Jet images: pixelised pt deposits around large-R jets, with the standard preprocessing.

Pure functions on flat arrays: no I/O, no logging, no configuration.  The
constituents of jet ``j`` are the slice ``const_offsets[j]:const_offsets[j+1]``
of flat arrays ``pt`` (GeV), ``eta`` (pseudorapidity) and ``phi`` (radians,
any 2 pi convention).

Image definition and preprocessing
----------------------------------
The choices follow the jet-images literature (Cogan et al., JHEP 02 (2015)
118; de Oliveira et al., JHEP 07 (2016) 069): a 25 x 25 grid of 0.1 x 0.1
pixels in (pseudorapidity, azimuth), pixel intensity = summed constituent
``pt``, and four preprocessing steps:

1. *subjets*: the constituents are reclustered into inclusive kt subjets of
   radius ``subjet_R = 0.3`` (the subjets of the trimming step in those
   papers), in the (eta, phi) plane with pt-scheme recombination (pt summed,
   position pt-weighted, FastJet's ``pt_scheme``), so a subjet's position is
   the pt-weighted (eta, phi) centroid of its constituents.  Subjets are
   ranked by pt.
2. *translation*: the leading subjet is put at the origin, which is the
   centre of the central pixel (row and column ``n_pixels // 2``).
3. *rotation*: the plane is rotated about the origin so that the subleading
   subjet lies straight "down", at ``phi' < 0`` on the vertical axis.  The
   rotation is applied to the constituent coordinates before pixelisation
   (no interpolation of pixel contents).  A jet with a single subjet is
   rotated so that the principal axis of its pt-weighted (eta, phi)
   distribution points down, oriented along its third moment.
4. *flip*: the image is mirrored about the vertical axis if the summed
   intensity of the columns left of the centre exceeds that of the columns
   right of it, so the harder half is always on the right (``eta' > 0``).

Finally each image is normalised to unit L2 norm (sum of squared pixels = 1);
an empty image stays zero.  Constituents outside the grid are dropped.

Pixel ``images[j, row, col]`` covers ``eta'`` in
``[(col - c - 1/2) s, (col - c + 1/2) s)`` and ``phi'`` in
``[(row - c - 1/2) s, (row - c + 1/2) s)`` with ``c = n_pixels // 2`` and
``s = pixel_size``: columns run along ``eta'`` and rows along ``phi'``, both
increasing with the index.  Shown with ``matplotlib.pyplot.imshow(image,
origin="lower")`` the subleading subjet is below the centre and the harder
half on the right.

Since every step is defined on relative coordinates, images are exactly
invariant (to rounding) under any translation in (eta, phi) and any rotation
in that plane; a longitudinal boost translates massless constituents in eta
and leaves massive ones approximately in place relative to each other.
Pseudorapidity (not rapidity) is used, as in the literature, so the image of
massless constituents is the calorimeter picture.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._numba import jit
from .substructure import (LINK_BEAM, NODE_PHI, NODE_PT, NODE_Y, check_jet_arrays, check_positive, cluster_history,
                           run_blocks)

__all__ = ["ImageFrame", "jet_images", "image_coordinates"]

_PI = math.pi
_TWOPI = 2.0 * math.pi


@jit
def _wrap(d):
    """Angle difference folded into [-pi, pi)."""
    return d - _TWOPI * math.floor((d + _PI) / _TWOPI)


@jit
def _image_block(pt, eta, phi, coff, j_lo, j_hi, npix, size, r2, images, frame_f, frame_i):
    """Images of jets ``j_lo:j_hi``.

    ``frame_f`` columns: eta0, phi0 (leading-subjet centre), ux, uy (unit vector
    in the (eta, phi) plane that is mapped to "down"); ``frame_i`` columns:
    flipped (0/1), number of subjets.
    """
    nmax = 0
    for j in range(j_lo, j_hi):
        nmax = max(nmax, coff[j + 1] - coff[j])
    x = np.empty(nmax)
    y = np.empty(nmax)
    zeros = np.zeros(nmax)
    nodes = np.empty((max(2 * nmax - 1, 1), 7))
    links = np.empty((max(2 * nmax - 1, 1), 4), dtype=np.int64)
    img = np.zeros((npix, npix))
    half = npix // 2
    for j in range(j_lo, j_hi):
        lo = coff[j]
        n = coff[j + 1] - lo
        if n == 0:
            continue
        w = pt[lo:lo + n]
        # local plane around the hardest constituent: no 2 pi ambiguity inside a jet
        ref = 0
        for i in range(1, n):
            if w[i] > w[ref]:
                ref = i
        eta_ref = eta[lo + ref]
        phi_ref = phi[lo + ref]
        for i in range(n):
            x[i] = eta[lo + i] - eta_ref
            y[i] = _wrap(phi[lo + i] - phi_ref)
        nn_ = cluster_history(zeros[:n], zeros[:n], zeros[:n], zeros[:n], x[:n], y[:n], w, 1, r2, False, False,
                       nodes, links)
        # leading and subleading subjets by pt
        i1 = -1
        i2 = -1
        nsub = 0
        for k in range(nn_):
            if links[k, LINK_BEAM] == 1:
                nsub += 1
                if i1 < 0 or nodes[k, NODE_PT] > nodes[i1, NODE_PT]:
                    i2 = i1
                    i1 = k
                elif i2 < 0 or nodes[k, NODE_PT] > nodes[i2, NODE_PT]:
                    i2 = k
        cx = nodes[i1, NODE_Y]
        cy = nodes[i1, NODE_PHI]
        ux = 0.0
        uy = -1.0
        if i2 >= 0:
            dx = nodes[i2, NODE_Y] - cx
            dy = nodes[i2, NODE_PHI] - cy
            norm = math.sqrt(dx * dx + dy * dy)
            if norm > 0.0:
                ux = dx / norm
                uy = dy / norm
        else:
            # single subjet: principal axis of the pt-weighted distribution, along its third moment
            sxx = 0.0
            sxy = 0.0
            syy = 0.0
            for i in range(n):
                dx = x[i] - cx
                dy = y[i] - cy
                sxx += w[i] * dx * dx
                sxy += w[i] * dx * dy
                syy += w[i] * dy * dy
            if sxy != 0.0 or sxx != syy:
                theta = 0.5 * math.atan2(2.0 * sxy, sxx - syy)
                vx = math.cos(theta)
                vy = math.sin(theta)
                m3 = 0.0
                for i in range(n):
                    proj = (x[i] - cx) * vx + (y[i] - cy) * vy
                    m3 += w[i] * proj * proj * proj
                if m3 < 0.0:
                    vx = -vx
                    vy = -vy
                ux = vx
                uy = vy
        # translate, rotate u -> (0, -1), pixelise
        img[:, :] = 0.0
        for i in range(n):
            dx = x[i] - cx
            dy = y[i] - cy
            xr = -uy * dx + ux * dy
            yr = -(ux * dx + uy * dy)
            col = math.floor(xr / size + half + 0.5)
            row = math.floor(yr / size + half + 0.5)
            if 0 <= col < npix and 0 <= row < npix:
                img[int(row), int(col)] += w[i]
        # flip: harder half on the right
        left = 0.0
        right = 0.0
        for r in range(npix):
            for c in range(half):
                left += img[r, c]
                right += img[r, npix - 1 - c]
        flipped = left > right
        norm2 = 0.0
        for r in range(npix):
            for c in range(npix):
                norm2 += img[r, c] * img[r, c]
        scale = 1.0 / math.sqrt(norm2) if norm2 > 0.0 else 0.0
        for r in range(npix):
            for c in range(npix):
                cc = npix - 1 - c if flipped else c
                images[j, r, cc] = img[r, c] * scale
        frame_f[j, 0] = eta_ref + cx
        frame_f[j, 1] = _wrap(phi_ref + cy)
        frame_f[j, 2] = ux
        frame_f[j, 3] = uy
        frame_i[j, 0] = 1 if flipped else 0
        frame_i[j, 1] = nsub


class ImageFrame(NamedTuple):
    """The preprocessing of every jet image, one entry per jet.

    A constituent at ``(eta, phi)`` lands at
    ``eta' = s * (-uy * d_eta + ux * d_phi)``, ``phi' = -(ux * d_eta + uy * d_phi)``
    with ``d_eta = eta - eta0``, ``d_phi = phi - phi0`` folded into
    ``[-pi, pi)``, and ``s = -1`` if ``flipped`` else ``+1``
    (see :func:`image_coordinates`).
    """

    #: pseudorapidity of the leading subjet (the image centre)
    eta0: np.ndarray
    #: azimuth (radians, in [-pi, pi)) of the leading subjet
    phi0: np.ndarray
    #: unit vector (ux, uy) in the (eta, phi) plane that the rotation maps to "down"
    ux: np.ndarray
    uy: np.ndarray
    #: whether the image was mirrored (eta' -> -eta')
    flipped: np.ndarray
    #: number of kt subjets found (0 for a jet without constituents)
    n_subjets: np.ndarray


def jet_images(pt, eta, phi, const_offsets, *, n_pixels=25, pixel_size=0.1, subjet_R=0.3, return_frame=False,
               n_threads=None):
    """Preprocessed jet images (translated, rotated, flipped, L2-normalised).

    Parameters
    ----------
    pt, eta, phi : numpy.ndarray
        Flat float64 arrays of the constituents of all jets: transverse
        momentum (GeV), pseudorapidity, azimuth (radians).
    const_offsets : numpy.ndarray
        int64, length ``n_jets + 1``: the constituents of jet ``j`` are
        ``const_offsets[j]:const_offsets[j+1]``.
    n_pixels : int, optional
        Odd number of pixels per side (default 25), so that a pixel is centred
        on the leading subjet.
    pixel_size : float, optional
        Pixel side in pseudorapidity and in azimuth (radians), default 0.1.
    subjet_R : float, optional
        Radius of the kt subjets that fix the translation and rotation
        (default 0.3).
    return_frame : bool, optional
        Also return the :class:`ImageFrame` of every jet.
    n_threads : int, optional
        Threads over blocks of jets; default ``numba.get_num_threads()``.

    Returns
    -------
    images : numpy.ndarray
        float32 ``(n_jets, n_pixels, n_pixels)``, indexed ``[jet, row (phi'),
        column (eta')]``; unit L2 norm, all zero for a jet without
        constituents in the grid.
    frame : ImageFrame
        Only with ``return_frame=True``.
    """
    (pt, eta, phi), coff = check_jet_arrays((pt, eta, phi), ("pt", "eta", "phi"), const_offsets)
    n_pixels = int(n_pixels)
    if n_pixels < 1 or n_pixels % 2 == 0:
        raise ValueError(f"n_pixels must be a positive odd number, got {n_pixels}")
    pixel_size = check_positive("pixel_size", pixel_size)
    subjet_R = check_positive("subjet_R", subjet_R)
    njets = coff.shape[0] - 1
    images = np.zeros((njets, n_pixels, n_pixels), dtype=np.float32)
    frame_f = np.zeros((njets, 4))
    frame_i = np.zeros((njets, 2), dtype=np.int64)

    def work(lo, hi):
        _image_block(pt, eta, phi, coff, lo, hi, n_pixels, pixel_size, subjet_R * subjet_R, images, frame_f,
                     frame_i)

    run_blocks(work, coff, 2.0, n_threads)
    if not return_frame:
        return images
    frame = ImageFrame(frame_f[:, 0].copy(), frame_f[:, 1].copy(), frame_f[:, 2].copy(), frame_f[:, 3].copy(),
                       frame_i[:, 0].astype(bool), frame_i[:, 1].copy())
    return images, frame


def image_coordinates(eta, phi, offsets, frame):
    """Image-plane coordinates ``(eta', phi')`` of points attached to jets.

    Parameters
    ----------
    eta, phi : numpy.ndarray
        Flat arrays of pseudorapidity and azimuth (radians) of any points
        (constituents, subjet axes) grouped by jet.
    offsets : numpy.ndarray
        int64, length ``n_jets + 1``: points of jet ``j`` are
        ``offsets[j]:offsets[j+1]``.
    frame : ImageFrame
        From :func:`jet_images` with ``return_frame=True``.

    Returns
    -------
    eta_prime, phi_prime : numpy.ndarray
        float64 coordinates in the preprocessed image plane; the point lies in
        pixel ``row = floor(phi'/s + n_pixels/2)``, ``col = floor(eta'/s + n_pixels/2)``.
    """
    (eta, phi), off = check_jet_arrays((eta, phi), ("eta", "phi"), offsets)
    if off.shape[0] - 1 != frame.eta0.shape[0]:
        raise ValueError(f"offsets describe {off.shape[0] - 1} jets, the frame {frame.eta0.shape[0]}")
    jet = np.repeat(np.arange(off.shape[0] - 1), np.diff(off))
    sl = slice(off[0], off[-1])
    d_eta = eta[sl] - frame.eta0[jet]
    d_phi = phi[sl] - frame.phi0[jet]
    d_phi = d_phi - _TWOPI * np.floor((d_phi + _PI) / _TWOPI)
    ux, uy = frame.ux[jet], frame.uy[jet]
    xr = -uy * d_eta + ux * d_phi
    yr = -(ux * d_eta + uy * d_phi)
    xr = np.where(frame.flipped[jet], -xr, xr)
    return xr, yr
