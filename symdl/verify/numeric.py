"""High-precision evaluation of SymPy expressions with mpmath, and the sampler.

Expressions are compiled into nested Python closures over mpmath (no ``eval``,
no ``lambdify``).  A value that is complex, infinite or NaN raises
``Undefined``; every Piecewise records which branch it took, so the checker
can report which regions were sampled.
"""
from __future__ import annotations

import random
from fractions import Fraction

import mpmath
import sympy as sp


#: |log| of the largest magnitude evaluated; beyond it a value counts as overflowed
#: (float64 overflows at e^709; this keeps mpmath away from astronomically large numbers)
EXP_LIMIT = 100_000


class Undefined(Exception):
    """The expression has no finite real value at this point."""


class Underflow(Undefined):
    """A value below e^-100000: not compared (both sides may be 'zero' only by underflow)."""


def _too_big(log_mag):
    """Raise for a value whose natural log is ``log_mag`` beyond the evaluation range."""
    if log_mag > EXP_LIMIT:
        raise Undefined("overflow")
    if log_mag < -EXP_LIMIT:
        raise Underflow("underflow")


def _real(v):
    if isinstance(v, mpmath.mpc):
        if v.imag != 0:
            raise Undefined("complex")
        v = v.real
    if isinstance(v, bool):
        return v
    if not mpmath.isfinite(v):
        raise Undefined("not finite")
    return v


