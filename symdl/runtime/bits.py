"""Bit casts between floats and same-width integers, for Numba and for Python.

``f64_to_bits`` / ``bits_to_f64`` (float64 <-> int64) and ``f32_to_bits`` /
``bits_to_f32`` (float32 <-> int32) reinterpret the bits of a value; they do
no arithmetic.  In ``@njit`` code they compile to a single LLVM ``bitcast``
(through ``@intrinsic``), which vectorizes; called from plain Python (e.g. a
generated kernel's ``.py_func`` under coverage) they use ``struct``.

Two more hardware-level primitives live here because generated code needs
them and they are not maths either: ``fma(a, b, c)`` (one ``llvm.fma`` when the
target CPU has FMA, else ``a*b + c``) and ``always_inline()`` (marks the
calling ``@njit`` function ``alwaysinline`` for LLVM so that callers' loops
inline and vectorize it).

``bits_to_f64`` accepts any integer (it is truncated/extended to 64 bits);
``bits_to_f32`` accepts any integer and keeps the low 32 bits, so integer
arithmetic that Numba widened to int64 can be passed straight in.
"""
from __future__ import annotations

import struct

import numpy as np
from llvmlite import ir
from numba import types
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload

__all__ = ["f64_to_bits", "bits_to_f64", "f32_to_bits", "bits_to_f32", "fma", "HAS_FMA",
           "always_inline", "prefer_wide_vectors", "add_reassoc"]

_M64 = (1 << 64) - 1
_M32 = (1 << 32) - 1


# --------------------------------------------------------------------------
# Pure-Python versions (what ``.py_func`` and plain Python calls run)
# --------------------------------------------------------------------------

def f64_to_bits(x):
    """The IEEE-754 bits of float64 ``x`` as a signed 64-bit integer.

    (A Python int in plain Python, so that following integer arithmetic does
    not wrap or warn; ``bits_to_*`` take the value modulo 2**width, which is
    what Numba's int64 arithmetic computes.)"""
    return struct.unpack("<q", struct.pack("<d", float(x)))[0]


def bits_to_f64(i):
    """The float64 whose bits are the low 64 bits of integer ``i``."""
    return np.float64(struct.unpack("<d", struct.pack("<Q", int(i) & _M64))[0])


def f32_to_bits(x):
    """The IEEE-754 bits of float32 ``x`` as a signed 32-bit integer."""
    return struct.unpack("<i", np.float32(x).tobytes())[0]


def bits_to_f32(i):
    """The float32 whose bits are the low 32 bits of integer ``i``."""
    return np.frombuffer(struct.pack("<I", int(i) & _M32), dtype="<f4")[0]


# --------------------------------------------------------------------------
# Numba intrinsics (one bitcast each, plus an integer width adjustment)
# --------------------------------------------------------------------------

def _to_bits_intrinsic(ftype, width: int, name: str):
    """A float -> same-width signed integer bitcast intrinsic."""
    itype = types.int64 if width == 64 else types.int32

    @intrinsic
    def to_bits(typingctx, x):
        if x != ftype:
            raise TypingError(f"{name} expects {ftype}")

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.IntType(width))
        return itype(ftype), codegen
    return to_bits


def _from_bits_intrinsic(ftype, width: int, irfloat, name: str):
    """An integer -> float bitcast intrinsic (the integer is sign/zero
    extended or truncated to the float's width first)."""

    @intrinsic
    def from_bits(typingctx, i):
        if not isinstance(i, types.Integer):
            raise TypingError(f"{name} expects an integer")

        def codegen(context, builder, signature, args):
            v, ity = args[0], signature.args[0]
            if ity.bitwidth > width:
                v = builder.trunc(v, ir.IntType(width))
            elif ity.bitwidth < width:
                v = (builder.sext if ity.signed else builder.zext)(v, ir.IntType(width))
            return builder.bitcast(v, irfloat)
        return ftype(i), codegen
    return from_bits


