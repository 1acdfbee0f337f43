"""Why a claim about a spec is refuted: another variant, or a wrong constant.

After ``spec(x) = formula`` is refuted, the formula is compared with the spec's
other variants (GELU's tanh approximation is not its erf definition), and then
each decimal constant of the formula is replaced by a nearby constant of a
variant's definition: if that makes the two agree, the verdict says so
("the tanh approximation with 0.045 where it has 0.044715").  The refutation
itself always stands on its counterexample; this only explains it.
"""
from __future__ import annotations

import mpmath
import sympy as sp

from . import numeric as N
from .kinks import as_expr
from .nodes import Node, render

#: points of the quick agreement test
_POINTS = [N.Fraction(k, 8) for k in (-29, -13, -5, -3, 1, 2, 7, 11, 19, 37)]


def _spec_side(sides):
    """(index of the side that is a bare spec call, spec node) or (None, None)."""
    for i, s in enumerate(sides):
        if s.k == "spec" and s.a[2] and s.a[2][0].k == "sym":
            return i, s
    return None, None


def _agree(ast, assume, variants) -> bool:
    from .build import Builder, BuildError
    from .sides import _finish, _pairs_from_sides

    try:
        b = Builder(assume, mentioned={n.a[0] for n in ast.walk() if n.k == "sym"})
        b.variants = variants
        pairs = _pairs_from_sides([_finish(s) for s in b.build(ast)])
    except (BuildError, ValueError, TypeError, RecursionError):
        return False
    syms = set()
    for l, r in pairs:
        syms |= l.free_symbols | r.free_symbols
    if len(syms) > 1:
        return False
    compared = 0
    with mpmath.workdps(40):
        comp = N.Compiler()
        fs = [(comp.compile(l), comp.compile(r)) for l, r in pairs]
        for p in _POINTS:
            env = {s: N.to_mpf(p) for s in syms}
            for fl, fr in fs:
                try:
                    lv, rv = fl(env), fr(env)
                except (N.Undefined, ZeroDivisionError, ValueError, OverflowError):
                    continue
                if abs(lv - rv) > mpmath.mpf("1e-30") * max(abs(lv), abs(rv)):
                    return False
                compared += 1
    return compared >= 5


def _replace(node, target, value):
    """A copy of the tree with the number node ``target`` replaced by ``value``."""
    if node is target:
        return Node("num", value, None, pos=node.pos)
    args = []
    for x in node.a:
        if isinstance(x, Node):
            args.append(_replace(x, target, value))
        elif isinstance(x, list):
            args.append([_replace(y, target, value) if isinstance(y, Node) else
                         tuple(_replace(z, target, value) for z in y) if isinstance(y, tuple)
                         else y for y in x])
        else:
            args.append(x)
    return Node(node.k, *args, pos=node.pos)


def explain(ast, assume, variants) -> str | None:
    """A sentence on why ``spec(x) = formula`` fails, or None."""
    import symdl.specs as S

    sides = ast.a[0]
    if len(sides) != 2:
        return None
    i, spec_node = _spec_side(sides)
    if spec_node is None:
        return None
    name, order = spec_node.a[0], spec_node.a[1]
    spec = S.get(name, family="activation")
    used = dict((variants or {}).get(name) or {})
    choices = spec.variants() or [{}]
    current = {p.name: used.get(p.name, p.default) for p in spec.choice_params}
    others = [c for c in choices if c != current]
    what = name + "'" * order
    for c in others:
        if _agree(ast, assume, {name: c}):
            desc = ", ".join(f"{k}={val!r}" for k, val in c.items())
            return (f"the formula is {what} with {desc} (an approximation), not its definition "
                    f"({', '.join(f'{k}={val!r}' for k, val in current.items())}); "
                    f"check it with --spec {name} --variant {desc.replace(chr(39), '')}")
    # a wrong constant: try the constants of each variant's definition
    formula = sides[1 - i]
    nums = [n for n in formula.walk() if n.k == "num" and not n.a[0].is_Integer]
    for c in ([current] + others):
        consts = {r for r in spec.definition(c).atoms(sp.Rational) if r > 0}
        for p in spec.real_params:   # parameters not named in the claim take their defaults
            if isinstance(p.default, (int, float)) and p.default > 0 and p.default != float("inf"):
                consts.add(as_expr(p.default))
        consts = sorted(consts, key=float)
        for n in nums:
            val = abs(n.a[0])
            for k in consts:
                if k == val or not (val / 2 < k < val * 2):
                    continue
                new = Node("claim", [_replace(s, n, k if n.a[0] > 0 else -k) for s in sides])
                if _agree(new, assume, {name: c} if c else {}):
                    form = (", ".join(f"{a}={b!r}" for a, b in c.items()) + " form") if c else "definition"
                    shown = render(n)
                    has = "that form has" if c else "it has"
                    return (f"the formula is {what}'s {form} with the constant {shown} where "
                            f"{has} {float(k):.10g}")
    return None