class Compiler:
    """Compile expressions; ``hits[(pw_id, branch)]`` counts Piecewise branches."""

    def __init__(self, track: bool = False):
        self.track = track
        self.maxmag = mpmath.mpf(0)   # largest |addend| seen (cancellation estimate)
        self.hits: dict = {}
        self.pieces: dict = {}  # pw_id -> list of condition strings

    def compile(self, expr):
        if not isinstance(expr, sp.Basic):
            raise TypeError("expected a SymPy expression")
        return self._c(expr)

    def _c(self, e):  # noqa: C901 - a dispatch table
        if e.is_Integer:
            iv = int(e)
            return lambda env: mpmath.mpf(iv)
        if e.is_Rational:
            p, q = int(e.p), int(e.q)
            return lambda env: mpmath.mpf(p) / q
        if e.is_Float:
            f = e
            return lambda env: mpmath.mpf(f._mpf_)
        if e is sp.E:
            return lambda env: mpmath.e
        if e is sp.pi:
            return lambda env: mpmath.pi
        if e is sp.EulerGamma:
            return lambda env: mpmath.euler
        if e in (sp.oo, -sp.oo, sp.zoo, sp.nan):
            def und(env):
                raise Undefined("infinite")
            return und
        if e.is_Symbol:
            return lambda env, e=e: env[e]
        if e is sp.true or e is sp.S.true:
            return lambda env: True
        if e is sp.false or e is sp.S.false:
            return lambda env: False
        if isinstance(e, sp.Add):
            fs = [self._c(a) for a in e.args]
            if not self.track:
                return lambda env: _real(mpmath.fsum(f(env) for f in fs))

            def add(env):
                vals = [f(env) for f in fs]
                m = max(abs(v) for v in vals)
                if m > self.maxmag:
                    self.maxmag = m
                return _real(mpmath.fsum(vals))
            return add
        if isinstance(e, sp.Mul):
            fs = [self._c(a) for a in e.args]

            def mul(env):
                r = mpmath.mpf(1)
                for f in fs:
                    r = r * f(env)
                return _real(r)
            return mul
        if isinstance(e, sp.Pow):
            fb, fe = self._c(e.base), self._c(e.exp)
            ex = e.exp
            if ex.is_Integer:
                n = int(ex)

                def ipow(env):
                    b = fb(env)
                    if b == 0 and n < 0:
                        raise Undefined("division by zero")
                    if b != 0:
                        _too_big(n * mpmath.log(abs(b)))
                    return _real(b ** n)
                return ipow

            def pw(env):
                b, x = fb(env), fe(env)
                if b < 0:
                    if x == mpmath.floor(x) and abs(x) <= 10000:
                        _too_big(x * mpmath.log(-b))
                        if b == 0 and x < 0:
                            raise Undefined("division by zero")
                        return _real(b ** int(x))
                    raise Undefined("negative base")
                if b == 0:
                    if x > 0:
                        return mpmath.mpf(0)
                    raise Undefined("0 to a non-positive power")
                _too_big(x * mpmath.log(b))
                return _real(mpmath.power(b, x))
            return pw
        if isinstance(e, sp.Piecewise):
            pid = len(self.pieces)
            self.pieces[pid] = [str(c) for _, c in e.args]
            branches = [(self._c(v), self._c(c)) for v, c in e.args]

            def piecewise(env):
                for i, (fv, fc) in enumerate(branches):
                    if fc(env):
                        self.hits[(pid, i)] = self.hits.get((pid, i), 0) + 1
                        return fv(env)
                raise Undefined("no case applies")
            return piecewise
        if isinstance(e, sp.core.relational.Relational):
            fl, fr = self._c(e.lhs), self._c(e.rhs)
            op = {sp.StrictLessThan: lambda a, b: a < b, sp.LessThan: lambda a, b: a <= b,
                  sp.StrictGreaterThan: lambda a, b: a > b, sp.GreaterThan: lambda a, b: a >= b,
                  sp.Equality: lambda a, b: a == b, sp.Unequality: lambda a, b: a != b}.get(type(e))
            if op is None:
                return self._fallback(e)
            return lambda env: op(fl(env), fr(env))
        if isinstance(e, sp.And):
            fs = [self._c(a) for a in e.args]
            return lambda env: all(f(env) for f in fs)
        if isinstance(e, sp.Or):
            fs = [self._c(a) for a in e.args]
            return lambda env: any(f(env) for f in fs)
        if isinstance(e, sp.Not):
            f = self._c(e.args[0])
            return lambda env: not f(env)
        if isinstance(e, sp.Function) and len(e.args) >= 1:
            return self._func(e)
        return self._fallback(e)

    def _func(self, e):
        fs = [self._c(a) for a in e.args]
        f0 = fs[0]
        name = type(e).__name__

        def dom(check, fn, why):
            def g(env):
                u = f0(env)
                if not check(u):
                    raise Undefined(why)
                return _real(fn(u))
            return g

        if name in ("exp", "sinh", "cosh"):
            fn = getattr(mpmath, name)

            def expo(env):
                u = f0(env)
                if abs(u) > EXP_LIMIT:
                    _too_big(u if name == "exp" else abs(u))
                return _real(fn(u))
            return expo
        simple = {"exp": mpmath.exp, "sin": mpmath.sin, "cos": mpmath.cos, "tanh": mpmath.tanh,
                  "sinh": mpmath.sinh, "cosh": mpmath.cosh, "sech": mpmath.sech,
                  "atan": mpmath.atan, "erf": mpmath.erf, "erfc": mpmath.erfc,
                  "Abs": abs, "tan": mpmath.tan}
        if name in simple:
            fn = simple[name]
            return lambda env: _real(fn(f0(env)))
        if name == "log":
            if len(fs) == 2:
                fb = fs[1]

                def logb(env):
                    u, b = f0(env), fb(env)
                    if u <= 0 or b <= 0 or b == 1:
                        raise Undefined("log domain")
                    return _real(mpmath.log(u) / mpmath.log(b))
                return logb
            return dom(lambda u: u > 0, mpmath.log, "log of a non-positive number")
        if name == "asin":
            return dom(lambda u: -1 <= u <= 1, mpmath.asin, "asin domain")
        if name == "acos":
            return dom(lambda u: -1 <= u <= 1, mpmath.acos, "acos domain")
        if name == "csch":
            return dom(lambda u: u != 0, mpmath.csch, "csch(0)")
        if name == "coth":
            return dom(lambda u: u != 0, mpmath.coth, "coth(0)")
        if name == "sign":
            return lambda env: mpmath.mpf(mpmath.sign(f0(env)))
        if name == "Heaviside":
            h0 = self._c(e.args[1]) if len(e.args) > 1 else None

            def hv(env):
                u = f0(env)
                if u > 0:
                    return mpmath.mpf(1)
                if u < 0:
                    return mpmath.mpf(0)
                if h0 is None:
                    raise Undefined("Heaviside(0)")
                return h0(env)
            return hv
        if name in ("Max", "Min"):
            pick = max if name == "Max" else min
            return lambda env: pick(f(env) for f in fs)
        if name == "DiracDelta":
            def dd(env):
                if f0(env) == 0:
                    raise Undefined("DiracDelta(0)")
                return mpmath.mpf(0)
            return dd
        return self._fallback(e)

    def _fallback(self, e):
        syms = sorted(e.free_symbols, key=str)

        def fb(env):
            with mpmath.workprec(mpmath.mp.prec):
                subs = {s: sp.Float(env[s], mpmath.mp.dps) for s in syms}
                v = e.xreplace(subs).evalf(mpmath.mp.dps)
            if v is sp.true or v is sp.false:
                return bool(v)
            if not v.is_number or not v.is_real or not v.is_finite:
                raise Undefined("no real value")
            return mpmath.mpf(sp.Float(v, mpmath.mp.dps)._mpf_)
        return fb


# ---- the sampler ------------------------------------------------------------------
MAGNITUDES = [Fraction(0), Fraction(1, 10**6), Fraction(1, 1000), Fraction(1, 10), Fraction(1, 2),
              Fraction(1), Fraction(3, 2), Fraction(2), Fraction(37, 10), Fraction(10),
              Fraction(50), Fraction(200)]


