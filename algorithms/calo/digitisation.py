"""Readout: digitisation to ADC counts, the cell builder and the noise cut.

Dense ``(n_events, n_cells)`` arrays in, dense arrays out; every loop is a
parallel (``prange``) numba kernel over blocks of cells of every event.

* :func:`digitise`: energy (GeV) + Gaussian electronic noise ->
  ``pedestal + E / gain`` rounded to the nearest count and saturated to
  ``[0, adc_max]``.  Pile-up is not a noise term: its energy is in the input
  (minimum-bias particles overlaid before the simulation,
  :mod:`hepreco.algorithms.generation.pileup`).
* :func:`build_cells`: ADC counts -> energy ``(adc - pedestal) * gain``
  (GeV), dead cells set to zero.  Memory-bandwidth bound: outputs of 8 MiB
  and more are written with streaming (non-temporal) stores, as a large
  memcpy is, so it moves its bytes at least as fast as a numpy copy.
* :func:`noise_cut`: zero the cells with ``|E| <= n_sigma * sigma``.
* :func:`cell_noise`: the total noise a built cell carries (electronic,
  pile-up and ADC quantisation), the sigma to use in noise cuts and
  topo-clustering.

Randomness: event ``i`` draws only from ``seeds[i]`` (stream
:data:`STREAM`): per block of 1024 cells in index order, the electronic
noise of the block.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .. import _random as rnd
from .._numba import jit

#: Stream id mixed into the event seeds by :func:`digitise`.
STREAM = 0x4449474954  # "DIGIT"

#: Cells per block of the parallel loops.
_BLOCK = 16384
#: Cells per block of noise draws in :func:`digitise`.
_RNG_BLOCK = 1024


@jit(parallel=True)
def _digitise_kernel(energy, pedestal, inv_gain, noise, seeds, adc_max, out):
    n_events, n_cells = energy.shape
    top = np.float64(adc_max)
    for e in numba.prange(n_events):
        state = rnd.new_state(seeds[e], STREAM)
        z_noise = np.empty(_RNG_BLOCK)
        x_e = energy[e]
        o_e = out[e]
        for c0 in range(0, n_cells, _RNG_BLOCK):
            c1 = min(c0 + _RNG_BLOCK, n_cells)
            zn = z_noise[:c1 - c0]
            rnd.fill_normal(state, zn)
            for c in range(c0, c1):
                x = x_e[c] + noise[c] * zn[c - c0]
                v = math.floor(pedestal[c] + x * inv_gain[c] + 0.5)
                v = min(max(v, 0.0), top)
                o_e[c] = np.int64(v)


#: Cells per streaming store of :func:`_build_kernel` (64 bytes of float32: one cache line).
_LANES = 16
#: Outputs from this size on are written with streaming stores (like a large memcpy): they would not
#: stay in the cache anyway, and a normal store first reads every output line from memory.
_STREAM_BYTES = 8 << 20


@intrinsic
def _build_lanes(typingctx, adc, pedestal, scale, out, c):
    """``out[c:c + 16] = (float32(adc[c:c + 16]) - pedestal[...]) * scale[...]`` with one non-temporal vector store.

    The arithmetic is the scalar loop's, lane by lane (no contraction), so the
    result is bit-identical; ``out[c]`` must be 64-byte aligned.
    """
    signed = adc.dtype.signed

    def codegen(context, builder, signature, args):
        f32 = ir.FloatType()

        def lanes(ty, arr, elem):
            data = context.make_array(ty)(context, builder, arr).data
            ptr = builder.gep(data, [args[4]], inbounds=True)
            return builder.bitcast(ptr, ir.VectorType(elem, _LANES).as_pointer())

        a_ty, p_ty, s_ty, o_ty, _ = signature.args
        a = builder.load(lanes(a_ty, args[0], context.get_data_type(a_ty.dtype)), align=1)
        a = builder.sitofp(a, ir.VectorType(f32, _LANES)) if signed else builder.uitofp(a, ir.VectorType(f32, _LANES))
        p = builder.load(lanes(p_ty, args[1], f32), align=4)
        s = builder.load(lanes(s_ty, args[2], f32), align=4)
        store = builder.store(builder.fmul(builder.fsub(a, p), s), lanes(o_ty, args[3], f32), align=64)
        store.set_metadata("nontemporal", builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)]))
        return context.get_dummy_value()

    return types.void(adc, pedestal, scale, out, c), codegen


@intrinsic
def _store_fence(typingctx):
    """Order the streaming stores before anything that follows (they are weakly ordered)."""
    def codegen(context, builder, signature, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()

    return types.void(), codegen


@jit(parallel=True)
def _build_kernel(adc, pedestal, scale, stream, out):
    n_events, n_cells = adc.shape
    n_blocks = (n_cells + _BLOCK - 1) // _BLOCK
    for k in numba.prange(n_events * n_blocks):
        e = k // n_blocks
        c0 = (k % n_blocks) * _BLOCK
        c1 = min(c0 + _BLOCK, n_cells)
        a = adc[e]
        o = out[e]
        c = c0
        if stream:
            # plain stores up to the first 64-byte boundary of out[e, c], then whole cache lines
            offset = (o.ctypes.data + 4 * c) % 64
            head = c1 if offset % 4 else min(c1, c + (64 - offset) % 64 // 4)
            while c < head:
                o[c] = (np.float32(a[c]) - pedestal[c]) * scale[c]
                c += 1
            while c + _LANES <= c1:
                _build_lanes(a, pedestal, scale, o, c)
                c += _LANES
        while c < c1:
            o[c] = (np.float32(a[c]) - pedestal[c]) * scale[c]
            c += 1
        if stream:
            _store_fence()


@jit(parallel=True)
def _noise_cut_kernel(energy, threshold, absolute, out):
    n_events, n_cells = energy.shape
    n_blocks = (n_cells + _BLOCK - 1) // _BLOCK
    zero = np.float32(0.0)
    for k in numba.prange(n_events * n_blocks):
        e = k // n_blocks
        c0 = (k % n_blocks) * _BLOCK
        c1 = min(c0 + _BLOCK, n_cells)
        x = energy[e]
        o = out[e]
        if absolute:
            for c in range(c0, c1):
                o[c] = x[c] if abs(x[c]) > threshold[c] else zero
        else:
            for c in range(c0, c1):
                o[c] = x[c] if x[c] > threshold[c] else zero


@jit(parallel=True)
def _status_kernel(adc, adc_max, dead, energy, use_energy, out):
    n_events, n_cells = adc.shape
    n_blocks = (n_cells + _BLOCK - 1) // _BLOCK
    for k in numba.prange(n_events * n_blocks):
        e = k // n_blocks
        c0 = (k % n_blocks) * _BLOCK
        c1 = min(c0 + _BLOCK, n_cells)
        a = adc[e]
        o = out[e]
        for c in range(c0, c1):
            flag = np.uint8(1) if dead[c] else np.uint8(0)
            if a[c] >= adc_max:
                flag |= np.uint8(2)
            if use_energy and energy[e, c] != 0:
                flag |= np.uint8(4)
            o[c] = flag


def cell_status(adc, adc_max, dead_mask, energy=None):
    """Per-cell flags: 1 dead, 2 saturated (ADC at ``adc_max``), 4 non-zero ``energy`` (kept by a noise cut).

    Parameters
    ----------
    adc : int array (n_events, n_cells)
    adc_max : int
    dead_mask : bool array (n_cells,)
    energy : float32 array (n_events, n_cells), optional
        Cells after a noise cut; omit for no "kept" flag.

    Returns
    -------
    numpy.ndarray
        ``uint8[n_events, n_cells]``.
    """
    adc = np.ascontiguousarray(adc)
    dead = _per_cell("dead_mask", dead_mask, adc.shape[1], np.bool_, "cell_status")
    use_energy = energy is not None
    energy = np.ascontiguousarray(energy) if use_energy else np.zeros((1, 1), dtype=np.float32)
    out = np.empty(adc.shape, dtype=np.uint8)
    _status_kernel(adc, np.int64(adc_max), dead, energy, use_energy, out)
    return out


def _per_cell(name, values, n_cells, dtype, func):
    array = np.ascontiguousarray(values, dtype=dtype)
    if array.shape != (n_cells,):
        raise ValueError(f"{func}: {name} must have shape ({n_cells},) (one value per "
                         f"cell), got {array.shape}")
    return array


def _dense(name, values, dtype, func):
    array = np.asarray(values)
    if array.ndim != 2:
        raise ValueError(f"{func}: {name} must be a dense (n_events, n_cells) array, got "
                         f"shape {array.shape}")
    return np.ascontiguousarray(array, dtype=dtype)


def adc_dtype(adc_max):
    """ADC array dtype: ``uint16`` up to 65535 counts, else ``int32``."""
    return np.dtype(np.uint16) if adc_max <= 65535 else np.dtype(np.int32)


def digitise(energy, pedestal, gain, noise_sigma, seeds, adc_max=4095):
    """Add noise and convert cell energies to ADC counts.

    ``adc = clip(round(pedestal + (E + noise) / gain), 0, adc_max)``.

    Parameters
    ----------
    energy : array_like of float32, shape (n_events, n_cells)
        Noise-free cell energy, GeV (output of
        :func:`~.simulation.simulate`).
    pedestal : array_like of float, shape (n_cells,)
        Pedestal, ADC counts.
    gain : array_like of float, shape (n_cells,)
        GeV per ADC count (> 0).
    noise_sigma : array_like of float, shape (n_cells,)
        Gaussian electronic noise, GeV.
    seeds : array_like of uint64, shape (n_events,)
        One seed per event (use a different component seed than the
        simulation's).
    adc_max : int, optional
        Largest ADC count (saturation); 4095 for a 12-bit ADC.  Conditions
        from :func:`~.conditions.make_conditions` give the matching value.

    Returns
    -------
    numpy.ndarray
        ADC counts, shape (n_events, n_cells), ``uint16`` when
        ``adc_max <= 65535`` else ``int32``.
    """
    func = "digitise"
    energy = _dense("energy", energy, np.float32, func)
    n_events, n_cells = energy.shape
    adc_max = int(adc_max)
    if not 0 < adc_max < 2**31:
        raise ValueError(f"{func}: adc_max must be in [1, 2**31 - 1], got {adc_max}")
    pedestal = _per_cell("pedestal", pedestal, n_cells, np.float64, func)
    gain = _per_cell("gain", gain, n_cells, np.float64, func)
    if not np.all(gain > 0):
        raise ValueError(f"{func}: every gain must be > 0 GeV per count")
    noise_sigma = _per_cell("noise_sigma", noise_sigma, n_cells, np.float64, func)
    seeds = np.ascontiguousarray(seeds, dtype=np.uint64)
    if seeds.shape != (n_events,):
        raise ValueError(f"{func}: seeds must have shape ({n_events},) (one per event), "
                         f"got {seeds.shape}")
    out = np.empty((n_events, n_cells), dtype=adc_dtype(adc_max))
    _digitise_kernel(energy, pedestal, 1.0 / gain, noise_sigma, seeds, adc_max, out)
    return out


def _output(out, shape, func):
    if out is None:
        return np.empty(shape, dtype=np.float32)
    if not (isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == shape
            and out.flags.c_contiguous and out.flags.writeable):
        raise ValueError(f"{func}: out must be a writeable, C-contiguous float32 array of "
                         f"shape {shape}")
    return out


def build_cells(adc, pedestal, gain, dead_mask, em_scale=1.0, out=None):
    """Convert ADC counts to cell energies: ``(adc - pedestal) * gain``.

    Parameters
    ----------
    adc : array_like of int, shape (n_events, n_cells)
        ADC counts (:func:`digitise`).
    pedestal : array_like of float, shape (n_cells,)
        Pedestal, ADC counts.
    gain : array_like of float, shape (n_cells,)
        GeV per ADC count.
    dead_mask : array_like of bool, shape (n_cells,)
        True for dead cells, which read exactly 0.
    em_scale : float, optional
        Global EM-scale calibration factor applied to every cell
        (:func:`~.calibration.derive_em_scale`); 1 by default.
    out : numpy.ndarray, optional
        A C-contiguous ``float32[n_events, n_cells]`` array to write into
        (reusing a buffer saves the page faults of a fresh allocation).

    Returns
    -------
    numpy.ndarray
        ``float32[n_events, n_cells]``, GeV.
    """
    func = "build_cells"
    adc = np.asarray(adc)
    if adc.ndim != 2:
        raise ValueError(f"{func}: adc must be a dense (n_events, n_cells) array, got "
                         f"shape {adc.shape}")
    if not np.issubdtype(adc.dtype, np.integer):
        raise TypeError(f"{func}: adc must hold integers, got {adc.dtype}")
    adc = np.ascontiguousarray(adc)
    n_cells = adc.shape[1]
    pedestal = _per_cell("pedestal", pedestal, n_cells, np.float32, func)
    dead = _per_cell("dead_mask", dead_mask, n_cells, np.bool_, func)
    gain = _per_cell("gain", gain, n_cells, np.float64, func)
    scale = np.where(dead, 0.0, gain * float(em_scale)).astype(np.float32)
    out = _output(out, adc.shape, func)
    _build_kernel(adc, pedestal, scale, out.nbytes >= _STREAM_BYTES, out)
    return out


def noise_cut(energy, sigma, n_sigma, absolute=True, out=None):
    """Zero the cells compatible with noise.

    Parameters
    ----------
    energy : array_like of float32, shape (n_events, n_cells)
        Cell energy, GeV.
    sigma : array_like of float, shape (n_cells,)
        Noise per cell, GeV (e.g. :func:`cell_noise`).
    n_sigma : float
        Threshold in units of sigma (>= 0).
    absolute : bool, optional
        Keep cells with ``|E| > n_sigma * sigma`` (default, as ATLAS topo
        thresholds) or, when False, only ``E > n_sigma * sigma``.
    out : numpy.ndarray, optional
        A C-contiguous ``float32[n_events, n_cells]`` array to write into;
        it may be ``energy`` itself (in-place cut).

    Returns
    -------
    numpy.ndarray
        ``float32[n_events, n_cells]``: a copy with the other cells set to 0.
    """
    func = "noise_cut"
    energy = _dense("energy", energy, np.float32, func)
    if not n_sigma >= 0:
        raise ValueError(f"{func}: n_sigma must be >= 0, got {n_sigma!r}")
    sigma = _per_cell("sigma", sigma, energy.shape[1], np.float64, func)
    threshold = (float(n_sigma) * sigma).astype(np.float32)
    out = _output(out, energy.shape, func)
    _noise_cut_kernel(energy, threshold, bool(absolute), out)
    return out


def cell_noise(noise_sigma, gain, pileup_sigma=None):
    """Total noise of a built cell, GeV: electronic (+) pile-up (+) quantisation.

    ``sqrt(noise_sigma**2 + pileup_sigma**2 + gain**2 / 12)``: rounding to
    whole ADC counts adds a uniform error of one count's width.

    Returns
    -------
    numpy.ndarray
        ``float32[n_cells]``.
    """
    noise_sigma = np.asarray(noise_sigma, dtype=np.float64)
    gain = np.asarray(gain, dtype=np.float64)
    var = noise_sigma**2 + gain**2 / 12.0
    if pileup_sigma is not None:
        var = var + np.asarray(pileup_sigma, dtype=np.float64) ** 2
    return np.sqrt(var).astype(np.float32)
