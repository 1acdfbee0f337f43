"""A ``cases`` block must cover the domain, and where two cases overlap they must agree.

SymPy's Piecewise takes the first case whose condition holds, so a gap (no case
applies) or a contradiction (two cases apply with different values) would
otherwise pass unseen.  Conditions in one variable are analysed exactly with
SymPy sets over the variable's domain (its ``--assume`` bounds); others are
probed at sample points.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import mpmath
import sympy as sp

from . import numeric as N
from .kinks import as_expr

#: values given to the other symbols of a case value when two values are compared
_OTHERS = (Fraction(7, 10), Fraction(-13, 10), Fraction(21, 10))


@dataclass
class CaseIssue:
    kind: str                    # "gap" | "conflict"
    where: str                   # human text: "0 < x <= 6", "x = 0", "y = 1, yhat = 1"
    region: bool                 # True: a set with interior (not isolated points)
    block: str = ""              # the cases block, as read
    points: list = field(default_factory=list)   # [(Symbol, value)]: isolated points, one variable

    def describe(self) -> str:
        if self.kind == "gap":
            return f"no case of {self.block} applies where {self.where}"
        return f"the cases of {self.block} overlap where {self.where} and disagree there"


def analyze(pieces, builder, block: str) -> list:
    """Issues of one cases block: pieces [(value, condition)] as built."""
    conds = []
    for val, c in pieces:
        conds.append((val, c))
        if c is sp.true:
            break
    has_default = conds[-1][1] is sp.true
    real_conds = [(v, c) for v, c in conds if c is not sp.true]
    if not real_conds:
        return []
    syms = set()
    for _, c in real_conds:
        syms |= getattr(c, "free_symbols", set())
    try:
        if len(syms) == 1:
            (s,) = syms
            dom = _interval(s, builder)
            if dom is not None:
                return _exact(real_conds, has_default, s, dom, block)
    except (NotImplementedError, TypeError, ValueError, AttributeError):
        pass
    if not syms:
        return []
    return _probe(real_conds, has_default, sorted(syms, key=lambda s: s.name), builder, block)


# ---- one variable: SymPy sets ---------------------------------------------------------
def _interval(s, builder):
    d = N.Domain(s, (), builder.assume.bounds.get(s.name))
    if d.integer:
        return None
    lo = sp.Rational(d.lo.numerator, d.lo.denominator) if d.lo is not None else -sp.oo
    hi = sp.Rational(d.hi.numerator, d.hi.denominator) if d.hi is not None else sp.oo
    iv = sp.Interval(lo, hi, d.lo_strict or lo == -sp.oo, d.hi_strict or hi == sp.oo)
    if d.nonzero:
        iv = iv - sp.FiniteSet(0)
    return iv


def _is_points(st) -> bool:
    return isinstance(st, sp.FiniteSet)


def _set_text(st, s) -> str:
    if isinstance(st, sp.FiniteSet):
        return ", ".join(f"{s} = {p}" for p in list(st)[:4])
    if isinstance(st, sp.Interval):
        lo, hi = st.start, st.end
        parts = []
        if lo != -sp.oo:
            parts.append(f"{lo} {'<' if st.left_open else '<='} ")
        parts.append(str(s))
        if hi != sp.oo:
            parts.append(f" {'<' if st.right_open else '<='} {hi}")
        return "".join(parts)
    if isinstance(st, sp.Union):
        return " or ".join(_set_text(a, s) for a in st.args[:4])
    return f"{s} in {st}"


def _exact(conds, has_default, s, dom, block):
    issues = []
    sets = [sp.Intersection(c.as_set(), dom) for _, c in conds]
    if any(isinstance(st, sp.ConditionSet) for st in sets):
        raise NotImplementedError
    if not has_default:
        gap = sp.Complement(dom, sp.Union(*sets))
        if gap is not sp.S.EmptySet:
            pts = [(s, p) for p in gap] if _is_points(gap) else []
            issues.append(CaseIssue("gap", _set_text(gap, s), not _is_points(gap), block, pts))
    for i in range(len(conds)):
        for j in range(i + 1, len(conds)):
            both = sp.Intersection(sets[i], sets[j])
            if both is sp.S.EmptySet:
                continue
            for p in _points_in(both):
                if _differ(conds[i][0], conds[j][0], {s: p}):
                    region = not _is_points(both)
                    issues.append(CaseIssue("conflict", _set_text(both, s), region, block,
                                            [] if region else [(s, q) for q in both]))
                    break
    return issues


def _points_in(st) -> list:
    if isinstance(st, sp.FiniteSet):
        return [p for p in list(st)[:6] if p.is_real]
    if isinstance(st, sp.Union):
        out = []
        for a in st.args[:4]:
            out += _points_in(a)
        return out
    if isinstance(st, sp.Interval):
        lo, hi = st.start, st.end
        if lo == -sp.oo and hi == sp.oo:
            return [sp.Integer(0), sp.Integer(1), sp.Integer(-1)]
        if lo == -sp.oo:
            return [hi - 1, hi - sp.Rational(1, 1000)]
        if hi == sp.oo:
            return [lo + 1, lo + sp.Rational(1, 1000)]
        return [(lo + hi) / 2, lo + (hi - lo) / 1000, hi - (hi - lo) / 1000]
    return []


def _differ(a, b, at: dict) -> bool:
    """Two case values differ at the point (other symbols at a few fixed values)."""
    others = sorted((getattr(a, "free_symbols", set()) | getattr(b, "free_symbols", set()))
                    - set(at), key=lambda s: s.name)
    for k in range(3 if others else 1):
        env = {s: N.to_mpf(Fraction(int(v.p), int(v.q)) if v.is_Rational else Fraction(float(v)))
               for s, v in at.items()}
        for j, o in enumerate(others):
            env[o] = N.to_mpf(_OTHERS[(j + k) % 3])
        with mpmath.workdps(40):
            try:
                c = N.Compiler()
                va, vb = c.compile(as_expr(a))(env), c.compile(as_expr(b))(env)
            except (N.Undefined, ZeroDivisionError, ValueError, OverflowError, TypeError):
                continue
            if isinstance(va, bool) or isinstance(vb, bool):
                continue
            if abs(va - vb) > mpmath.mpf("1e-30") * max(abs(va), abs(vb)):
                return True
    return False


# ---- several variables: sample points -------------------------------------------------------
def _probe(conds, has_default, syms, builder, block):
    domains = [N.Domain(s, (), builder.assume.bounds.get(s.name)) for s in syms]
    pts = N.sample_points(domains, {}, n_random=150, max_points=300, seed=99)
    comp = N.Compiler()
    try:
        fcs = [comp.compile(c) for _, c in conds]
    except (TypeError, ValueError):
        return []
    gaps, conflicts = [], []
    with mpmath.workdps(30):
        for pt in pts:
            env = {s: N.to_mpf(v) for s, v in pt.items()}
            hold = []
            for i, fc in enumerate(fcs):
                try:
                    if fc(env) is True:
                        hold.append(i)
                except (N.Undefined, ZeroDivisionError, ValueError, OverflowError, TypeError):
                    hold = None
                    break
            if hold is None:
                continue
            if not hold and not has_default:
                gaps.append(pt)
            for a in hold[1:]:
                if _differ(conds[hold[0]][0], conds[a][0],
                           {s: sp.Rational(v.numerator, v.denominator) for s, v in pt.items()}):
                    conflicts.append(pt)
                    break
    issues = []

    def where(pt):
        return ", ".join(f"{s} = {N.fmt(v)}" for s, v in pt.items())

    if gaps:
        # found at more than 2 of the sample points: a region, else isolated points
        issues.append(CaseIssue("gap", "e.g. " + where(gaps[0]), len(gaps) > 2, block))
    if conflicts:
        issues.append(CaseIssue("conflict", "e.g. " + where(conflicts[0]), len(conflicts) > 2,
                                block, []))
    return issues
