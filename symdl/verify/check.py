"""The decision procedure: a symbolic attempt, then the high-precision sampler.

Verdicts, strongest first:
  holds              the difference of the two sides simplifies to 0
  holds numerically  no symbolic proof; both sides agree at many mpmath points
  refuted            a point where both sides are finite and differ (re-checked
                     at higher precision)
  undecided          anything else (time limit, too few defined points, ...)

No false *holds*: a symbolic proof is cross-checked by a short numeric run, and
any disagreement makes the verdict undecided.  Agreement is relative only (no
absolute floor); a point is skipped as non-differentiable only at a real kink
(``kinks``); a ``cases`` gap or contradiction (``cases``), sides defined on
different regions, or subterms SymPy simplified away (the Builder's guards) keep
a claim from holding unseen.
"""
from __future__ import annotations

import time
from fractions import Fraction

import mpmath
import sympy as sp

from . import numeric as N
from .build import Assumptions, Builder, classify
from .sides import _finish, _pairs_from_sides, _scalarize_side  # noqa: F401  (tests import them here)
from .timelimit import ClaimTimeout, time_limit  # noqa: F401  (re-exported)
from .verdict import HOLDS, HOLDS_NUM, REFUTED, UNDECIDED, Verdict  # noqa: F401

DPS = 50               # working precision of the sampler (digits)
RTOL = mpmath.mpf("1e-30")
MIN_POINTS = 30
MATRIX_SIZES = (2, 3)


# ---- symbolic ------------------------------------------------------------------------
def _zero(e) -> bool:
    return e == 0 or e is sp.S.Zero


def prove_zero(d) -> str | None:
    """A method name if ``d`` is identically 0 (where defined), else None."""
    if _zero(d):
        return "direct"
    if _zero(sp.expand(d)):
        return "expand"
    if d.has(sp.Piecewise):
        f = sp.piecewise_fold(d)
        if isinstance(f, sp.Piecewise):
            ok = True
            for e, c in f.args:
                if c is sp.false:
                    continue
                if not (_zero(e) or _zero(sp.simplify(e)) or _zero(sp.simplify(e.rewrite(sp.exp)))):
                    ok = False
                    break
            if ok:
                return "piecewise_fold + simplify per case"
    s = sp.simplify(d)
    if _zero(s):
        return "simplify"
    if d.has(sp.Abs, sp.Max, sp.Min, sp.sign, sp.Heaviside):
        f = sp.piecewise_fold(d.rewrite(sp.Piecewise))
        if isinstance(f, sp.Piecewise) and all(
                c is sp.false or _zero(e) or _zero(sp.simplify(e)) for e, c in f.args):
            return "rewrite(Piecewise) + simplify per case"
        if _zero(f) or _zero(sp.simplify(f)):
            return "rewrite(Piecewise) + simplify"
    r = d.rewrite(sp.exp)
    if _zero(sp.simplify(r)) or _zero(sp.cancel(sp.expand(r))):
        return "rewrite(exp) + simplify"
    return None


def _clearly_differ(l, r, assume) -> bool:
    """A cheap probe before simplify: at a few points the sides differ, stably at two
    precisions (then no proof is tried; the sampler finds and re-checks the point)."""
    syms = sorted(l.free_symbols | r.free_symbols, key=lambda s: s.name)
    if not syms:
        return False
    import random as _r

    rng = _r.Random(3)
    doms = [N.Domain(s, (), assume.bounds.get(s.name)) for s in syms]
    try:
        comp = N.Compiler()
        fl, fr = comp.compile(l), comp.compile(r)
    except (TypeError, ValueError):
        return False
    for _ in range(3):
        pt = {d.sym: d.random(rng) for d in doms}
        diffs = []
        for dps in (30, 60):
            with mpmath.workdps(dps):
                env = {s: N.to_mpf(v) for s, v in pt.items()}
                try:
                    lv, rv = fl(env), fr(env)
                except (N.Undefined, ZeroDivisionError, ValueError, OverflowError, TypeError):
                    break
                if isinstance(lv, bool) or isinstance(rv, bool):
                    break
                diffs.append((lv - rv, max(abs(lv), abs(rv))))
        if len(diffs) == 2:
            (d1, s1), (d2, s2) = diffs
            if d2 and abs(d2) > mpmath.mpf("1e-6") * s2 and abs(d1 - d2) < mpmath.mpf("1e-10") * abs(d2):
                return True
    return False


