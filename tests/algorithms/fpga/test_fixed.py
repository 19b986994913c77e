"""ap_fixed conversions on raw integers against an exact rational reference."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from hepreco.algorithms.fpga.fixed import FixedType, UnsupportedFixedPoint, product_type


def reference(value: Fraction, t: FixedType) -> int:
    """The ap_fixed rule on an exact value: quantise (floor, or round half up), then saturate or wrap."""
    s = value * 2 ** t.frac if t.frac >= 0 else value / 2 ** -t.frac
    f = math.floor(s)
    if t.rounding == "RND" and s - f >= Fraction(1, 2):
        f += 1
    if t.lo <= f <= t.hi:
        return f
    if t.overflow == "SAT":
        return t.hi if f > t.hi else t.lo
    f %= 2 ** t.width
    return f - 2 ** t.width if t.signed and f > t.hi else f


def random_types(rng, n):
    for _ in range(n):
        width = int(rng.integers(1, 30))
        yield FixedType(width, int(rng.integers(-6, width + 8)), bool(rng.integers(2)),
                        ["TRN", "RND"][rng.integers(2)], ["WRAP", "SAT"][rng.integers(2)])


@pytest.mark.parametrize("text, expected", [
    ("ap_fixed<16,6>", FixedType(16, 6)),
    ("ap_fixed<16,6,AP_RND,AP_SAT>", FixedType(16, 6, True, "RND", "SAT")),
    ("ap_ufixed<37, 17>", FixedType(37, 17, False)),
    ("fixed<18,8,RND,SAT,0>", FixedType(18, 8, True, "RND", "SAT")),
    ("ap_int<8>", FixedType(8, 8)),
    ("ap_uint<1>", FixedType(1, 1, False)),
])
def test_types_parse_and_print_back(text, expected):
    t = FixedType.parse(text)
    assert t == expected
    assert FixedType.parse(str(t)) == t


@pytest.mark.parametrize("text, match", [
    ("ap_fixed<16,6,AP_RND_CONV,AP_SAT>", "quantisation mode AP_RND_CONV is not supported"),
    ("ap_fixed<16,6,AP_RND,AP_SAT_SYM>", "overflow mode AP_SAT_SYM is not supported"),
    ("ap_fixed<64,6>", "widths from 1 to 62 bits"),
    ("float", "is not a fixed-point type"),
    ("ap_fixed<16,6,AP_RND,AP_SAT,2>", "saturation bits"),
])
def test_unsupported_types_and_modes_are_refused(text, match):
    with pytest.raises(UnsupportedFixedPoint, match=match):
        FixedType.parse(text)


def test_conversions_between_types_match_the_exact_rule():
    rng = np.random.default_rng(11)
    srcs = list(random_types(rng, 40))
    dsts = list(random_types(rng, 40))
    for src, dst in zip(srcs, dsts):
        raw = rng.integers(src.lo, src.hi + 1, size=300, endpoint=False) if src.hi > src.lo else np.array([src.lo])
        raw = np.concatenate([raw, [src.lo, src.hi, 0]])
        got = dst.convert(raw, src)
        want = [reference(Fraction(int(v)) / 2 ** src.frac if src.frac >= 0 else Fraction(int(v)) * 2 ** -src.frac,
                          dst) for v in raw]
        assert got.tolist() == want, (src, dst)


def test_float_conversion_rounds_ties_up_and_saturates_or_wraps():
    rnd = FixedType(8, 8, True, "RND", "SAT")
    trn = FixedType(8, 8, True, "TRN", "WRAP")
    x = np.array([2.5, -2.5, -2.4, 127.6, 300.0, -300.0, np.inf, -np.inf, 1e300])
    assert rnd.from_float(x).tolist() == [3, -2, -2, 127, 127, -128, 127, -128, 127]
    assert trn.from_float(x).tolist() == [2, -3, -3, 127, 44, -44, 0, 0, reference(Fraction(1e300), trn)]
    rng = np.random.default_rng(5)
    for t in random_types(rng, 30):
        values = rng.normal(size=200) * 2.0 ** rng.integers(-8, 30, size=200)
        assert t.from_float(values).tolist() == [reference(Fraction(float(v)), t) for v in values], t


def test_nan_is_refused():
    with pytest.raises(ValueError, match="NaN cannot be converted"):
        FixedType(8, 3).from_float([0.5, np.nan])


def test_the_product_type_holds_every_product_exactly():
    a, b = FixedType(8, 3), FixedType(6, 1, False)
    p = product_type(a, b)
    assert (p.width, p.integer, p.frac) == (14, 4, a.frac + b.frac)
    assert p.lo <= a.lo * b.hi and a.hi * b.hi <= p.hi


def test_the_float_conversion_by_multiplication_equals_the_ldexp_one_down_to_subnormals():
    from hepreco.algorithms.fpga.fixed import from_float1

    rng = np.random.default_rng(9)
    x = np.concatenate([rng.normal(size=2000) * 10.0 ** rng.integers(-310, 300, 2000), [5e-324, -5e-324, 1e308]])
    for frac in (-40, -3, 0, 5, 20, 61):
        for rounding in (0, 1):
            for overflow in (0, 1):
                a = [from_float1(v, frac, 62, True, rounding, overflow, 2.0 ** frac) for v in x]
                b = [from_float1(v, frac, 62, True, rounding, overflow) for v in x]
                assert a == b


def test_the_vectorised_float_conversion_matches_the_exact_rule_next_to_ties_and_range_edges():
    # values one ulp either side of half an LSB (where floor(s + 0.5) would round the wrong way), of the
    # range limits, infinities and huge values, in types of up to 52 bits (the branch-free loop) and wider
    base = np.concatenate([np.arange(-300, 300) + 0.5, [2.0 ** 51 + 0.5, -(2.0 ** 50) - 0.5, 1e300, -1e300]])
    x = np.concatenate([np.nextafter(base, np.inf), np.nextafter(base, -np.inf), base, [0.5 - 2.0 ** -54]])
    for t in [FixedType(w, w - f, s, q, o) for w in (4, 9, 16, 40, 52, 53, 60) for f in (0, 3)
              for s in (True, False) for q in ("TRN", "RND") for o in ("WRAP", "SAT")]:
        values = x * 2.0 ** -t.frac
        assert t.from_float(values).tolist() == [reference(Fraction(float(v)), t) for v in values], t
        inf = t.from_float(np.array([np.inf, -np.inf])).tolist()
        assert inf == ([t.hi, t.lo] if t.overflow == "SAT" else [0, 0]), t


def test_float32_inputs_convert_as_their_float64_values():
    rng = np.random.default_rng(13)
    x = (rng.normal(size=3000) * 2.0 ** rng.integers(-12, 12, size=3000)).astype(np.float32)
    x[:4] = [np.inf, -np.inf, 0.5, -0.5]
    for t in [FixedType(16, 6), FixedType(16, 6, True, "RND", "SAT"), FixedType(8, 3, False, "RND", "WRAP"),
              FixedType(58, 20, True, "RND", "WRAP")]:
        assert np.array_equal(t.from_float(x), t.from_float(x.astype(np.float64))), t
