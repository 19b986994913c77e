"""Toy readout conditions: pedestals, gains, noise and dead cells.

:func:`make_conditions` draws a complete, deterministic set of per-cell
conditions for a geometry from one seed, starting from the nominal noise and
gain of each layer in the geometry file (``noise``, ``gain``).  The nominal
values of the shipped geometries put the electronic noise at about 2 ADC
counts and, with a 16-bit ADC and pedestals near 1000 counts, allow up to
1.3 TeV per EM2 cell and 2.6 TeV per hadronic cell before saturation.
"""
from __future__ import annotations

import numpy as np

from .. import _random as rnd
from .._numba import jit
from .digitisation import cell_noise

#: Stream id mixed into the seed by :func:`make_conditions`.
STREAM = 0x434F4E44  # "COND"


@jit
def _draws(seed, n_cells, n_dead):
    state = rnd.new_state(seed, STREAM)
    normals = np.empty((3, n_cells))
    for k in range(3):
        for c in range(n_cells):
            normals[k, c] = rnd.normal(state)
    # partial Fisher-Yates shuffle: n_dead distinct cells
    perm = np.arange(n_cells)
    for k in range(n_dead):
        j = k + np.int64(rnd.uniform(state) * (n_cells - k))
        if j >= n_cells:
            j = n_cells - 1
        perm[k], perm[j] = perm[j], perm[k]
    return normals, np.sort(perm[:n_dead])


def make_conditions(geometry, seed, *, pedestal_mean=1000.0, pedestal_spread=20.0,
                    gain_spread=0.02, noise_spread=0.05, dead_fraction=0.001,
                    adc_bits=16, noise=None, gain=None):
    """Draw per-cell readout conditions, deterministic given ``seed``.

    Parameters
    ----------
    geometry : Geometry
        The cell geometry; its ``layer_noise`` and ``layer_gain`` give the
        nominal values per layer.
    seed : int
        Non-negative seed.
    pedestal_mean, pedestal_spread : float, optional
        Gaussian pedestal distribution, ADC counts.
    gain_spread, noise_spread : float, optional
        Relative Gaussian spread of gains and noise around the nominal layer
        values (clipped at 3 sigma).
    dead_fraction : float, optional
        Fraction of dead cells (chosen uniformly, exactly
        ``round(dead_fraction * n_cells)`` of them).
    adc_bits : int, optional
        ADC resolution; ``adc_max = 2**adc_bits - 1``.
    noise, gain : dict, optional
        Override the nominal electronic noise (GeV) or gain (GeV per count)
        of layers, by layer name.

    Returns
    -------
    dict of numpy.ndarray
        ``pedestal`` (float32, counts), ``gain`` (float32, GeV per count),
        ``noise_sigma`` (float32, GeV, electronic noise fed to
        :func:`~.digitisation.digitise`), ``cell_noise`` (float32, GeV, total
        noise of a built cell including quantisation, for noise cuts),
        ``dead_mask`` (bool), ``dead_cells`` (int64, sorted indices),
        ``max_energy`` (float32, GeV, largest energy before saturation) and
        ``adc_max`` (int).
    """
    if seed < 0:
        raise ValueError(f"make_conditions: seed must be non-negative, got {seed}")
    if not 0 <= dead_fraction < 1:
        raise ValueError(f"make_conditions: dead_fraction must be in [0, 1), got "
                         f"{dead_fraction}")
    if not 8 <= int(adc_bits) <= 30:
        raise ValueError(f"make_conditions: adc_bits must be in [8, 30], got {adc_bits}")
    g = geometry
    layer_noise = np.array(g.layer_noise, dtype=np.float64)
    layer_gain = np.array(g.layer_gain, dtype=np.float64)
    for name, overrides, table in (("noise", noise, layer_noise),
                                   ("gain", gain, layer_gain)):
        for layer, value in (overrides or {}).items():
            table[g.layer_index(layer)] = float(value)
        missing = [g.layer_names[i] for i in np.flatnonzero(~(table > 0))]
        if missing:
            raise ValueError(f"make_conditions: no positive nominal {name} for layers "
                             f"{missing}; give it in the geometry file or with "
                             f"{name}={{layer: value}}")
    n_cells = g.n_cells
    n_dead = int(round(dead_fraction * n_cells))
    normals, dead_cells = _draws(np.uint64(seed), np.int64(n_cells), np.int64(n_dead))
    clip = np.clip(normals, -3.0, 3.0)
    pedestal = pedestal_mean + pedestal_spread * normals[0]
    gains = layer_gain[g.layer] * (1.0 + gain_spread * clip[1])
    noise_sigma = layer_noise[g.layer] * (1.0 + noise_spread * clip[2])
    adc_max = 2 ** int(adc_bits) - 1
    pedestal = np.clip(pedestal, 0.0, adc_max)
    dead_mask = np.zeros(n_cells, dtype=bool)
    dead_mask[dead_cells] = True
    return {
        "pedestal": pedestal.astype(np.float32),
        "gain": gains.astype(np.float32),
        "noise_sigma": noise_sigma.astype(np.float32),
        "cell_noise": cell_noise(noise_sigma, gains),
        "dead_mask": dead_mask,
        "dead_cells": dead_cells.astype(np.int64),
        "max_energy": ((adc_max - pedestal) * gains).astype(np.float32),
        "adc_max": adc_max,
    }