_f64_to_bits = _to_bits_intrinsic(types.float64, 64, "f64_to_bits")
_bits_to_f64 = _from_bits_intrinsic(types.float64, 64, ir.DoubleType(), "bits_to_f64")
_f32_to_bits = _to_bits_intrinsic(types.float32, 32, "f32_to_bits")
_bits_to_f32 = _from_bits_intrinsic(types.float32, 32, ir.FloatType(), "bits_to_f32")


@overload(f64_to_bits)
def _ol_f64_to_bits(x):
    if x == types.float64:
        return lambda x: _f64_to_bits(x)


@overload(bits_to_f64)
def _ol_bits_to_f64(i):
    if isinstance(i, types.Integer):
        return lambda i: _bits_to_f64(i)


@overload(f32_to_bits)
def _ol_f32_to_bits(x):
    if x == types.float32:
        return lambda x: _f32_to_bits(x)


@overload(bits_to_f32)
def _ol_bits_to_f32(i):
    if isinstance(i, types.Integer):
        return lambda i: _bits_to_f32(i)


# --------------------------------------------------------------------------
# Inlining hint
# --------------------------------------------------------------------------

def always_inline():
    """Mark the calling ``@njit`` function ``alwaysinline`` for LLVM.

    Call it as the first statement of a small scalar function that must be
    inlined into its callers' loops (so that those loops can vectorize even
    when the function is larger than LLVM's inlining threshold).  It emits no
    code.  In plain Python it does nothing.
    """
    return None


@intrinsic
def _always_inline(typingctx):
    sig = types.none()

    def codegen(context, builder, signature, args):
        attrs = builder.function.attributes
        if "noinline" in attrs:  # pragma: no cover - Numba does not set it
            attrs.remove("noinline")
        attrs.add("alwaysinline")
        return context.get_dummy_value()
    return sig, codegen


@overload(always_inline, inline="always")
def _ol_always_inline():
    return lambda: _always_inline()


def prefer_wide_vectors():
    """Let LLVM vectorize the calling function's loops with the CPU's widest
    registers (512-bit on AVX-512 CPUs).

    LLVM's tuning for Intel server CPUs prefers 256-bit vectors even where
    AVX-512 exists (``prefer-256-bit``), which halves the throughput of the
    polynomial elementary functions.  This sets the per-function LLVM
    attribute ``"prefer-vector-width"="512"``, which overrides that tuning for
    this function only -- unlike ``NUMBA_CPU_FEATURES``, it changes nothing
    else in the user's process.  On CPUs without AVX-512 LLVM clamps to the
    widest legal vector, so it is harmless there.  Call it inside the loop
    body of a kernel (for a ``prange`` loop the body is outlined into its own
    function, which is the one that must carry the attribute).  It emits no
    code; in plain Python it does nothing.
    """
    return None


#: LLVM string attribute; llvmlite's AttributeSet only admits its known
#: keyword attributes, so it is added to the underlying set (it renders
#: verbatim in the ``define`` line, which LLVM IR allows).
_WIDE_ATTR = '"prefer-vector-width"="512"'


@intrinsic
def _prefer_wide_vectors(typingctx):
    sig = types.none()

    def codegen(context, builder, signature, args):
        set.add(builder.function.attributes, _WIDE_ATTR)
        return context.get_dummy_value()
    return sig, codegen


@overload(prefer_wide_vectors, inline="always")
def _ol_prefer_wide_vectors():
    return lambda: _prefer_wide_vectors()


# --------------------------------------------------------------------------
# Fused multiply-add (one rounding), when the target CPU has it
# --------------------------------------------------------------------------

def _target_has_fma() -> bool:
    """Whether Numba's target CPU has hardware FMA (host unless overridden)."""
    from numba.core import config
    import llvmlite.binding as llb
    if config.CPU_FEATURES is not None:
        feats = config.CPU_FEATURES
    elif config.CPU_NAME in (None, "host"):
        feats = llb.get_host_cpu_features().flatten()
    else:  # a named generic target: assume nothing
        feats = ""
    return "+fma" in feats.split(",")