class Domain:
    """Where a variable is sampled: sign restrictions, bounds, integrality."""

    def __init__(self, sym, words=(), bounds=None):
        self.sym = sym
        a = sym.assumptions0
        self.integer = bool(a.get("integer"))
        self.lo = None
        self.hi = None
        self.lo_strict = self.hi_strict = False
        if a.get("positive"):
            self.lo, self.lo_strict = Fraction(0), True
        elif a.get("nonnegative"):
            self.lo = Fraction(0)
        if a.get("negative"):
            self.hi, self.hi_strict = Fraction(0), True
        elif a.get("nonpositive"):
            self.hi = Fraction(0)
        self.nonzero = bool(a.get("nonzero"))
        for w in words:
            if w == "positive":
                self.lo, self.lo_strict = Fraction(0), True
            elif w == "nonzero":
                self.nonzero = True
        if bounds:
            lo, los, hi, his = bounds
            if lo is not None:
                lo = Fraction(int(lo.p), int(lo.q))
                if self.lo is None or lo >= self.lo:
                    self.lo, self.lo_strict = lo, los
            if hi is not None:
                hi = Fraction(int(hi.p), int(hi.q))
                if self.hi is None or hi <= self.hi:
                    self.hi, self.hi_strict = hi, his

    def ok(self, v: Fraction) -> bool:
        if self.integer and v.denominator != 1:
            return False
        if self.lo is not None and (v < self.lo or (self.lo_strict and v == self.lo)):
            return False
        if self.hi is not None and (v > self.hi or (self.hi_strict and v == self.hi)):
            return False
        if self.nonzero and v == 0:
            return False
        return True

    def candidates(self, extra=()) -> list:
        vals = []
        if self.integer:
            base = [Fraction(i) for i in (0, 1, 2, 3, 5, 7, 10, 25, 100)]
        else:
            base = MAGNITUDES
        for m in base:
            vals += [m, -m]
        if self.lo is not None and self.hi is not None:
            w = self.hi - self.lo
            for t in (Fraction(1, 10**6), Fraction(1, 1000), Fraction(1, 10), Fraction(1, 3),
                      Fraction(1, 2), Fraction(9, 10), Fraction(999, 1000), Fraction(1 - Fraction(1, 10**6))):
                vals.append(self.lo + w * t)
            vals += [self.lo, self.hi]
        elif self.lo is not None:
            vals += [self.lo + m for m in MAGNITUDES]
        elif self.hi is not None:
            vals += [self.hi - m for m in MAGNITUDES]
        vals += list(extra)
        out = []
        for v in vals:
            if self.integer:
                v = Fraction(round(v))
            if self.ok(v) and v not in out:
                out.append(v)
        return out

    def random(self, rng: random.Random) -> Fraction:
        for _ in range(100):
            if self.integer:
                v = Fraction(rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 11, 17, 30, 64]) * rng.choice([1, -1]))
            elif self.lo is not None and self.hi is not None:
                v = self.lo + (self.hi - self.lo) * Fraction(rng.randint(1, 10**6 - 1), 10**6)
            else:
                mag = 10 ** rng.uniform(-3, 2)
                v = Fraction(round(mag * 10**9), 10**9) * rng.choice([1, -1])
                if self.lo is not None:
                    v = self.lo + abs(v)
                elif self.hi is not None:
                    v = self.hi - abs(v)
            if self.ok(v):
                return v
        cands = self.candidates()
        return rng.choice(cands) if cands else Fraction(1)


def sample_points(domains: list, kinks: dict, n_random: int = 120, seed: int = 1234,
                  max_points: int = 400) -> list:
    """Points as dicts {Symbol: Fraction}: structured axes, kinks, random."""
    rng = random.Random(seed)
    pts = []
    if not domains:
        return [{}]
    kink_vals = {}
    for d in domains:
        ex = []
        for k in kinks.get(d.sym, []):
            if k.is_number and k.is_real:
                try:
                    kv = Fraction(int(k.p), int(k.q)) if k.is_Rational else Fraction(float(k))
                except Exception:
                    continue
                for delta in (Fraction(0), Fraction(1, 10**6), Fraction(1, 10), Fraction(1, 2)):
                    ex += [kv + delta, kv - delta]
        kink_vals[d.sym] = ex
    cand = {d.sym: d.candidates(kink_vals[d.sym]) for d in domains}
    if len(domains) == 1:
        d = domains[0]
        pts = [{d.sym: v} for v in cand[d.sym]]
    else:
        for d in domains:  # each variable over its candidates, others random
            for v in cand[d.sym]:
                p = {o.sym: o.random(rng) for o in domains}
                p[d.sym] = v
                pts.append(p)
    for _ in range(n_random):
        pts.append({d.sym: d.random(rng) for d in domains})
    if len(pts) > max_points:
        keep = pts[: max_points // 2]
        rest = pts[max_points // 2:]
        rng.shuffle(rest)
        pts = keep + rest[: max_points - len(keep)]
    return pts


def to_mpf(v: Fraction):
    return mpmath.mpf(v.numerator) / v.denominator


def fmt(v, digits: int = 12) -> str:
    if isinstance(v, Fraction):
        if v.denominator == 1:
            return str(v.numerator)
        return mpmath.nstr(to_mpf(v), digits)
    return mpmath.nstr(v, digits)
