r"""Fuzz: mutate the true identities of the claim table (a perturbed constant, a
dropped term, a flipped sign, a gap opened in a cases block) and check that no
mutant the independent oracle shows false is ever "holds", and that no mutant
gives an internal error.

The oracle is SymPy's own evalf at 30 digits at points away from the integers
(where kinks sit): a mutant is false if at some point both sides are finite
and differ, or one side is finite and the other has no case (nan).  It shares
only the translation of the parsed claim into SymPy with ``verify``; the
decision (sampler, mpmath compiler, symbolic proof, case analysis) is separate.
"""
import random
import time

import pytest
import sympy as sp

from symdl.verify import HOLDS, HOLDS_NUM, _run, parse_claim
from symdl.verify.build import Builder, BuildError, classify, parse_assume
from symdl.verify.check import _finish, _pairs_from_sides
from symdl.verify.nodes import Node, render
from symdl.verify.numeric import Domain

from .test_claims import ROWS, SYM, E

KINDS = ("constant", "drop", "sign", "gap")
VALUES = [sp.Rational(v) for v in ("-2.7", "-1.3", "-0.37", "0.29", "0.61", "1.45", "2.3", "4.1",
                                   "7.7")]
INTS = [sp.Integer(v) for v in (1, 2, 3, 5, 7)]


def true_rows():
    out = []
    for source, claim, assume, spec, expected in ROWS:
        if expected not in (E, SYM):
            continue
        ast, _ = parse_claim(claim, assume=assume, functions={"f": spec} if spec else None)
        sides = ast.a[0]
        if sides[0].k == "sym" or classify(ast)[1] or sum(1 for _ in ast.walk()) > 300:
            continue   # definitions, matrix claims: the scalar oracle does not apply
        out.append((claim, assume, spec, ast))
    return out


def _swap(node, target, new):
    if node is target:
        return new
    args = []
    for x in node.a:
        if isinstance(x, Node):
            args.append(_swap(x, target, new))
        elif isinstance(x, list):
            args.append([_swap(y, target, new) if isinstance(y, Node) else
                         tuple(_swap(z, target, new) if isinstance(z, Node) else z for z in y)
                         if isinstance(y, tuple) else y for y in x])
        else:
            args.append(x)
    return Node(node.k, *args, pos=node.pos)


def _num(v):
    return Node("num", sp.Rational(v), None)


def mutate(ast, kind, rng):
    """One mutant of the given kind, or None when the claim has no place for it."""
    nodes = list(ast.walk())
    if kind == "constant":
        nums = [n for n in nodes if n.k == "num"]
        if not nums:
            return None
        n = rng.choice(nums)
        v = n.a[0]
        return _swap(ast, n, _num(v * sp.Rational(9, 7) if v != 0 else sp.Rational(1, 3)))
    if kind == "drop":
        terms = [n for n in nodes if n.k in ("add", "sub")]
        if not terms:
            return None
        n = rng.choice(terms)
        return _swap(ast, n, n.a[rng.randrange(2)])
    if kind == "sign":
        terms = [n for n in nodes if n.k in ("add", "sub")]
        if terms:
            n = rng.choice(terms)
            return _swap(ast, n, Node("sub" if n.k == "add" else "add", n.a[0], n.a[1]))
        side = ast.a[0][-1]
        return Node("claim", ast.a[0][:-1] + [Node("neg", side)])
    # a gap: shrink one case of a block without an 'otherwise'
    rels = []
    for n in nodes:
        if n.k == "pw" and all(c.k != "true" for _, c in n.a[0]):
            rels += [c for _, c in n.a[0] if c.k == "rel" and c.a[2].k == "num"
                     and c.a[0] in ("<", "<=", ">", ">=")]
    if not rels:
        return None
    c = rng.choice(rels)
    op, lhs, num = c.a
    shift = -1 if op in ("<", "<=") else 1
    return _swap(ast, c, Node("rel", op, lhs, _num(num.a[0] + shift)))


def _value(e):
    if e is sp.nan:
        return "nan"
    if e.is_number and e.is_real and e.is_finite:
        return e
    return None


def oracle_false(ast, assume_text, rng) -> bool:
    """True if SymPy's evalf shows the mutant false at some point."""
    a = parse_assume(assume_text)
    try:
        b = Builder(a, mentioned={n.a[0] for n in ast.walk() if n.k == "sym"})
        pairs = _pairs_from_sides([_finish(s) for s in b.build(ast)])
    except (BuildError, ValueError, TypeError):
        return False
    syms = sorted(set().union(*[l.free_symbols | r.free_symbols for l, r in pairs]),
                  key=lambda s: s.name)
    doms = [Domain(s, (), a.bounds.get(s.name)) for s in syms]
    for _ in range(10):
        pt = {}
        for s, d in zip(syms, doms):
            ok = [v for v in (INTS if d.integer else VALUES) if d.ok(_frac(v))]
            if not ok:
                return False
            pt[s] = rng.choice(ok)
        for l, r in pairs:
            lv, rv = _value(l.xreplace(pt).evalf(30)), _value(r.xreplace(pt).evalf(30))
            if lv is None or rv is None or (lv == "nan" and rv == "nan"):
                continue
            if (lv == "nan") != (rv == "nan"):
                return True
            if abs(lv - rv) > sp.Float("1e-12") * max(abs(lv), abs(rv)):
                return True
    return False


def _frac(v):
    from fractions import Fraction
    return Fraction(int(v.p), int(v.q))


def run_fuzz(budget_s, max_mutants, seed):
    rng = random.Random(seed)
    rows = true_rows()
    t0 = time.monotonic()
    tried = false_seen = 0
    by_kind = dict.fromkeys(KINDS, 0)
    while tried < max_mutants and time.monotonic() - t0 < budget_s:
        kind = KINDS[tried % len(KINDS)]
        claim, assume, spec, ast = rng.choice(rows)
        m = mutate(ast, kind, rng)
        tried += 1
        if m is None:
            continue
        text = render(m)
        a = parse_assume(assume)
        v = _run(text, lambda m=m, a=a: (m, a), timeout=2.0)
        assert "internal error" not in v.reason, (kind, claim, text, v.reason, v.notes)
        if oracle_false(m, assume, rng):
            false_seen += 1
            by_kind[kind] += 1
            assert v.status not in (HOLDS, HOLDS_NUM), (
                f"false {kind} mutant holds: {text}\n(from {claim})\n{v.method}")
    return tried, false_seen, by_kind


def test_table_mutants_never_hold_falsely():
    tried, false_seen, by_kind = run_fuzz(budget_s=8.0, max_mutants=40, seed=12)
    assert tried >= 8
    assert false_seen >= 4, by_kind   # the mutations do make false claims


@pytest.mark.slow
def test_table_mutants_never_hold_falsely_long():
    tried, false_seen, by_kind = run_fuzz(budget_s=240.0, max_mutants=600, seed=2026)
    assert all(by_kind[k] > 0 for k in KINDS), by_kind