def exact_counterexample(lhs, rhs, tries: int = 40):
    """For rational functions of the symbols: an exact point where the sides differ.

    cancel() decides a rational-function identity exactly; the point is found by
    exact evaluation at small rationals (no rounding anywhere)."""
    syms = sorted((lhs.free_symbols | rhs.free_symbols), key=lambda s: s.name)
    if not syms:
        return None
    try:
        if not (lhs.is_rational_function(*syms) and rhs.is_rational_function(*syms)):
            return None
        if lhs.has(sp.Piecewise) or rhs.has(sp.Piecewise):
            return None
        if _zero(sp.cancel(sp.together(lhs - rhs))):
            return None
    except Exception:
        return None
    domains = [N.Domain(s) for s in syms]
    import random as _r

    rng = _r.Random(7)
    small = [Fraction(v) for v in (1, 2, -1, 3, -2, 5)] + [Fraction(1, 2), Fraction(-3, 2)]
    for k in range(tries):
        pt = {}
        for d in domains:
            ok = [v for v in small if d.ok(v)]
            pt[d.sym] = rng.choice(ok) if (k < tries // 2 and ok) else d.random(rng)
        sub = {s: sp.Rational(val.numerator, val.denominator) for s, val in pt.items()}
        lv, rv = lhs.xreplace(sub), rhs.xreplace(sub)
        if not (lv.is_Rational and rv.is_Rational):
            continue   # a pole, or a symbol's assumptions not met
        if lv != rv:
            return {"point": {str(s): N.fmt(val) for s, val in pt.items()},
                    "lhs": _num(lv), "rhs": _num(rv), "difference": _num(lv - rv)}
    return None


# ---- numeric -----------------------------------------------------------------------------
def _near_kink(point, kinks, env) -> bool:
    for s, ks in kinks.items():
        if s not in point:
            continue
        v = point[s]
        for k in ks:
            if k.is_Rational:
                if v == Fraction(int(k.p), int(k.q)):
                    return True
            else:
                try:
                    kv = N.Compiler().compile(k)(env)
                except Exception:
                    continue
                if abs(env[s] - kv) < mpmath.mpf("1e-30"):
                    return True
    return False


def _eval_pair(fl, fr, env):
    return fl(env), fr(env)


def _guarded(f, gs):
    """f, undefined wherever a guard (a subterm SymPy simplified away) is undefined."""
    if not gs:
        return f

    def g(env):
        for h in gs:
            h(env)
        return f(env)
    return g


def _plainness(pt) -> float:
    """How far a point's coordinates are from 1 in magnitude (simple points first)."""
    return sum(abs(float(mpmath.log10(abs(N.to_mpf(x))))) if x else 0.0 for x in pt.values())


def _one_side_defined(fl, fr, env):
    """'left' or 'right' when exactly that side has a real value at env, else None."""
    ok = []
    for f in (fl, fr):
        try:
            val = f(env)
            ok.append(not isinstance(val, bool))
        except (N.Undefined, ZeroDivisionError, ValueError, OverflowError):
            ok.append(False)
    if ok[0] != ok[1]:
        return "left" if ok[0] else "right"
    return None


def _confirm(pair_exprs, point) -> tuple | None:
    """Re-evaluate a suspected counterexample at higher precision.

    The precision is raised until it covers the largest intermediate addend
    (cancellation), then the difference must be the same at p and 2p digits."""
    lhs, rhs = pair_exprs
    dps = 80
    for _ in range(5):
        vals = []
        mag = mpmath.mpf(0)
        for p in (dps, 2 * dps):
            with mpmath.workdps(p):
                env = {s: N.to_mpf(v) for s, v in point.items()}
                c = N.Compiler(track=True)
                try:
                    lv, rv = c.compile(lhs)(env), c.compile(rhs)(env)
                except (N.Undefined, ZeroDivisionError, ValueError, OverflowError):
                    return None
                vals.append((lv, rv))
                mag = max(mag, c.maxmag)
        (l1, r1), (l2, r2) = vals
        with mpmath.workdps(2 * dps):
            d1, d2 = l1 - r1, l2 - r2
            scale = max(abs(l2), abs(r2))
            if d2 == 0 or abs(d2) <= RTOL * scale:
                return None
            mag = max(mag, scale)
            needed = int(mpmath.log10(mag / abs(d2))) + 30
            if needed > dps:
                if needed > 4000:
                    return None
                dps = needed
                continue
            if abs(d1 - d2) > mpmath.mpf("1e-8") * abs(d2):
                return None   # the difference moves with the precision: cancellation noise
            return l2, r2
    return None


def numeric_check(pairs, domains, kinks, soft_deadline, *, max_points=400, n_random=120,
                  boundaries=None, guards=None):
    """Returns dict(status, points, skipped, worst, counterexample, uncovered, kink_skips).

    ``kinks``: points not compared; ``boundaries``: points sampled (and around)."""
    comp = N.Compiler()
    compiled = [(comp.compile(l), comp.compile(r)) for l, r in pairs]
    if guards:
        compiled = [(_guarded(fl, [comp.compile(g) for g in gl]),
                     _guarded(fr, [comp.compile(g) for g in gr]))
                    for (fl, fr), (gl, gr) in zip(compiled, guards)]
    around = {s: list(kinks.get(s, [])) + [b for b in (boundaries or {}).get(s, [])
                                             if b not in kinks.get(s, [])]
              for s in set(kinks) | set(boundaries or {})}
    pts = N.sample_points(domains, around, n_random=n_random, max_points=max_points)
    compared = skipped = at_kink = unstable = underflow = 0
    one_sided = []   # (point, side): exactly one side defined there
    worst = mpmath.mpf(0)
    suspects = []   # (relative difference, point, pair index)
    for point in pts:
        if time.monotonic() > soft_deadline:
            break
        with mpmath.workdps(DPS):
            env = {s: N.to_mpf(v) for s, v in point.items()}
            if kinks and _near_kink(point, kinks, env):
                at_kink += 1
                continue
            any_cmp = False
            for idx, (fl, fr) in enumerate(compiled):
                try:
                    lv, rv = _eval_pair(fl, fr, env)
                except N.Underflow:
                    underflow += 1
                    continue
                except (N.Undefined, ZeroDivisionError, ValueError, OverflowError):
                    side = _one_side_defined(fl, fr, env)
                    if side:
                        one_sided.append((point, side))
                    continue
                if isinstance(lv, bool) or isinstance(rv, bool):
                    continue
                any_cmp = True
                diff = abs(lv - rv)
                scale = max(abs(lv), abs(rv))
                rel = diff / scale if diff else mpmath.mpf(0)   # relative, nothing absolute
                if rel > RTOL:
                    suspects.append((rel, point, idx))
                    continue
                if rel > worst:
                    worst = rel
            if any_cmp:
                compared += 1
            else:
                skipped += 1
        if len(suspects) >= 12:
            break
    # confirm the most convincing suspects first (largest relative difference)
    # prefer clear differences at simple points (coordinates near 1 in magnitude)
    top = max((t[0] for t in suspects), default=0)

    suspects.sort(key=lambda t: (t[0] < top * mpmath.mpf("1e-3"), _plainness(t[1]), -t[0]))
    for rel, point, idx in suspects[:6]:
        if time.monotonic() > soft_deadline + 1.0:
            break
        conf = _confirm(pairs[idx], point)
        if conf is not None:
            return {"status": REFUTED, "point": point, "pair": idx, "lhs": conf[0],
                    "rhs": conf[1], "points": compared, "skipped": skipped}
        unstable += 1
    if suspects and unstable < len(suspects):
        # unconfirmed suspects left: never call that agreement
        return {"status": "unsure", "points": compared, "skipped": skipped, "worst": worst,
                "uncovered": [], "at_kink": at_kink, "unstable": unstable, "total": len(pts),
                "underflow": underflow}
    uncovered = []
    for pid, conds in comp.pieces.items():
        for i, c in enumerate(conds):
            if (pid, i) not in comp.hits and not c.startswith("Eq(") and c != "False":
                if c not in uncovered:
                    uncovered.append(c)
    ncases = sum(len(c) for c in comp.pieces.values())
    return {"status": "ok", "cases": ncases, "points": compared, "skipped": skipped, "worst": worst,
            "uncovered": uncovered, "at_kink": at_kink, "unstable": unstable,
            "total": len(pts), "underflow": underflow, "one_sided": one_sided}


def _small_rational(e) -> bool:
    """A rational short enough to print exactly (never str() a 7,000-digit integer)."""
    return isinstance(e, sp.Rational) and max(abs(int(e.p)), int(e.q)).bit_length() <= 120


def _num(v) -> str:
    return str(v) if v.is_Integer and _small_rational(v) else str(sp.N(v, 15))


def _short(e) -> str:
    if isinstance(e, sp.Rational):
        if not _small_rational(e):
            return mpmath.nstr(mpmath.mpf(int(e.p)) / int(e.q), 15)
        if not e.is_Integer and len(str(e)) <= 40:
            return f"{e} ≈ {sp.N(e, 12)}"
    s = str(e)
    if len(s) <= 40:
        return s
    try:
        return str(sp.N(e, 15))
    except Exception:
        return s[:37] + "..."


# ---- driver --------------------------------------------------------------------------------
def _constant_claim(v: Verdict, pairs) -> Verdict:
    """Numbers only: compare at 300 digits (no sampling needed)."""
    for l, r in pairs:
        with mpmath.workdps(320):
            c = N.Compiler(track=True)
            try:
                lv, rv = c.compile(l)({}), c.compile(r)({})
            except (N.Undefined, ZeroDivisionError, ValueError, OverflowError) as err:
                v.status = UNDECIDED
                v.reason = f"a side has no finite real value ({err})"
                return v
            d = lv - rv
            scale = max(abs(lv), abs(rv), c.maxmag)   # relative: no hidden absolute floor
            if d and abs(d) > mpmath.mpf("1e-290") * scale:
                v.status, v.method = REFUTED, "evaluation at 300 digits"
                v.counterexample = {"point": {}, "lhs": N.fmt(lv, 20), "rhs": N.fmt(rv, 20),
                                    "difference": N.fmt(d, 6)}
                return v
    v.status, v.points = HOLDS_NUM, 1
    v.method = "no symbolic proof; the two numbers agree to 290 digits"
    return v


def decide(ast, assume: Assumptions, *, timeout: float, variants=None) -> Verdict:
    """Build and check a parsed claim (call inside ``time_limit``)."""
    v, issues, kinks = _decide(ast, assume, timeout=timeout, variants=variants)
    if v.status == REFUTED and any(n.k == "spec" for n in ast.a[0]):
        from .diagnose import explain

        with time_limit(min(3.0, max(timeout * 0.3, 0.5))):
            try:
                v.diagnosis = explain(ast, assume, variants)
            except (ValueError, TypeError, KeyError, ArithmeticError, RecursionError):
                pass
    return _apply_case_issues(v, issues, kinks)


def _at_kink(points, kinks) -> bool:
    if not points:
        return False
    for s, p in points:
        if not any(sp.simplify(p - k) == 0 for k in kinks.get(s, [])):
            return False
    return True


def _apply_case_issues(v: Verdict, issues, kinks) -> Verdict:
    """A gap or a contradiction of a cases block never lets a claim 'hold' unseen:
    a region makes it undecided, an isolated point is named in the verdict."""
    if not issues or v.status not in (HOLDS, HOLDS_NUM):
        for i in issues:
            v.notes.append(i.describe())
        return v
    blocking, excepted = [], []
    for i in issues:
        if not i.region and _at_kink(i.points, kinks):
            v.notes.append(i.describe() + " (a non-differentiable point: not compared)")
        elif i.kind == "gap" and not i.region:
            excepted.append(i.where)
        else:
            blocking.append(i)
    if blocking:
        v.status, v.method = UNDECIDED, ""
        why = []
        for i in blocking:
            tail = ("; that side is undefined there" if i.kind == "gap"
                    else "; the cases contradict each other")
            why.append(i.describe() + tail)
        v.reason = "; ".join(why)
        return v
    if excepted:
        v.method += "; except where no case applies (" + "; ".join(excepted) + "): not compared"
    return v


def _decide(ast, assume: Assumptions, *, timeout: float, variants=None):
    t0 = time.monotonic()
    v = Verdict(UNDECIDED)
    case_issues, kinks = [], {}
    sides = ast.a[0]
    if sides[0].k == "sym" and not sides[0].a[1]:
        name = sides[0].a[0]
        others = {n.a[0] for s in sides[1:] for n in s.walk() if n.k == "sym"}
        if name not in others:
            from .metric_defs import check_metric, metric_name

            metric = metric_name(name)
            if metric and len(sides) == 2:
                b = Builder(assume, mentioned={n.a[0] for n in sides[1].walk() if n.k == "sym"})
                rhs = _finish(_scalarize_side(b.build(sides[1])))
                if isinstance(rhs, sp.Basic) and not isinstance(rhs, sp.MatrixBase):
                    return check_metric(metric, rhs, v), case_issues, kinks
            if len(sides) == 2:
                v.reason = f"'{name} = ...' defines {name}; there is nothing to check"
                return v, case_issues, kinks
            from .nodes import Node
            v.notes.append(f"{name} is defined by the rest of the chain (not checked)")
            ast = Node("claim", sides[1:])
    mentioned = {n.a[0] for n in ast.walk() if n.k == "sym"}
    kinds, matrix_mode = classify(ast)
    sizes = MATRIX_SIZES if matrix_mode else (None,)
    all_pairs, extra, notes, bounds, all_guards = [], {}, [], {}, []
    for n in sizes:
        b = Builder(assume, kinds=kinds, dim=n, mentioned=mentioned)
        b.variants = variants or {}
        sides = [_finish(s) for s in b.build(ast)]
        all_pairs += _pairs_from_sides(sides, [[_finish(g) for g in gs] for gs in b.side_guards],
                                       all_guards)
        for s, ks in b.kinks.items():
            kinks.setdefault(s, [])
            kinks[s] += [k for k in ks if k not in kinks[s]]
        for issue in b.case_issues:
            if all(issue.describe() != i.describe() for i in case_issues):
                case_issues.append(issue)
        for s, ks in b.boundaries.items():
            bounds.setdefault(s, [])
            bounds[s] += [k for k in ks if k not in bounds[s]]
        for nm, words in b.domains.items():
            extra.setdefault(nm, set()).update(words)
        for note in b.notes:
            if note not in notes:
                notes.append(note)
    if matrix_mode:
        vecs = sorted(k for k, t in kinds.items() if t == "vec")
        mats = sorted(k for k, t in kinds.items() if t == "mat")
        desc = []
        if vecs:
            desc.append("vectors " + ", ".join(vecs))
        if mats:
            desc.append("matrices " + ", ".join(mats))
        notes.append("; ".join(desc) + f"; checked with explicit entries at n = "
                     + " and ".join(map(str, MATRIX_SIZES)))
    v.notes = v.notes + notes
    for s, ks in kinks.items():
        if ks:
            v.notes.append(f"derivative not compared at {s} = " + ", ".join(map(str, ks))
                           + " (non-differentiable point)")

    # 1) symbolic
    budget = timeout - (time.monotonic() - t0)
    proven = []
    sym_method = None
    with time_limit(max(budget * 0.45, 0.05)) as lim:
        for l, r in all_pairs:
            d = l - r
            if d.is_number and d.is_Rational and d != 0:
                v.status, v.method = REFUTED, "exact arithmetic"
                v.reason = f"the difference of the two sides is {_short(d)}"
                v.counterexample = {"point": {}, "lhs": _short(l), "rhs": _short(r),
                                    "difference": _short(d)}
                return v, case_issues, kinks
            m = None if _clearly_differ(l, r, assume) else prove_zero(d)
            if m is None:
                ce = exact_counterexample(l, r)
                if ce is not None:
                    v.status, v.method = REFUTED, "exact rational arithmetic (a rational-function identity)"
                    v.counterexample = ce
                    if len(all_pairs) > 1:
                        ce["component"] = f"{l} = {r} (other entries arbitrary)"
                    return v, case_issues, kinks
                break
            proven.append(m)
        else:
            sym_method = ", ".join(sorted(set(proven))) or "direct"
    sym_note = " (symbolic attempt hit its time share)" if lim.expired else ""

    # 2) numeric
    syms = set()
    for l, r in all_pairs:
        syms |= l.free_symbols | r.free_symbols
    for gl, gr in all_guards:
        for g in gl + gr:
            syms |= g.free_symbols
    syms = sorted(syms, key=lambda s: s.name)
    if not syms and not sym_method:
        return _constant_claim(v, all_pairs), case_issues, kinks
    domains = [N.Domain(s, extra.get(s.name, ()), assume.bounds.get(s.name)) for s in syms]
    remaining = timeout - (time.monotonic() - t0)
    soft = time.monotonic() + remaining * (0.35 if sym_method else 0.8)
    quick = sym_method is not None
    res = numeric_check(all_pairs, domains, kinks, soft,
                        max_points=60 if quick else 400, n_random=30 if quick else 120,
                        boundaries=bounds, guards=all_guards)
    if res["status"] == REFUTED:
        lhs, rhs = all_pairs[res["pair"]]
        if sym_method:
            v.status = UNDECIDED
            v.reason = ("SymPy simplified the difference to 0 but a high-precision point "
                        "disagrees; not trusting either")
            return v, case_issues, kinks
        v.status, v.method = REFUTED, "counterexample (mpmath, re-checked at higher precision)"
        pt = {str(s): N.fmt(val) for s, val in res["point"].items()}
        v.counterexample = {"point": pt, "lhs": N.fmt(res["lhs"], 15), "rhs": N.fmt(res["rhs"], 15),
                            "difference": N.fmt(res["lhs"] - res["rhs"], 6)}
        if len(all_pairs) > 1:
            v.counterexample["component"] = f"{lhs} = {rhs}"
        v.points, v.skipped = res["points"], res["skipped"]
        return v, case_issues, kinks
    v.points, v.skipped = res["points"], res["skipped"]
    v.worst = float(res["worst"]) if res.get("worst") is not None else None
    extra_skip = []
    if res.get("at_kink"):
        extra_skip.append(f"{res['at_kink']} at non-differentiable points")
    if res.get("unstable"):
        extra_skip.append(f"{res['unstable']} numerically unstable")
    if res.get("underflow"):
        extra_skip.append(f"{res['underflow']} where a value is below e^-100000 (underflow)")
    if extra_skip:
        v.notes.append("also skipped: " + ", ".join(extra_skip))
    one = res.get("one_sided") or []
    gaps = any(i.kind == "gap" and i.region for i in case_issues)   # said more precisely below
    if len(one) >= 3 and not gaps and (sym_method or res["status"] == "ok"):
        # the two sides have different domains (not just isolated points): a claim of
        # equality is false where only one side has a value
        pt, side = min(one, key=lambda t: _plainness(t[0]))
        where = ", ".join(f"{k} = {N.fmt(val)}" for k, val in pt.items())
        v.status, v.method = UNDECIDED, ""
        v.reason = (f"the two sides have different domains: at {where} (and {len(one) - 1} other "
                    f"sampled points) only the {side} side has a real value; declare the "
                    "intended domain with --assume (e.g. x > 0)")
        return v, case_issues, kinks
    if sym_method:
        pts = f"{v.points} point" + ("" if v.points == 1 else "s")
        v.status, v.method = HOLDS, f"{sym_method}; cross-checked at {pts}"
        return v, case_issues, kinks
    need = MIN_POINTS if syms else 1
    if res["status"] == "unsure":
        v.status = UNDECIDED
        v.reason = ("no symbolic proof; some points disagree at 40 digits but the difference "
                    "is not stable at higher precision (cancellation)")
        return v, case_issues, kinks
    if res["points"] < need:
        v.status = UNDECIDED
        v.reason = (f"only {res['points']} of {res['total']} sample points had both sides "
                    f"finite and real (need {need}){sym_note}")
        if res.get("underflow"):
            v.reason += (f"; at {res['underflow']} points a value is below e^-100000, where "
                         "an underflow would make both sides look equal")
        return v, case_issues, kinks
    if res["uncovered"]:
        v.status = UNDECIDED
        v.reason = ("no symbolic proof, and these cases were never sampled: "
                    + "; ".join(res["uncovered"][:3]))
        return v, case_issues, kinks
    v.status = HOLDS_NUM
    cases = f"; every case of the piecewise parts sampled ({res['cases']} cases)" if res.get("cases") else ""
    v.method = (f"no symbolic proof{sym_note}; {v.points} points agree at {DPS} digits "
                f"(worst relative difference {N.fmt(res['worst'], 3)}; {v.skipped} skipped "
                f"where a side is undefined or complex{cases})")
    return v, case_issues, kinks
