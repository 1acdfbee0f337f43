"""Vectorizable elementary functions, stated as data.

For each function (exp, expm1, log, log1p, tanh, sech2 = 1/cosh^2, erf, erfc,
expmsq = exp(-x^2), atan, sin, cos) and dtype
(``"f64"``, ``"f32"``) this module records

* the argument-reduction constants (ln2 split for Cody-Waite, round-to-int
  shifter, clamps, the sqrt(1/2) split point of log, interval switch points),
* the polynomial coefficients, **computed here** by Chebyshev interpolation at
  high precision with mpmath (never typed in), then rounded to the dtype,
* the claimed bound: maximum relative error ``max_ulp * eps`` (``eps`` =
  2**-52 for float64, 2**-23 for float32, i.e. "ulp" means the unit at 1.0)
  over the domain ``domain``, plus an absolute bound ``subnormal_abs`` that
  holds where the true result is below the smallest normal number (there the
  result is rounded to the subnormal grid, so relative error is meaningless).

``approximations()`` returns every :class:`Approximation` (cached);
``build_approximations()`` recomputes them from scratch (used by the
determinism test).  Everything is deterministic: fixed node sets, fixed
working precision, no randomness, round-to-nearest conversions.

The generated code (``generated/elementary.py``) never imports this module
or SymPy/mpmath; ``symdl.codegen.elementary`` prints the numbers into it.

Methods (shared pieces are recorded in every approximation that uses them):

exp
    k = round(x/ln2) by the 1.5*2**p shifter, r = (x - k*LN2HI) - k*LN2LO,
    expm1(r) = r + r*(r*P_EXP(r)) on |r| <= ln2/2, exp = (1 + expm1(r))*2**k1*2**k2
    with k1 = k >> 1, k2 = k - k1 (2**k built by an integer bit-cast), so that
    overflow gives inf and subnormal results are rounded once.
expm1
    same reduction; 2**k*expm1(r) + (2**k - 1) for k <= EXPM1_BIG_K,
    (1 + expm1(r))*2**k1*2**k2 above.
log, log1p
    u = 2**k*m with m in [sqrt(1/2), sqrt(2)) (integer bit tricks; subnormals
    pre-scaled by 2**LOG_SUBN_SHIFT), f = m - 1, s = f/(2+f),
    log(1+f) = f - (f*f/2 - s*(f*f/2 + s*s*Q_LOG(s*s))); log1p adds the
    rounding correction (x - (u-1))/u of u = 1+x.
tanh, sech2
    t = expm1(2a), a = |x| (shifted down above TANH_BIG, see _tanh_parts),
    q = 1/(t+2), tanh = sign(x)*t*q (t < 1) or sign(x)*(1 - 2q), sech^2 = 1 - tanh^2 = (4q)*((t+1)*q)
    without cancellation.  The two share every instruction up to q, so a
    kernel that needs tanh(u) and its derivative sech^2(u) evaluates one
    expm1 (LLVM merges the inlined common part).
erf, erfc
    |x| < ERF_SWITCH: erf = x*E_ERF(x*x), |x| < ERFC_SWITCH: erfc = 1 - erf
    (float64; float32 has ERFC_SWITCH = 0: erfc is the tail formula alone);
    else erfc(z) = t*H_ERFC(u)*exp(-z*z), t = ERFC_P/(ERFC_P + z), u = (t - ERFC_TC)*ERFC_TS,
    exp(-z*z) taken in two parts (z split into 26/12 high bits) so that the
    large exponent is exact; erf = 1 - erfc, erfc(-z) = 2 - erfc(z).
atan
    a = |x|; t = a (a <= tan pi/8), (a-1)/(a+1) (a <= tan 3pi/8) or -1/a,
    one division of selected numerator and denominator; atan = b_hi +
    (t + (t*w*P_ATAN(w) + b_lo)), b = 0, pi/4, pi/2 split hi + lo, w = t*t.
sin, cos
    k = round(x*2/pi), r = (((x - k*PIO2_1) - k*PIO2_2) - k*PIO2_3) - k*PIO2_4
    in float64 for both dtypes, w = r*r,
    sin(r) = r + r*w*S_SIN(w), cos(r) = v + (((1 - v) - w/2) + w*w*C_COS(w)),
    v = 1 - w/2, chosen and signed by k mod 4.  The vector path covers
    |x| <= TRIG_MAX with |r| >= TRIG_RMIN (or k = 0) and returns nan
    elsewhere; kernels that call sin/cos count such elements and recompute
    them with libm (see symdl.codegen.render), so no result is wrong.
expmsq
    exp(-x^2) by the same split as erfc's tail, instruction for instruction,
    so that a kernel needing erfc(u) and the Gaussian exp(-u^2) (the
    normal cdf and its derivative) evaluates one exponential.
"""
from __future__ import annotations

