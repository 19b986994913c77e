"""Fixed-point numbers as Vivado/Vitis HLS ``ap_fixed<W,I,Q,O>`` computes them, on raw integers.

A value of type ``ap_fixed<W,I>`` is held as its raw two's-complement integer
``v`` (int64) with ``F = W - I`` fractional bits: the number is ``v * 2**-F``.
Conversions between types follow the ``ap_fixed`` rules exactly:

- quantisation (bits dropped below the target's last fractional bit):
  ``AP_TRN`` truncates towards minus infinity, ``AP_RND`` rounds half up
  (ties towards plus infinity), computed on the exact value;
- overflow (value outside the target's range after quantisation):
  ``AP_WRAP`` keeps the low ``W`` bits (two's complement), ``AP_SAT``
  clamps to the largest or smallest value.

Other modes (``AP_RND_CONV``, ``AP_SAT_SYM``, ...) are refused, as are
types wider than 62 bits (the raw integers are int64).  Conversions from
floating point read the float's exact value (as ``ap_fixed(double)``
does): ``+-inf`` behaves as ``+-2**1024`` (saturates, or wraps to zero).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from hepreco.framework.errors import ConfigurationError

from .._numba import jit

#: quantisation modes: name -> code used by the kernels
ROUNDING = {"TRN": 0, "RND": 1}
#: overflow modes: name -> code used by the kernels
OVERFLOW = {"WRAP": 0, "SAT": 1}
#: widest type the int64 kernels hold with room for one carry bit
MAX_WIDTH = 62

_TYPE = re.compile(r"^\s*(ap_)?(u?)(fixed|int)\s*<\s*([^>]*)>\s*$")


class UnsupportedFixedPoint(ConfigurationError):
    """A type or mode this emulation does not reproduce (refused, never approximated)."""


@dataclass(frozen=True)
class FixedType:
    """``ap_fixed<width, integer, rounding, overflow>`` (``signed=False``: ``ap_ufixed``)."""

    width: int
    integer: int
    signed: bool = True
    rounding: str = "TRN"
    overflow: str = "WRAP"

    def __post_init__(self):
        if not 1 <= self.width <= MAX_WIDTH:
            raise UnsupportedFixedPoint(f"{self}: widths from 1 to {MAX_WIDTH} bits are supported, not {self.width}")
        if self.rounding not in ROUNDING:
            raise UnsupportedFixedPoint(f"{self}: quantisation mode AP_{self.rounding} is not supported "
                                        f"(supported: {', '.join('AP_' + m for m in ROUNDING)})")
        if self.overflow not in OVERFLOW:
            raise UnsupportedFixedPoint(f"{self}: overflow mode AP_{self.overflow} is not supported "
                                        f"(supported: {', '.join('AP_' + m for m in OVERFLOW)})")

    @property
    def frac(self) -> int:
        """Fractional bits ``F = W - I`` (may be negative or exceed ``W``)."""
        return self.width - self.integer

    @property
    def lo(self) -> int:
        """Smallest raw value."""
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def hi(self) -> int:
        """Largest raw value."""
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def params(self) -> tuple:
        """``(frac, width, signed, rounding code, overflow code)`` for the kernels."""
        return (self.frac, self.width, self.signed, ROUNDING[self.rounding], OVERFLOW[self.overflow])

    def __str__(self) -> str:
        return (f"ap_{'' if self.signed else 'u'}fixed<{self.width},{self.integer},"
                f"AP_{self.rounding},AP_{self.overflow},0>")

    @property
    def hls4ml(self) -> str:
        """The type as an hls4ml configuration string."""
        return str(self)

    @classmethod
    def parse(cls, text: str) -> "FixedType":
        """From ``ap_fixed<16,6>``, ``ap_fixed<16,6,AP_RND,AP_SAT,0>``, ``ap_ufixed<..>``, ``ap_int<8>``,
        or hls4ml's ``fixed<18,8,RND,SAT,0>``; anything else is :class:`UnsupportedFixedPoint`."""
        if isinstance(text, FixedType):
            return text
        m = _TYPE.match(str(text))
        if not m:
            raise UnsupportedFixedPoint(f"{text!r} is not a fixed-point type (expected e.g. 'ap_fixed<16,6>' "
                                        "or 'ap_fixed<16,6,AP_RND,AP_SAT>')")
        signed, kind = m.group(2) != "u", m.group(3)
        args = [a.strip() for a in m.group(4).split(",") if a.strip()]
        try:
            width = int(args[0])
            integer = width if kind == "int" else int(args[1])
        except (IndexError, ValueError):
            raise UnsupportedFixedPoint(f"{text!r}: expected the width and integer bits as numbers") from None
        modes = args[1:] if kind == "int" else args[2:]
        if kind == "int" and modes:
            raise UnsupportedFixedPoint(f"{text!r}: ap_int takes only a width")
        rounding = modes[0].removeprefix("AP_") if len(modes) > 0 else "TRN"
        overflow = modes[1].removeprefix("AP_") if len(modes) > 1 else "WRAP"
        if len(modes) > 2 and int(modes[2]) != 0:
            raise UnsupportedFixedPoint(f"{text!r}: saturation bits N != 0 are not supported")
        return cls(width, integer, signed, rounding, overflow)

    def to_float(self, raw) -> np.ndarray:
        """Real values (float64, exact up to 53 significant bits) of raw integers."""
        return np.ldexp(np.asarray(raw, dtype=np.float64), -self.frac)

    def from_float(self, x) -> np.ndarray:
        """Raw integers (int64) of float values, as ``ap_fixed(double)`` converts them; NaN is refused."""
        x = np.asarray(x)
        # float32 is read as it is (each value converts exactly to float64 in the kernel): no float64 copy
        x = np.ascontiguousarray(x, dtype=np.float32 if x.dtype == np.float32 else np.float64)
        if np.isnan(x).any():
            raise ValueError(f"NaN cannot be converted to {self} (ap_fixed does not represent NaN)")
        out = np.empty(x.shape, dtype=np.int64)
        from_float_kernel(x.reshape(-1), out.reshape(-1), *self.params)
        return out

    def convert(self, raw, src: "FixedType") -> np.ndarray:
        """Raw integers of type ``src`` converted to this type (int64)."""
        raw = np.ascontiguousarray(raw, dtype=np.int64)
        out = np.empty(raw.shape, dtype=np.int64)
        convert_kernel(raw.reshape(-1), out.reshape(-1), src.frac, *self.params)
        return out