#: True when ``fma`` compiles to a fused multiply-add instruction; otherwise
#: it is ``a*b + c`` with two roundings (never a libm call, which would not
#: vectorize).  The pure-Python ``fma`` follows the same choice, so the
#: ``py_func`` path of generated code gives the same bits as the compiled one.
HAS_FMA = _target_has_fma()


def _round_to_f32(q):
    """Fraction -> nearest float32 (ties to even), via round-to-odd double."""
    from fractions import Fraction
    d = float(q)
    if Fraction(d) != q:
        if abs(Fraction(d)) > abs(q):
            d = float(np.nextafter(d, 0.0))
        d = struct.unpack("<d", struct.pack("<q", struct.unpack("<q", struct.pack("<d", d))[0] | 1))[0]
    return np.float32(d)


def fma(a, b, c):
    """a*b + c rounded once (if ``HAS_FMA``), in the dtype of ``a``."""
    from fractions import Fraction
    is32 = isinstance(a, np.float32)
    t = np.float32 if is32 else np.float64
    a, b, c = t(a), t(b), t(c)
    if not HAS_FMA:
        return t(a * b + c)
    if not (np.isfinite(a) and np.isfinite(b) and np.isfinite(c)):
        with np.errstate(all="ignore"):
            return t(a * b + c)
    q = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    if q == 0:  # exact zero: sign as IEEE (a*b + c with round-to-nearest)
        with np.errstate(all="ignore"):
            return t(a * b + c)
    try:
        with np.errstate(over="ignore"):
            return _round_to_f32(q) if is32 else np.float64(float(q))
    except OverflowError:
        return t(np.inf if q > 0 else -np.inf)


@intrinsic
def _fma(typingctx, a, b, c):
    if not (isinstance(a, types.Float) and a == b == c):
        raise TypingError("fma expects three floats of one type")
    sig = a(a, a, a)
    use = HAS_FMA

    def codegen(context, builder, signature, args):
        x, y, z = args
        if use:
            return builder.fma(x, y, z)
        return builder.fadd(builder.fmul(x, y), z)
    return sig, codegen


@overload(fma)
def _ol_fma(a, b, c):
    if isinstance(a, types.Float) and a == b == c:
        return lambda a, b, c: _fma(a, b, c)


# --------------------------------------------------------------------------
# A sum the loop vectorizer may reorder
# --------------------------------------------------------------------------

def add_reassoc(s, v):
    """``s + v`` that LLVM may reassociate: one ``fadd reassoc``, in float64
    (two float64) or in float32 (two float32).

    Accumulating ``s = add_reassoc(s, v)`` in a loop lets LLVM split the sum
    over vector lanes (a different summation order; every partial sum still
    in the accumulator's dtype, inf and nan still IEEE: no other fast-math
    flag is set), so a kernel can reduce in the same vectorized pass that
    writes its outputs -- an ordinary ``s += v`` is a serial dependency chain
    that keeps the whole loop scalar.  Mixed dtypes are a typing error (a
    float32 accumulator is never silently widened).  In plain Python it is
    ``s + v`` in float32 when both are ``np.float32``, else in float64."""
    if isinstance(s, np.float32) and isinstance(v, np.float32):
        return np.float32(s + v)
    return np.float64(s) + np.float64(v)


_REASSOC_TYPES = (types.float64, types.float32)


@intrinsic
def _add_reassoc(typingctx, s, v):
    if not (s in _REASSOC_TYPES and v == s):
        raise TypingError("add_reassoc expects two float64 or two float32")
    sig = s(s, s)

    def codegen(context, builder, signature, args):
        return builder.fadd(args[0], args[1], flags=("reassoc",))
    return sig, codegen


@overload(add_reassoc)
def _ol_add_reassoc(s, v):
    if s in _REASSOC_TYPES and v == s:
        return lambda s, v: _add_reassoc(s, v)