import functools
import hashlib
import json
import struct
from dataclasses import dataclass

import mpmath
import numpy as np

__all__ = ["Approximation", "FUNCTIONS", "DTYPES", "EPS", "approximations",
           "build_approximations", "get"]

FUNCTIONS = ("exp", "expm1", "log", "log1p", "tanh", "sech2", "erf", "erfc", "expmsq", "atan", "sin", "cos")
DTYPES = ("f64", "f32")
#: unit roundoff convention: "1 ulp" = eps = 2**-(mantissa bits)
EPS = {"f64": 2.0 ** -52, "f32": 2.0 ** -23}
_MANT = {"f64": 52, "f32": 23}          # stored mantissa bits
_EXPBITS = {"f64": 11, "f32": 8}
_BIAS = {"f64": 1023, "f32": 127}
_MAXEXP = {"f64": 1024, "f32": 128}     # max finite < 2**_MAXEXP
_MINEXP = {"f64": -1022, "f32": -126}   # min normal = 2**_MINEXP
_DPS = 60                               # working precision of every fit


@dataclass(frozen=True)
class Approximation:
    """One function at one dtype: reduction constants, coefficients, bound."""

    name: str
    dtype: str
    method: str
    constants: tuple          # ((name, int|float), ...) in a fixed order
    polys: tuple              # ((name, (c0, c1, ...)), ...) low -> high degree
    fit_errors: tuple         # ((poly name, max rel error of the rounded poly), ...)
    max_ulp: float            # claimed bound in units of EPS[dtype]
    domain: tuple             # (lo, hi): where the relative bound holds
    subnormal_abs: float      # absolute bound where |true result| < min normal

    @property
    def rel_bound(self) -> float:
        return self.max_ulp * EPS[self.dtype]

    def const(self, name: str):
        return dict(self.constants)[name]

    def poly(self, name: str) -> tuple:
        return dict(self.polys)[name]

    def content_hash(self) -> str:
        def enc(v):
            return float(v).hex() if isinstance(v, float) else v
        doc = {
            "name": self.name, "dtype": self.dtype, "method": self.method,
            "constants": [[k, enc(v)] for k, v in self.constants],
            "polys": [[k, [enc(c) for c in cs]] for k, cs in self.polys],
            "max_ulp": enc(float(self.max_ulp)),
            "domain": [enc(float(d)) for d in self.domain],
            "subnormal_abs": enc(float(self.subnormal_abs)),
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------
# helpers: rounding to a dtype, bit patterns, Chebyshev fits
# --------------------------------------------------------------------------

def _round(v, dtype: str) -> float:
    """Round an mpf (or number) to the dtype; returns a Python float."""
    f = float(mpmath.mpf(v))  # correctly rounded to float64
    if dtype == "f32":
        # round directly from the exact value to 24 bits (no double rounding)
        with mpmath.workprec(24):
            f = float(+mpmath.mpf(v))
        f = float(np.float32(f))
    return f


def _bits(f: float, dtype: str) -> int:
    if dtype == "f64":
        return struct.unpack("<q", struct.pack("<d", f))[0]
    return struct.unpack("<i", struct.pack("<f", f))[0]


def _round_bits(v, nbits: int) -> float:
    """v rounded to nbits significant bits (exactly representable in f32/f64)."""
    with mpmath.workprec(nbits):
        return float(+mpmath.mpf(v))


def _cheb_poly(f, a, b, n):
    """Chebyshev interpolant of degree n of f on [a, b] (mpf),
    as monomial coefficients in u = (2v - (a+b))/(b-a) (low -> high)."""
    N = n + 1
    half = mpmath.mpf(1) / 2
    nodes = [mpmath.cos(mpmath.pi * (k + half) / N) for k in range(N)]
    fv = [f((b - a) / 2 * u + (b + a) / 2) for u in nodes]
    c = [2 * mpmath.fsum(fv[k] * mpmath.cos(mpmath.pi * j * (k + half) / N) for k in range(N)) / N
         for j in range(N)]
    c[0] /= 2
    # Chebyshev -> monomial in u:  T_0 = 1, T_1 = u, T_{j+1} = 2u T_j - T_{j-1}
    mono = [mpmath.mpf(0)] * N
    prev, cur = [mpmath.mpf(1)], [mpmath.mpf(0), mpmath.mpf(1)]
    for j in range(N):
        if j == 0:
            tj = prev
        elif j == 1:
            tj = cur
        else:
            nxt = [mpmath.mpf(0)] + [2 * q for q in cur]
            for i, q in enumerate(prev):
                nxt[i] -= q
            prev, cur = cur, nxt
            tj = cur
        for i, q in enumerate(tj):
            mono[i] += c[j] * q
    return mono


def _shift_to_v(mono_u, a, b):
    """Monomial coefficients in u = (2v-(a+b))/(b-a) -> monomial in v."""
    s = 2 / (b - a)
    c0 = -(a + b) / (b - a)
    n = len(mono_u)
    out = [mpmath.mpf(0)] * n
    # (s*v + c0)**i expanded binomially
    for i, ci in enumerate(mono_u):
        for j in range(i + 1):
            out[j] += ci * mpmath.binomial(i, j) * s ** j * c0 ** (i - j)
    return out


def _horner(cs, v):
    acc = mpmath.mpf(0)
    for c in reversed(cs):
        acc = acc * v + c
    return acc


def _fit(f, a, b, dtype, target, n_min, n_max, mapped=False):
    """Smallest degree whose interpolant approximates f on [a, b] within
    ``target`` relative error (measured on a fixed dense grid of 401 points).

    mapped=False: coefficients of monomials in v itself; mapped=True: in
    u = (v - c)*s, c = (a+b)/2, s = 2/(b-a) (c and s rounded to the dtype and
    returned too).  Returns (coeffs, max_rel_err, (c, s) or None).
    """
    a, b = mpmath.mpf(a), mpmath.mpf(b)
    grid = [a + (b - a) * i / 400 for i in range(401)]
    truth = [f(v) for v in grid]

    def maxrel(cs, var):
        return max(abs(_horner(cs, var(v)) / t - 1) for v, t in zip(grid, truth))
    for n in range(n_min, n_max + 1):
        if mapped:
            c = _round((a + b) / 2, dtype)
            s = _round(2 / (b - a), dtype)
            # fit exactly in the variable u = (v - c)*s (c, s as rounded)
            a2, b2 = (a - c) * s, (b - c) * s
            mono = _shift_to_v(_cheb_poly(lambda u: f(u / s + c), a2, b2, n), a2, b2)
            extra = (c, s)

            def var(v, c=c, s=s):
                return (v - c) * s
        else:
            mono = _shift_to_v(_cheb_poly(f, a, b, n), a, b)
            extra = None

            def var(v):
                return v
        # the degree is chosen on the exact interpolant; the recorded error
        # is that of the dtype-rounded coefficients
        if maxrel(mono, var) <= target:
            coeffs = tuple(_round(q, dtype) for q in mono)
            err = maxrel([mpmath.mpf(q) for q in coeffs], var)
            return coeffs, float(err), extra
    raise RuntimeError(f"no fit of degree <= {n_max} reaches {target}")


# --------------------------------------------------------------------------
# the pieces
# --------------------------------------------------------------------------

def _exp_parts(dt):
    ln2 = mpmath.log(2)
    hi_bits = {"f64": 32, "f32": 14}[dt]       # k*LN2HI exact for |k| < 2**(p-hi_bits)
    ln2hi = _round_bits(ln2, hi_bits)
    ln2lo = _round(ln2 - mpmath.mpf(ln2hi), dt)
    shifter = _round(mpmath.mpf(3) / 2 * mpmath.mpf(2) ** _MANT[dt], dt)
    rmax = ln2 / 2 * (1 + mpmath.mpf(2) ** -10)   # |r| after rounding slack

    def p_exp(r):                                  # (e^r - 1 - r)/r^2
        if abs(r) < mpmath.mpf(10) ** -30:
            return mpmath.mpf(1) / 2 + r / 6
        with mpmath.extradps(_DPS):
            return (mpmath.expm1(r) - r) / (r * r)
    # P enters exp/expm1 multiplied by r*r (<= 0.121): EPS/4 in P is < 0.02 ulp
    target = EPS[dt] / 4
    coeffs, err, _ = _fit(p_exp, -rmax, rmax, dt, target,
                          {"f64": 8, "f32": 3}[dt], 16)
    maxexp, minexp, mant = _MAXEXP[dt], _MINEXP[dt], _MANT[dt]
    # clamps: beyond them exp overflows to inf / underflows to 0 anyway
    exp_hi = int(mpmath.ceil(maxexp * ln2))                 # 710 / 89
    exp_lo = int(mpmath.floor((minexp - mant - 1) * ln2))   # -746 / -104
    # expm1 == -1 (rounded) below: e^x < eps/4
    expm1_lo = int(mpmath.floor(mpmath.log(mpmath.mpf(2) ** (-mant - 3)))) - 1
    consts = (
        ("INVLN2", _round(1 / ln2, dt)),
        ("LN2HI", ln2hi),
        ("LN2LO", ln2lo),
        ("SHIFTER", shifter),
        ("SHIFTER_BITS", _bits(shifter, dt)),
        ("EXP_BIAS", _BIAS[dt]),
        ("EXP_MANT", mant),
        ("EXP_HI", float(exp_hi)),
        ("EXP_LO", float(exp_lo)),
        ("EXPM1_LO", float(expm1_lo)),
        ("EXPM1_BIG_K", mant + 3),
    )
    return consts, (("P_EXP", coeffs),), (("P_EXP", err),)


def _log_parts(dt):
    sqrt_half = _round(mpmath.sqrt(mpmath.mpf(1) / 2), dt)
    one_bits = _bits(1.0, dt)
    sh_bits = _bits(sqrt_half, dt)
    # m in [sqrt(1/2), sqrt(2)): |s| = |m-1|/(m+1) <= (sqrt2-1)/(sqrt2+1)
    r2 = mpmath.sqrt(2)
    s2max = ((r2 - 1) / (r2 + 1)) ** 2 * (1 + mpmath.mpf(2) ** -8)

    def q_log(z):                                  # (2 atanh(s) - 2s)/s^3, z = s^2
        if z < mpmath.mpf(10) ** -30:
            return mpmath.mpf(2) / 3 + 2 * z / 5
        with mpmath.extradps(_DPS):
            s = mpmath.sqrt(z)
            return (2 * mpmath.atanh(s) - 2 * s) / (s * z)
    coeffs, err, _ = _fit(q_log, mpmath.mpf(0), s2max, dt, EPS[dt] / 64,
                          {"f64": 5, "f32": 2}[dt], 12)
    ln2 = mpmath.log(2)
    hi_bits = {"f64": 32, "f32": 14}[dt]
    ln2hi = _round_bits(ln2, hi_bits)
    subn_shift = _MANT[dt] + 2
    shifter = _round(mpmath.mpf(3) / 2 * mpmath.mpf(2) ** _MANT[dt], dt)
    consts = (
        # int k -> float k as bits(SHIFTER) + k reinterpreted, minus SHIFTER
        # (exact for |k| < 2**(p-2); vectorizes without int64->float convert)
        ("SHIFTER", shifter),
        ("SHIFTER_BITS", _bits(shifter, dt)),
        ("LN2HI", ln2hi),
        ("LN2LO", _round(ln2 - mpmath.mpf(ln2hi), dt)),
        ("LOG_ONE_BITS", one_bits),
        ("LOG_SQRTH_BITS", sh_bits),
        ("LOG_OFFSET", one_bits - sh_bits),
        ("LOG_MANT_MASK", (1 << _MANT[dt]) - 1),
        ("EXP_BIAS", _BIAS[dt]),
        ("EXP_MANT", _MANT[dt]),
        ("MIN_NORMAL", float(mpmath.mpf(2) ** _MINEXP[dt])),
        ("LOG_SUBN_SHIFT", subn_shift),
        ("LOG_SUBN_SCALE", float(mpmath.mpf(2) ** subn_shift)),
    )
    return consts, (("Q_LOG", coeffs),), (("Q_LOG", err),)


def _tanh_parts(dt):
    """Constants of the shared tanh / sech^2 reduction: t = expm1(2a), a = |x|.

    _expm1_mid needs 2a < EXP_HI - 1, so up to TANH_BIG a is used as is;
    above, sech^2 is still a normal or subnormal number, so a is shifted
    down by the integer TANH_SHIFT (a - TANH_SHIFT is exact: same binade)
    and sech^2 is scaled by TANH_SCALE = e^{-2 TANH_SHIFT} (rounded: half an
    ulp more).  a is clamped at TANH_ZERO, where 4 e^{-2a} is below half the
    smallest subnormal (sech^2 rounds to 0 and tanh to +-1)."""
    ln2 = mpmath.log(2)
    exp_hi = int(mpmath.ceil(_MAXEXP[dt] * ln2))
    big = mpmath.floor(mpmath.mpf(exp_hi - 1) / 2) - mpmath.mpf(1) / 2
    tiny = mpmath.mpf(2) ** (_MINEXP[dt] - _MANT[dt])
    zero = mpmath.ceil((mpmath.log(4) - mpmath.log(tiny / 2)) / 2)
    shift = mpmath.ceil(zero - big)
    assert mpmath.floor(mpmath.log(zero - shift, 2)) == mpmath.floor(mpmath.log(zero, 2))
    return (("TANH_BIG", float(big)), ("TANH_ZERO", float(zero)), ("TANH_SHIFT", float(shift)),
            ("TANH_SCALE", _round(mpmath.exp(-2 * shift), dt))), (), ()


def _erf_parts(dt):
    switch = mpmath.mpf(1)           # erf: x*E_ERF(x^2) below, 1 - erfc above
    # erfc: 1 - x*E_ERF(x^2) below cswitch (no cancellation), H above.  float32
    # takes H all the way down to 0 (one more term than from 1/2): erfc then
    # evaluates one polynomial, not two and a select -- it is gelu's normal
    # cdf; float64 would need many more terms near 0 and keeps the switch.
    cswitch = mpmath.mpf(1) / 2 if dt == "f64" else mpmath.mpf(0)
    mant = _MANT[dt]
    # erfc(zmax) rounds to 0 (f64: erfc > 0 up to ~27.3; f32: ~10.05); fit H up to zmax
    zmax = {"f64": mpmath.mpf("27.5"), "f32": mpmath.mpf("10.5")}[dt]
    p = mpmath.mpf(3)

    def e_erf(w):                                  # erf(sqrt w)/sqrt w
        if w < mpmath.mpf(10) ** -30:
            return 2 / mpmath.sqrt(mpmath.pi) * (1 - w / 3)
        s = mpmath.sqrt(w)
        return mpmath.erf(s) / s
    ecoef, eerr, _ = _fit(e_erf, mpmath.mpf(0), switch ** 2, dt, EPS[dt] / 64,
                          {"f64": 9, "f32": 4}[dt], 20)

    def h_erfc(t):                                 # erfc(z) e^{z^2} / t, z = p/t - p
        z = p / t - p
        return mpmath.erfc(z) * mpmath.exp(z * z) / t
    tmin, tmax = p / (p + zmax), p / (p + cswitch)
    hcoef, herr, (tc, ts) = _fit(h_erfc, tmin, tmax, dt, EPS[dt] / 64,
                                 {"f64": 16, "f32": 6}[dt], 30, mapped=True)
    split_bits = (mant + 1) // 2                   # zh keeps ceil(p/2) bits: zh*zh exact
    low = mant + 1 - split_bits
    consts = (
        ("ERF_SWITCH", float(switch)),
        ("ERFC_SWITCH", float(cswitch)),
        ("ERFC_ZMAX", float(zmax)),
        ("ERFC_P", float(p)),
        ("ERFC_TC", tc),
        ("ERFC_TS", ts),
        ("ERFC_SPLIT_MASK", -(1 << low)),          # clears the low bits of z
    )
    return consts, (("E_ERF", ecoef), ("H_ERFC", hcoef)), (("E_ERF", eerr), ("H_ERFC", herr))


def _atan_parts(dt):
    """atan: a = |x| reduced to |t| <= tan(pi/8) by t = a, (a-1)/(a+1) or
    -1/a (one division: numerator and denominator selected), plus pi/4 or
    pi/2 split hi + lo; atan(t) = t + t w P_ATAN(w), w = t^2."""
    tp8 = mpmath.sqrt(2) - 1                        # tan(pi/8)
    t3p8 = mpmath.sqrt(2) + 1                       # tan(3 pi/8)

    def p_atan(w):                                 # (atan(sqrt w) - sqrt w) / w^(3/2)
        if w < mpmath.mpf(10) ** -30:
            return -mpmath.mpf(1) / 3 + w / 5
        r = mpmath.sqrt(w)
        return (mpmath.atan(r) - r) / (w * r)
    # the fit's error is relative to the t w P term, which is <= w/3 <= 0.06 of atan(t)
    coeffs, err, _ = _fit(p_atan, mpmath.mpf(0), tp8 ** 2 * (1 + mpmath.mpf(2) ** -20), dt,
                          EPS[dt] / 4, {"f64": 8, "f32": 3}[dt], 24)
    pio2, pio4 = mpmath.pi / 2, mpmath.pi / 4
    consts = (
        ("ATAN_TP8", _round(tp8, dt)),
        ("ATAN_T3P8", _round(t3p8, dt)),
        ("PIO2_HI", _round(pio2, dt)), ("PIO2_LO", _round(pio2 - mpmath.mpf(_round(pio2, dt)), dt)),
        ("PIO4_HI", _round(pio4, dt)), ("PIO4_LO", _round(pio4 - mpmath.mpf(_round(pio4, dt)), dt)),
    )
    return consts, (("P_ATAN", coeffs),), (("P_ATAN", err),)


def _trig_parts(dt):
    """sin, cos: x = k pi/2 + r, reduced in float64 for both dtypes by a
    four-part Cody-Waite reduction: PIO2_1..3 have 33 bits, so k*PIO2_i is
    exact for |k| < 2**20, and each subtraction is exact or leaves a result
    large against the later terms; the absolute error of r is below 2**-125.

    Range: |x| <= TRIG_MAX, and |r| >= TRIG_RMIN = 2**-62 unless k = 0 (a
    closer approach to a nonzero multiple of pi/2 would lose r's relative
    accuracy; no double is known to come that close -- the closest over all
    doubles is about 2**-61).  Elsewhere the vector path returns nan as a
    "not reduced" mark, and the kernels that use sin/cos recompute those
    elements with libm.  float32 converts r to float32 after the reduction."""
    pio2 = mpmath.pi / 2
    p1 = _round_bits(pio2, 33)
    p2 = _round_bits(pio2 - mpmath.mpf(p1), 33)
    p3 = _round_bits(pio2 - mpmath.mpf(p1) - mpmath.mpf(p2), 33)
    p4 = _round(pio2 - mpmath.mpf(p1) - mpmath.mpf(p2) - mpmath.mpf(p3), "f64")
    rmax = mpmath.pi / 4 * (1 + mpmath.mpf(2) ** -16)

    def s_sin(w):                                  # (sin r - r) / r^3, w = r^2
        if w < mpmath.mpf(10) ** -30:
            return -mpmath.mpf(1) / 6 + w / 120
        r = mpmath.sqrt(w)
        return (mpmath.sin(r) - r) / (w * r)

    def c_cos(w):                                  # (cos r - 1 + r^2/2) / r^4
        if w < mpmath.mpf(10) ** -30:
            return mpmath.mpf(1) / 24 - w / 720
        return (mpmath.cos(mpmath.sqrt(w)) - 1 + w / 2) / (w * w)
    scoef, serr, _ = _fit(s_sin, mpmath.mpf(0), rmax ** 2, dt, EPS[dt] / 8,
                          {"f64": 5, "f32": 2}[dt], 20)
    ccoef, cerr, _ = _fit(c_cos, mpmath.mpf(0), rmax ** 2, dt, EPS[dt] / 8,
                          {"f64": 5, "f32": 2}[dt], 20)
    consts = (("TRIG_MAX", float(mpmath.mpf(2) ** 19 * 3 / 2)), ("TRIG_RMIN", float(mpmath.mpf(2) ** -62)))
    if dt == "f64":  # the reduction (float32 calls the float64 one)
        consts += (("INV_PIO2", _round(1 / pio2, dt)),
                   ("PIO2_1", p1), ("PIO2_2", p2), ("PIO2_3", p3), ("PIO2_4", p4))
    return consts, (("S_SIN", scoef), ("C_COS", ccoef)), (("S_SIN", serr), ("C_COS", cerr))


# Claimed bounds, proven by tests/test_elementary.py against mpmath:
#   name: {dtype: max relative error in units of EPS[dtype]}
# The relative bound holds for every x in the domain whose true result is a
# normal number; results beyond the largest finite number are +-inf.  Where
# the true result is below the smallest normal number the result is rounded
# to the subnormal grid once, so the absolute error is at most
# rel_bound * MIN_NORMAL + tiny/2 = (max_ulp + 1/2) * tiny  (tiny = smallest
# subnormal); the recorded ``subnormal_abs`` is (max_ulp + 1) * tiny.
_CLAIMS = {
    "exp": {"f64": 2.0, "f32": 2.0},
    "expm1": {"f64": 2.0, "f32": 2.0},
    "log": {"f64": 2.0, "f32": 2.0},
    "log1p": {"f64": 2.0, "f32": 2.0},
    "tanh": {"f64": 4.0, "f32": 4.0},
    "sech2": {"f64": 4.0, "f32": 4.0},
    "erf": {"f64": 8.0, "f32": 8.0},
    "erfc": {"f64": 8.0, "f32": 8.0},
    "expmsq": {"f64": 4.0, "f32": 4.0},
    "atan": {"f64": 2.0, "f32": 2.0},
    "sin": {"f64": 2.0, "f32": 2.0},
    "cos": {"f64": 2.0, "f32": 2.0},
}
_USES = {
    "exp": ("exp",), "expm1": ("exp",), "log": ("log",), "log1p": ("log",),
    "tanh": ("exp", "tanh"), "sech2": ("exp", "tanh"), "erf": ("exp", "erf"), "erfc": ("exp", "erf"),
    "expmsq": ("exp", "erf"), "atan": ("atan",),
    "sin": ("exp", "trig"), "cos": ("exp", "trig"),
}
_METHOD = {
    "exp": "Cody-Waite k=round(x/ln2); expm1(r)=r+r^2 P_EXP(r); (1+expm1(r)) 2^k1 2^k2",
    "expm1": "Cody-Waite; 2^k expm1(r) + (2^k - 1); large k: (1+expm1(r)) 2^k1 2^k2",
    "log": "x=2^k m, m in [sqrt(1/2), sqrt 2); s=f/(2+f); log(1+f)=f-(hf-s(hf+s^2 Q_LOG(s^2)))",
    "log1p": "u=1+x, log(u) as log, plus (x-(u-1))/u rounding correction",
    "tanh": "t=expm1(2|x|) (shifted above TANH_BIG), q=1/(t+2), sign(x) (t q or 1-2q)",
    "sech2": "t=expm1(2|x|) as tanh (shared when both are used), 4q (t+1)q, q=1/(t+2), scaled",
    "erf": "|x|<ERF_SWITCH: x E_ERF(x^2); else 1 - t H_ERFC(u) exp(-x^2) with split exponent",
    "erfc": "|x|<ERFC_SWITCH: 1 - x E_ERF(x^2); else t H_ERFC(u) exp(-x^2); erfc(-z)=2-erfc(z)",
    "expmsq": "exp(-x^2) with x split as in erfc's tail (the exponent is exact)",
    "atan": "t = a, (a-1)/(a+1) or -1/a (|t| <= tan pi/8); {0, pi/4, pi/2} + t + t w P_ATAN(w)",
    "sin": "x = k pi/2 + r (4-part Cody-Waite in f64, |x| <= TRIG_MAX); r + r w S_SIN(w) or cos(r) by k mod 4; "
           "nan outside the reduced range (kernels recompute with libm)",
    "cos": "as sin; cos(r) = v + ((1 - v) - w/2 + w^2 C_COS(w)), v = 1 - w/2",
}


def _domain(name, dt):
    big = float(np.finfo(np.float64 if dt == "f64" else np.float32).max)
    return {
        "exp": (-big, big), "expm1": (-big, big), "log": (0.0, big),
        "log1p": (-1.0, big), "tanh": (-big, big), "sech2": (-big, big), "erf": (-big, big),
        "erfc": (-big, big), "expmsq": (-big, big), "atan": (-big, big),
        "sin": (-big, big), "cos": (-big, big),
    }[name]


def build_approximations() -> dict:
    """Compute every approximation from scratch: {(name, dtype): Approximation}."""
    out = {}
    with mpmath.workdps(_DPS):
        for dt in DTYPES:
            parts = {"exp": _exp_parts(dt), "log": _log_parts(dt),
                     "tanh": _tanh_parts(dt), "erf": _erf_parts(dt), "atan": _atan_parts(dt),
                     "trig": _trig_parts(dt)}
            tiny = float(mpmath.mpf(2) ** (_MINEXP[dt] - _MANT[dt]))
            for name in FUNCTIONS:
                consts, polys, errs = (), (), ()
                for part in _USES[name]:
                    c, p, e = parts[part]
                    consts += c
                    polys += p
                    errs += e
                ulps = _CLAIMS[name]
                out[(name, dt)] = Approximation(
                    name=name, dtype=dt, method=_METHOD[name],
                    constants=consts, polys=polys, fit_errors=errs,
                    max_ulp=ulps[dt], domain=_domain(name, dt),
                    subnormal_abs=(ulps[dt] + 1.0) * tiny)
    return out


@functools.lru_cache(maxsize=None)
def _cached():
    return build_approximations()


def approximations() -> dict:
    """All approximations, computed once per process."""
    return dict(_cached())


def get(name: str, dtype: str) -> Approximation:
    return _cached()[(name, dtype)]
