"""Whole-network fixed-point inference, bit-exact with hls4ml's generated C++ (``io_parallel``, Latency).

A :class:`Network` is the input type and a list of layers, each holding its
quantised integer weights and its ``ap_fixed`` types exactly as the generated
C++ declares them (see :mod:`.hls` for reading them from an hls4ml project and
:mod:`.artefact` for the file).  :meth:`Network.run` takes a chunk of float
inputs ``(n, n_in)`` and computes layer by layer on raw integers:

- ``Dense`` (``nnet::dense_latency``): every product ``x_i * w_ij`` at full
  precision is converted to ``accum_t``; the accumulator starts at
  ``(accum_t) b_j`` and adds the products in input order, each sum converted
  to ``accum_t``; the result is ``(res_t) acc``.
- ``ReLU`` / ``Linear`` (``nnet::relu``, ``nnet::linear``): ``res = x > 0 ? x : 0``
  (or ``x``) converted to the result type.
- ``Softmax`` (``nnet::softmax_stable``): ``d_i = (inp_norm_t)(max - x_i)``,
  ``exp_res_i = (accum_t) exp_table[top bits of d_i]``, a balanced adder tree
  at ``accum_t`` (hls4ml's ``reduce``), ``(inv_inp_t)`` of the sum indexing the
  inverse table by its top bits, and ``res_i = (res_t)(exp_res_i * inv)``.
  The tables are computed as hls4ml's ``init_exp_table``/``init_invert_table``
  do (single-precision ``expf`` and ``1/x``, then ``ap_fixed(double)``).

Dense layers run on int64 raw values: every product must stay below 2**62
(checked when the network is built; otherwise it is refused with
:class:`UnsupportedNetwork`); AP_WRAP sums wrap once at the end (the low bits
of an int64 sum are those of the wrapped sums), AP_SAT sums clamp after each
addition unless no input can reach the limits.  Two faster loops give the same
results where they are provably exact, chosen per layer when the network is
built (:attr:`Network.PATHS`, in this order):

- int32 (8 lanes per AVX2 vector), where inputs, weights and products (plus
  the rounding half) fit in int32 and the accumulator is AP_WRAP of at most
  32 bits (the low 32 bits of the sum are all that matters), AP_SAT of at most
  31 bits (``acc + product`` cannot overflow before the clamp), or never leaves
  int32 (16-bit types: products below 2**30);
- float64 on the integer values where every product stays below 2**52 and
  every sum below 2**53.

The int32 loop takes a row at a time, skips its zero inputs (half of them
after a ReLU), adds four inputs per pass over the outputs (padded with zero
weights to whole vectors) and converts the sums to the (ReLU'd) results in one
loop, skipping conversions that cannot change a value.  Tried and measured
slower here: batches of rows in the inner loop with transposed inputs (no
zero skipping, 1.3-1.8x slower after a ReLU), accumulators in scalar locals
(numba vectorised the wrong loop, with gathers), the conversions over blocks of
rows, and a float64 matrix product (BLAS).  Anything else (other layers,
activations, strategies, modes) is refused, never approximated.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass, field

import numpy as np

from hepreco.framework.errors import ConfigurationError

from numba import types
from numba.extending import intrinsic

from .._numba import jit
from .fixed import FixedType, UnsupportedFixedPoint, convert1


class UnsupportedNetwork(ConfigurationError):
    """A layer, activation or setting the emulator does not reproduce exactly."""


# -- layers ----------------------------------------------------------------------------------
@dataclass
class Dense:
    """A fully connected layer: raw ``weights[n_in, n_out]`` (``weight_type``), ``biases[n_out]``."""

    weights: np.ndarray
    biases: np.ndarray
    weight_type: FixedType
    bias_type: FixedType
    accum_type: FixedType
    result_type: FixedType
    name: str = ""
    kind: str = field(default="dense", init=False)

    @property
    def n_in(self) -> int:
        return self.weights.shape[0]

    @property
    def n_out(self) -> int:
        return self.weights.shape[1]


@dataclass
class Activation:
    """``relu`` or ``linear``, converting to ``result_type``."""

    function: str
    result_type: FixedType
    name: str = ""
    kind: str = field(default="activation", init=False)


@dataclass
class Softmax:
    """hls4ml's ``stable`` softmax with its lookup tables (raw integers of the table types)."""

    result_type: FixedType
    accum_type: FixedType
    inv_inp_type: FixedType
    inp_norm_type: FixedType
    exp_table_type: FixedType
    inv_table_type: FixedType
    exp_table: np.ndarray
    inv_table: np.ndarray
    exp_scale: float = 1.0
    implementation: str = "stable"
    name: str = ""
    kind: str = field(default="softmax", init=False)