def product_type(a: FixedType, b: FixedType) -> FixedType:
    """The exact type of ``a * b`` (``ap_fixed`` multiplication is full precision)."""
    return FixedType(a.width + b.width, a.integer + b.integer, a.signed or b.signed)


# -- kernels -------------------------------------------------------------------------------
@jit
def int_range(width, signed):
    """``(lo, hi)``: the smallest and largest raw integer of a ``width``-bit type (two's complement if signed)."""
    if signed:
        return -(1 << (width - 1)), (1 << (width - 1)) - 1
    return 0, (1 << width) - 1


@jit
def overflow1(v, width, signed, overflow):
    """Overflow handling of an integer already at the target's fractional bits (exact, within int64)."""
    lo, hi = int_range(width, signed)
    if v >= lo and v <= hi:
        return v
    if overflow == 1:
        return hi if v > hi else lo
    mask = (1 << width) - 1
    v = v & mask
    if signed and v > hi:
        v -= 1 << width
    return v


@jit
def convert1(v, src_frac, frac, width, signed, rounding, overflow):
    """One raw value with ``src_frac`` fractional bits converted to the type (frac, width, signed, modes)."""
    shift = src_frac - frac
    if shift > 0:
        if shift > 63:
            f = -1 if v < 0 else 0
            qb = 1 if v < 0 else 0
        else:
            f = v >> shift
            qb = (v >> (shift - 1)) & 1
        if rounding == 1:
            f += qb
        return overflow1(f, width, signed, overflow)
    if shift < 0:
        s = -shift
        if v == 0:
            return v
        if overflow == 1:
            lo, hi = int_range(width, signed)
            if s > 62 or v > (hi >> s):
                if v > 0:
                    return hi
            lo_abs = -lo
            if v < 0:
                if s > 62 or v < -(lo_abs >> s):
                    return -lo_abs
            return v << s
        if s > 63:
            return 0
        return overflow1(v << s, width, signed, 0)
    return overflow1(v, width, signed, overflow)