# -- softmax tables, as hls4ml's init functions compute them -----------------------------------------
def ceillog2(x: int) -> int:
    """hls4ml's ``nnet::ceillog2`` (address bits of a table)."""
    return 1 if x <= 2 else 1 + ceillog2((x + 1) // 2)


def _floorlog2(x: int) -> int:
    return 0 if x < 2 else 1 + _floorlog2(x // 2)


def _table_values(t: FixedType, size: int) -> np.ndarray:
    """``softmax_real_val_from_idx``: the value of ``t`` whose top ``ceillog2(size)`` bits are the index (float32)."""
    n = ceillog2(size)
    if t.width < n:
        raise UnsupportedNetwork(f"softmax table of {size} entries needs at least {n} bits; {t} has {t.width}")
    raw = np.arange(size, dtype=np.int64) << (t.width - n)
    if t.signed:
        raw = np.where(raw >= (1 << (t.width - 1)), raw - (1 << t.width), raw)
    return t.to_float(raw).astype(np.float32)


def _expf():
    lib = ctypes.util.find_library("m")
    if lib is None:
        return None
    f = ctypes.CDLL(lib).expf
    f.restype, f.argtypes = ctypes.c_float, [ctypes.c_float]
    return f


def exp_table(inp_norm_type: FixedType, table_type: FixedType, size: int, exp_scale: float = 1.0) -> np.ndarray:
    """``init_exp_table<inp_norm_t>(table, negative=true)``: raw ``table_type`` values of exp(-x)."""
    x = -(_table_values(inp_norm_type, size) * np.float32(exp_scale))
    expf = _expf()
    if expf is not None:   # the C library's expf, which the compiled C++ calls
        e = np.array([expf(float(v)) for v in x], dtype=np.float32)
    else:
        e = np.exp(x.astype(np.float64)).astype(np.float32)
    return table_type.from_float(e.astype(np.float64))


def inv_table(inv_inp_type: FixedType, table_type: FixedType, size: int) -> np.ndarray:
    """``init_invert_table<inv_inp_t>``: raw ``table_type`` values of 1/x (single precision, 1/0 = inf)."""
    x = _table_values(inv_inp_type, size)
    with np.errstate(divide="ignore"):
        inv = np.float32(1.0) / x
    return table_type.from_float(inv.astype(np.float64))


def make_softmax(input_type: FixedType, result_type: FixedType, accum_type: FixedType, exp_table_type: FixedType,
                 inv_table_type: FixedType, inv_inp_type: FixedType, table_size: int = 1024,
                 inp_norm_type: FixedType | None = None, name: str = "") -> Softmax:
    """A :class:`Softmax` with hls4ml's defaults for what is not given (``inp_norm_t`` from the input type)."""
    exp_size = inv_size = table_size
    if inp_norm_type is None:
        width, iwidth = input_type.width - input_type.signed, input_type.integer - input_type.signed
        if input_type.signed:
            exp_size = min(table_size, 2 ** width)
        inp_norm_type = FixedType(width, iwidth, False)
    return Softmax(result_type, accum_type, inv_inp_type, inp_norm_type, exp_table_type, inv_table_type,
                   exp_table(inp_norm_type, exp_table_type, exp_size), inv_table(inv_inp_type, inv_table_type, inv_size),
                   name=name)


def reduce_ops(n: int) -> np.ndarray:
    """hls4ml's balanced ``reduce`` tree over ``n`` slots as rows ``(left, right, destination)``."""
    ops = []
    counter = [n]

    def rec(start: int, count: int) -> int:
        if count == 1:
            return start
        if count == 2:
            left, right = start, start + 1
        else:
            left_n = 2 ** _floorlog2(count - 1)
            left, right = rec(start, left_n), rec(start + left_n, count - left_n)
        ops.append((left, right, counter[0]))
        counter[0] += 1
        return counter[0] - 1

    rec(0, n)
    return np.array(ops, dtype=np.int64).reshape(-1, 3)


# -- kernels ----------------------------------------------------------------------------------------
@jit(inline="always")
def fit(v, c):
    """``v`` converted by the step ``c = (shift, half, sat, lo, hi, mask)`` (branch-free where it can be).

    ``shift`` > 0 drops bits (``half`` is 0 for AP_TRN, ``1 << (shift-1)`` for
    AP_RND); < 0 appends zero bits; then AP_SAT clamps to ``[lo, hi]`` or
    AP_WRAP keeps the low bits.  Valid while the operands fit in int64, which
    :class:`Network` checks when built.
    """
    if c[0] > 0:
        v = (v + c[1]) >> c[0]
    elif c[0] < 0:
        v = v << (-c[0])
    if c[2]:
        return min(max(v, c[3]), c[4])
    return ((v - c[3]) & c[5]) + c[3]


@jit
def dense_kernel(x, w, bias_acc, qmode, shift, half, sat, lo, hi, c_res, act, c_act, out):
    """One dense layer (and, with ``act`` 1 or 2, the linear/ReLU activation after it) over a chunk.

    Products ``x_i * w_ij`` are exact in int64; ``qmode`` 0: already at the
    accumulator's fractional bits (``w`` pre-shifted); 1: shifted right by
    ``shift`` with ``half`` added first (AP_TRN: 0, AP_RND: half an LSB).
    ``sat``: products and partial sums clamp to ``[lo, hi]`` (AP_SAT); with
    AP_WRAP the low bits of the int64 sum are those of the wrapped sums, so the
    wrap is applied once at the end (``c_res`` starts with it).
    """
    n, n_in = x.shape
    n_out = w.shape[1]
    acc = np.empty(n_out, dtype=np.int64)
    nz = np.empty(n_in, dtype=np.int64)
    for r in range(n):
        for j in range(n_out):
            acc[j] = bias_acc[j]
        # inputs that are zero (half of them after a ReLU) add nothing: skip them without a branch per input
        count = 0
        for i in range(n_in):
            nz[count] = i
            count += x[r, i] != 0
        for k in range(count):
            i = nz[k]
            xi = x[r, i]
            wi = w[i]
            if qmode == 0:
                if sat:
                    for j in range(n_out):
                        acc[j] = min(max(acc[j] + min(max(xi * wi[j], lo), hi), lo), hi)
                else:
                    for j in range(n_out):
                        acc[j] += xi * wi[j]
            else:
                if sat:
                    for j in range(n_out):
                        acc[j] = min(max(acc[j] + min(max((xi * wi[j] + half) >> shift, lo), hi), lo), hi)
                else:
                    for j in range(n_out):
                        acc[j] += (xi * wi[j] + half) >> shift
        for j in range(n_out):
            v = fit(fit(acc[j], c_res[0]), c_res[1])
            if act == 2 and v < 0:
                v = 0
            if act:
                v = fit(v, c_act)
            out[r, j] = v


@intrinsic
def _ashr32(typingctx, v, s):
    """``v >> s`` on int32 (numba's ``>>`` widens to int64, which stops the loop vectorising 8 lanes wide)."""
    def codegen(context, builder, signature, args):
        return builder.ashr(args[0], args[1])
    return types.int32(types.int32, types.int32), codegen


@jit(inline="always")
def _sat_add(a, x, w, h, s, lo, hi):
    """``clamp(a + clamp((x * w + h) >> s))`` on int32 (AP_SAT products and sums)."""
    return min(max(np.int32(a + min(max(_ashr32(np.int32(np.int32(x * w) + h), s), lo), hi)), lo), hi)


@jit(inline="always")
def fit_row(out, r, n, c):
    """``out[r, :n]`` converted in place by the step ``c`` (see :func:`fit`), one pass per operation with
    the branches outside the loops, so that each loop vectorises."""
    shift, half, lo, hi, mask = c[0], c[1], c[3], c[4], c[5]
    if shift > 0:
        for j in range(n):
            out[r, j] = (out[r, j] + half) >> shift
    elif shift < 0:
        for j in range(n):
            out[r, j] = out[r, j] << -shift
    if c[2]:
        for j in range(n):
            out[r, j] = min(max(out[r, j], lo), hi)
    else:
        for j in range(n):
            out[r, j] = ((out[r, j] - lo) & mask) + lo


@jit(inline="always")
def finish_row(acc, out, r, n, c0, c1, relu):
    """``out[r, j] = relu((res_t)(accum_t) acc[j])`` in one loop for a step ``c1`` that drops bits or none
    (``c0``'s wrap or clamp leaves values in range as they are, so it is always applied); four versions
    of the loop, so that no branch is left inside one."""
    lo0, hi0, m0, sat0 = c0[3], c0[4], c0[5], c0[2] != 0
    s1, h1, lo1, hi1, m1 = c1[0], c1[1], c1[3], c1[4], c1[5]
    if c1[2]:
        if relu:
            for j in range(n):
                v = np.int64(acc[j])
                v = min(max(v, lo0), hi0) if sat0 else ((v - lo0) & m0) + lo0
                out[r, j] = max(min(max((v + h1) >> s1, lo1), hi1), 0)
        else:
            for j in range(n):
                v = np.int64(acc[j])
                v = min(max(v, lo0), hi0) if sat0 else ((v - lo0) & m0) + lo0
                out[r, j] = min(max((v + h1) >> s1, lo1), hi1)
    else:
        if relu:
            for j in range(n):
                v = np.int64(acc[j])
                v = min(max(v, lo0), hi0) if sat0 else ((v - lo0) & m0) + lo0
                out[r, j] = max((((v + h1) >> s1) - lo1 & m1) + lo1, 0)
        else:
            for j in range(n):
                v = np.int64(acc[j])
                v = min(max(v, lo0), hi0) if sat0 else ((v - lo0) & m0) + lo0
                out[r, j] = (((v + h1) >> s1) - lo1 & m1) + lo1


@jit(inline="always")
def is_identity(c, lo, hi):
    """Whether the step ``c`` leaves every value of ``[lo, hi]`` as it is."""
    return c[0] == 0 and c[3] <= lo and c[4] >= hi


@jit
def dense_int32_kernel(x, w, bias_acc, shift, half, sat, lo, hi, acc_in_range, c_res, act, c_act, out):
    """:func:`dense_kernel` on int32 where :class:`Network` has checked that every input, weight,
    product (plus ``half``) and partial sum fits: AP_WRAP sums keep their low 32 bits, which are those of
    the wrapped sums for accumulators of up to 32 bits; AP_SAT sums of up to 31 bits are clamped after
    each addition.  The products are quantised with ``(x * w + half) >> shift`` (``shift`` 0: exact).
    Rows are computed one at a time, skipping zero inputs; the loop over outputs runs 8 lanes wide
    (``w`` and ``bias_acc`` may have more columns than ``out``, zeros, to fill whole vectors).
    Conversions that cannot change a value are skipped: ``(accum_t)`` of the sum when ``acc_in_range``
    (it never leaves the accumulator's range), ``(res_t)`` and the activation's type when they hold
    every value of the type before them."""
    n, n_in = x.shape
    n_out, n_pad = out.shape[1], w.shape[1]
    acc = np.empty(n_pad, dtype=np.int32)
    nz = np.empty(n_in + 3, dtype=np.int64)
    xs = np.empty(n_in + 3, dtype=np.int32)
    # a shift of 31 floors any |value| < 2**31 to 0 or -1, as every longer one does (int32 shifts stop at 31)
    h, s, lo32, hi32 = np.int32(half), np.int32(min(shift, 31)), np.int32(lo), np.int32(hi)
    c0, c1 = c_res[0], c_res[1]
    do_acc = not acc_in_range
    do_res = not is_identity(c1, c0[3], c0[4])
    do_act = act != 0 and not is_identity(c_act, c1[3], c1[4])
    relu = act == 2
    fused = c1[0] >= 0   # (res_t) drops bits or none: one loop from the sums to the (ReLU'd) results
    for r in range(n):
        for j in range(n_pad):
            acc[j] = bias_acc[j]
        # the non-zero inputs, four per pass over the outputs (padded with zeros, which add nothing)
        count = 0
        for i in range(n_in):
            nz[count] = i
            xs[count] = x[r, i]
            count += x[r, i] != 0
        for m in range(count, count + 3):
            nz[m] = 0
            xs[m] = 0
        for k in range(0, count, 4):
            i0, i1, i2, i3 = nz[k], nz[k + 1], nz[k + 2], nz[k + 3]
            x0, x1, x2, x3 = xs[k], xs[k + 1], xs[k + 2], xs[k + 3]
            if sat:
                for j in range(n_pad):
                    a = _sat_add(acc[j], x0, w[i0, j], h, s, lo32, hi32)
                    a = _sat_add(a, x1, w[i1, j], h, s, lo32, hi32)
                    a = _sat_add(a, x2, w[i2, j], h, s, lo32, hi32)
                    acc[j] = _sat_add(a, x3, w[i3, j], h, s, lo32, hi32)
            elif s == 0:   # exact products (h is 0 too): the wrapped sum of the plain products
                for j in range(n_pad):
                    acc[j] = np.int32(acc[j] + x0 * w[i0, j] + x1 * w[i1, j] + x2 * w[i2, j] + x3 * w[i3, j])
            elif h == 0:   # AP_TRN
                for j in range(n_pad):
                    acc[j] = np.int32(acc[j] + _ashr32(np.int32(x0 * w[i0, j]), s) + _ashr32(np.int32(x1 * w[i1, j]), s)
                                      + _ashr32(np.int32(x2 * w[i2, j]), s) + _ashr32(np.int32(x3 * w[i3, j]), s))
            else:
                for j in range(n_pad):
                    acc[j] = np.int32(acc[j] + _ashr32(np.int32(np.int32(x0 * w[i0, j]) + h), s)
                                      + _ashr32(np.int32(np.int32(x1 * w[i1, j]) + h), s)
                                      + _ashr32(np.int32(np.int32(x2 * w[i2, j]) + h), s)
                                      + _ashr32(np.int32(np.int32(x3 * w[i3, j]) + h), s))
        if fused:
            finish_row(acc, out, r, n_out, c0, c1, relu)
        else:
            for j in range(n_out):
                out[r, j] = acc[j]
            if do_acc:
                fit_row(out, r, n_out, c0)
            if do_res:
                fit_row(out, r, n_out, c1)
            if relu:
                for j in range(n_out):
                    out[r, j] = max(out[r, j], 0)
        if do_act:
            fit_row(out, r, n_out, c_act)


@jit
def dense_float_kernel(x, w, bias_acc, half, sat, lo, hi, c_res, act, c_act, out):
    """:func:`dense_kernel` in float64 on integer values: ``floor(x * w + half)`` with ``w`` scaled by
    2**-shift and ``half`` 0.5 (AP_RND) or 0 (AP_TRN); exact while products stay below 2**52 and sums
    below 2**53, which :class:`Network` checks before choosing it (float multiplies are cheaper than
    int64 ones)."""
    n, n_in = x.shape
    n_out = w.shape[1]
    acc = np.empty(n_out)
    nz = np.empty(n_in, dtype=np.int64)
    for r in range(n):
        for j in range(n_out):
            acc[j] = bias_acc[j]
        count = 0
        for i in range(n_in):
            nz[count] = i
            count += x[r, i] != 0
        for k in range(count):
            i = nz[k]
            xi = np.float64(x[r, i])
            wi = w[i]
            if sat:
                for j in range(n_out):
                    acc[j] = min(max(acc[j] + min(max(np.floor(xi * wi[j] + half), lo), hi), lo), hi)
            else:
                for j in range(n_out):
                    acc[j] += np.floor(xi * wi[j] + half)
        for j in range(n_out):
            v = fit(fit(np.int64(acc[j]), c_res[0]), c_res[1])
            if act == 2 and v < 0:
                v = 0
            if act:
                v = fit(v, c_act)
            out[r, j] = v


@jit
def activation_kernel(x, relu, c_act, out):
    """``out = (res_t)(relu ? max(x, 0) : x)``."""
    for k in range(x.size):
        v = x.flat[k]
        if relu and v < 0:
            v = 0
        out.flat[k] = fit(v, c_act)


@jit
def softmax_kernel(x, in_frac, norm, exp_shift, exp_mask, exp_acc, acc, ops, inv_inp, inv_shift,
                   inv_mask, inv_tab, inv_frac, res, out):
    """hls4ml's ``softmax_stable`` over a chunk; ``exp_acc`` is the exp table already converted to ``accum_t``
    (``(accum_t) exp_table[idx]``, the same for every input)."""
    n, k = x.shape
    buf = np.empty(k + ops.shape[0], dtype=np.int64)
    norm_mask = (1 << norm[1]) - 1
    inv_wmask = (1 << inv_inp[1]) - 1
    for r in range(n):
        xmax = x[r, 0]
        for i in range(1, k):
            if x[r, i] >= xmax:
                xmax = x[r, i]
        for i in range(k):
            d = convert1(xmax - x[r, i], in_frac, norm[0], norm[1], norm[2], norm[3], norm[4])
            idx = ((d & norm_mask) >> exp_shift) & exp_mask
            buf[i] = exp_acc[idx]
        for m in range(ops.shape[0]):
            buf[ops[m, 2]] = convert1(buf[ops[m, 0]] + buf[ops[m, 1]], acc[0], acc[0], acc[1], acc[2], acc[3], acc[4])
        s = buf[k + ops.shape[0] - 1]
        si = convert1(s, acc[0], inv_inp[0], inv_inp[1], inv_inp[2], inv_inp[3], inv_inp[4])
        inv = inv_tab[((si & inv_wmask) >> inv_shift) & inv_mask]
        for i in range(k):
            out[r, i] = convert1(buf[i] * inv, acc[0] + inv_frac, res[0], res[1], res[2], res[3], res[4])


def int32_exact(xmax: int, wmax: int, pmax: int, acc: FixedType, sat: bool, reach: float) -> bool:
    """Whether :func:`dense_int32_kernel` computes a dense layer exactly: inputs up to ``xmax`` and
    weights up to ``wmax`` (raw, at the accumulator's bits), products plus the rounding half up to
    ``pmax``, and either clamped sums of an accumulator of at most 31 bits (AP_SAT: ``acc + product``
    stays within int32), or sums whose low 32 bits are all that matters (AP_WRAP of at most 32 bits)
    or that never leave int32 (the largest reachable partial sum, ``reach``)."""
    limit = 2 ** 31 - 1
    if xmax > limit or wmax > limit or pmax > limit:
        return False
    if sat:
        return acc.width <= 31
    return acc.width <= 32 or reach <= limit


def _p(t: FixedType) -> np.ndarray:
    return np.array(t.params, dtype=np.int64)


def step(src: FixedType, dst: FixedType, where: str = "") -> np.ndarray:
    """The :func:`fit` parameters converting values of ``src`` to ``dst``, checked to be exact in int64."""
    shift = src.frac - dst.frac
    if shift > 62 or (shift < 0 and src.width - shift > 62):
        raise UnsupportedNetwork(f"{where}: converting {src} to {dst} needs more than the 62 bits of the "
                                 "int64 emulation")
    half = (1 << (shift - 1)) if shift > 0 and dst.rounding == "RND" else 0
    return np.array([shift, half, dst.overflow == "SAT", dst.lo, dst.hi, (1 << dst.width) - 1], dtype=np.int64)


_NO_STEP = np.zeros(6, dtype=np.int64)


# -- the network -------------------------------------------------------------------------------------
class Network:
    """A fixed-point network: ``input_type`` and ``layers``; checked for exact emulation when built."""

    #: the faster dense-layer paths, in order of preference; the int64 loop is the fallback for all
    PATHS = ("int32", "float")

    def __init__(self, input_type: FixedType, layers: list, n_inputs: int, paths: tuple = PATHS):
        self.input_type = FixedType.parse(input_type)
        self.layers = list(layers)
        self.n_inputs = int(n_inputs)
        unknown = set(paths) - set(self.PATHS)
        if unknown:
            raise ValueError(f"unknown dense-layer paths {sorted(unknown)} (known: {', '.join(self.PATHS)})")
        self.paths = tuple(paths)   # () : every dense layer on the int64 loop (same results, slower)
        self._plan = self._prepare()

    @property
    def n_outputs(self) -> int:
        return self._n_out

    @property
    def output_type(self) -> FixedType:
        return self._out_type

    def _prepare(self) -> list:
        plan = []
        t, width = self.input_type, self.n_inputs
        for k, layer in enumerate(self.layers):
            where = f"layer {k} ({getattr(layer, 'name', '') or getattr(layer, 'kind', type(layer).__name__)})"
            if isinstance(layer, Dense):
                if layer.n_in != width:
                    raise UnsupportedNetwork(f"{where}: expects {layer.n_in} inputs, the previous layer gives {width}")
                plan.append(("dense", self._prepare_dense(layer, t, where, self.paths)))
                t, width = layer.result_type, layer.n_out
            elif isinstance(layer, Activation):
                if layer.function not in ("relu", "linear"):
                    raise UnsupportedNetwork(f"{where}: activation {layer.function!r} is not supported "
                                             "(supported: relu, linear)")
                code = 2 if layer.function == "relu" else 1
                plan.append(("activation", (code, step(t, layer.result_type, where))))
                t = layer.result_type
            elif isinstance(layer, Softmax):
                plan.append(("softmax", self._prepare_softmax(layer, t, width, where)))
                t = layer.result_type
            else:
                raise UnsupportedNetwork(f"{where}: layer type {type(layer).__name__} is not supported "
                                         "(supported: Dense, Activation relu/linear, Softmax stable)")
        self._n_out, self._out_type = width, t
        return plan

    @staticmethod
    def _prepare_dense(layer: Dense, t: FixedType, where: str, paths: tuple = PATHS) -> tuple:
        acc = layer.accum_type
        w = np.asarray(layer.weights, dtype=np.int64)
        pmax = max(abs(t.lo), abs(t.hi)) * int(np.abs(w).max(initial=0))
        shift = t.frac + layer.weight_type.frac - acc.frac   # the exact product's fractional bits, less acc's
        if shift < 0:
            w, pmax, shift = w << -shift, pmax << -shift, 0
        if pmax >= 2 ** 62 or shift > 62:
            raise UnsupportedNetwork(f"{where}: products of {t} and {layer.weight_type} at {acc} can reach "
                                     f"{pmax} (raw), beyond the int64 range the emulator computes exactly")
        half = (1 << (shift - 1)) if shift > 0 and acc.rounding == "RND" else 0
        bias_acc = acc.convert(np.asarray(layer.biases, dtype=np.int64), layer.bias_type)
        c_res = np.stack([step(acc, acc, where), step(acc, layer.result_type, where)])
        sat = acc.overflow == "SAT"
        # the largest partial sum any input can give (products already at the accumulator's bits)
        xmax = max(abs(t.lo), abs(t.hi))
        qmax = np.floor((np.abs(w).astype(np.float64) * xmax + half) / 2.0 ** shift)
        reach = (float(np.abs(bias_acc).max(initial=0)) + float(qmax.sum(axis=0).max(initial=0))) * (1 + 1e-9) + 1
        if sat and reach <= min(-acc.lo, acc.hi):
            sat = False   # no product or partial sum can leave the accumulator's range: clamping is a no-op
        for path in paths:
            if path == "int32" and int32_exact(xmax, int(np.abs(w).max(initial=0)), pmax + half, acc, sat, reach):
                in_range = sat or reach <= min(-acc.lo, acc.hi) or (acc.signed and acc.width == 32)
                # outputs padded with zero weights to whole vectors: a multiple of 32 (the vectorised loop's
                # step), or of 8 for up to 8 outputs (its 4-lane tail, cheaper than 32 lanes for a few outputs)
                pad = -layer.n_out % (8 if layer.n_out <= 8 else 32)
                w32 = np.pad(w.astype(np.int32), ((0, 0), (0, pad)))
                return ("int32", w32, np.pad(bias_acc.astype(np.int32), (0, pad)), shift, half, sat, acc.lo, acc.hi,
                        in_range, c_res)
            if path == "float" and pmax < 2 ** 52 and (acc.width <= 52 if sat else reach < 2 ** 53):
                break
        else:
            path = "int64"
        if path == "float":
            return ("float", np.ascontiguousarray(w.astype(np.float64) / 2.0 ** shift),
                    bias_acc.astype(np.float64), 0.5 if half else 0.0, sat, float(acc.lo), float(acc.hi), c_res)
        return ("int", np.ascontiguousarray(w), bias_acc, 0 if shift == 0 else 1, shift, half, sat,
                acc.lo, acc.hi, c_res)

    @staticmethod
    def _prepare_softmax(layer: Softmax, t: FixedType, width: int, where: str) -> tuple:
        if layer.implementation != "stable":
            raise UnsupportedNetwork(f"{where}: softmax implementation {layer.implementation!r} is not supported "
                                     "(supported: stable)")
        if layer.exp_scale != 1.0:
            raise UnsupportedNetwork(f"{where}: softmax exp_scale {layer.exp_scale} is not supported (only 1.0)")
        acc, inv_t = layer.accum_type, layer.inv_table_type
        if acc.width + inv_t.width > 62:
            raise UnsupportedNetwork(f"{where}: {acc} x {inv_t} is wider than 62 bits")
        if t.width + 1 > 62:
            raise UnsupportedNetwork(f"{where}: input {t} is too wide")
        exp_n, inv_n = ceillog2(len(layer.exp_table)), ceillog2(len(layer.inv_table))
        norm, inv_inp = layer.inp_norm_type, layer.inv_inp_type
        for ty, n, what in ((norm, exp_n, "inp_norm_t"), (inv_inp, inv_n, "inv_inp_t")):
            if ty.width < n:
                raise UnsupportedNetwork(f"{where}: {what} {ty} has fewer bits than the table address ({n})")
        exp_acc = acc.convert(np.asarray(layer.exp_table, np.int64), layer.exp_table_type)
        return (t.frac, _p(norm), norm.width - exp_n, (1 << exp_n) - 1, exp_acc, _p(acc), reduce_ops(width),
                _p(inv_inp), inv_inp.width - inv_n, (1 << inv_n) - 1, np.asarray(layer.inv_table, np.int64), inv_t.frac, _p(layer.result_type))

    def quantise(self, x) -> np.ndarray:
        """Float inputs ``(n, n_inputs)`` to raw integers of the input type (as the C++ bridge converts them)."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"the network takes inputs of shape (n, {self.n_inputs}), got {x.shape}")
        return self.input_type.from_float(x)

    def run_raw(self, raw: np.ndarray, trace: bool = False):
        """Raw input integers -> raw outputs (``output_type``); ``trace``: also every layer's raw output."""
        x = np.ascontiguousarray(raw, dtype=np.int64)
        outputs = []
        plan = self._plan
        k = 0
        while k < len(plan):
            kind, p = plan[k]
            if kind == "dense":
                fused = not trace and k + 1 < len(plan) and plan[k + 1][0] == "activation"
                act, c_act = plan[k + 1][1] if fused else (0, _NO_STEP)
                out = np.empty((x.shape[0], self.layers[k].n_out), dtype=np.int64)
                kernel = {"int32": dense_int32_kernel, "float": dense_float_kernel, "int": dense_kernel}[p[0]]
                kernel(x, *p[1:], act, c_act, out)
                k += fused
            elif kind == "activation":
                out = np.empty_like(x)
                activation_kernel(x, p[0] == 2, p[1], out)
            else:
                out = np.empty_like(x)
                softmax_kernel(x, *p, out)
            x = out
            k += 1
            if trace:
                outputs.append(x)
        return (x, outputs) if trace else x

    def run(self, x) -> np.ndarray:
        """Float inputs ``(n, n_inputs)`` -> float outputs (exact values of the output type)."""
        return self.output_type.to_float(self.run_raw(self.quantise(x)))

    def trace(self, x) -> list[np.ndarray]:
        """Every layer's output as floats (exact values of each layer's result type), like hls4ml's ``trace()``."""
        _, outs = self.run_raw(self.quantise(x), trace=True)
        types = [layer.result_type for layer in self.layers]
        return [t.to_float(o) for t, o in zip(types, outs)]


__all__ = ["Network", "Dense", "Activation", "Softmax", "make_softmax", "UnsupportedNetwork", "UnsupportedFixedPoint"]