@jit
def from_float1(x, frac, width, signed, rounding, overflow, scale=0.0):
    """One float converted as ``ap_fixed(double)`` does (exact value; +-inf as +-2**1024; no NaN).

    ``scale``, when not 0, is ``2.0**frac``: ``x * scale`` is then the same
    correctly rounded value as ``ldexp(x, frac)`` (a libm call), and cheaper.
    """
    x = np.float64(x)
    if np.isinf(x):
        if overflow == 0:
            return 0
        x = 1e308 if x > 0 else -1e308
    s = x * scale if scale != 0.0 else np.ldexp(x, frac)
    f = np.floor(s)
    if rounding == 1 and s - f >= 0.5:
        f += 1.0
    lo, hi = int_range(width, signed)
    if f >= lo and f <= hi:
        return np.int64(f)
    if overflow == 1:
        return hi if f > hi else lo
    v = np.int64(np.fmod(f, np.ldexp(1.0, width)))   # exact: |fmod| < 2**width <= 2**62
    if v < 0:
        v += 1 << width   # in integers: m + 2.0**width rounds for widths over 53 bits
    if signed and v > hi:
        v -= 1 << width
    return v


@jit
def convert_kernel(raw, out, src_frac, frac, width, signed, rounding, overflow):
    for k in range(raw.size):
        out[k] = convert1(raw[k], src_frac, frac, width, signed, rounding, overflow)


@jit
def from_float_kernel(x, out, frac, width, signed, rounding, overflow):
    # 2**frac is a normal double for |frac| < 1022: multiply by it instead of calling ldexp per value
    scale = np.ldexp(1.0, frac) if -1000 < frac < 1000 else 0.0
    if scale == 0.0 or width > 52:
        for k in range(x.size):
            out[k] = from_float1(x[k], frac, width, signed, rounding, overflow, scale)
        return
    # Types of up to 52 bits: a loop without branches (it vectorises) gives every value whose result is in
    # range, as from_float1 does; AP_SAT clamps the others (+-inf included) in the same loop, AP_WRAP
    # recomputes them afterwards with from_float1.
    lo_int, hi_int = int_range(width, signed)
    lo, hi = float(lo_int), float(hi_int)
    half = 0.5 if rounding == 1 else 2.0   # s - floor(s) is exact and below 1: 2.0 never rounds up
    if overflow == 1:
        for k in range(x.size):
            s = np.float64(x[k]) * scale
            f = np.floor(s)
            f += 1.0 if s - f >= half else 0.0
            out[k] = np.int64(min(max(f, lo), hi))
        return
    outside = 0
    for k in range(x.size):
        s = np.float64(x[k]) * scale
        f = np.floor(s)
        f += 1.0 if s - f >= half else 0.0
        inside = f >= lo and f <= hi
        out[k] = np.int64(f if inside else 0.0)
        outside += not inside
    if outside:
        for k in range(x.size):
            s = np.float64(x[k]) * scale
            f = np.floor(s)
            f += 1.0 if s - f >= half else 0.0
            if not (f >= lo and f <= hi):
                out[k] = from_float1(x[k], frac, width, signed, rounding, overflow, scale)
