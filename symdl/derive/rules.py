"""Numerical-stability rewrite rules, each a small named object with a cost.

In the style of ``sympy.codegen.rewriting.ReplaceOptim`` and PyTensor's
stabilize rewrites: a rule finds a hazardous pattern (``hazards``) and rewrites
it (``apply``).  ``stabilize`` applies a rule only if it lowers the total
cost = operation count + ``HAZARD_COST`` per hazardous pattern left.  Every
rule is tested for equality on its own (tests/test_rules.py).
"""
from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

# the rules that fold a primitive's definition back into it live with the
# primitives (their derivatives need them); the rest of the table is here
from symdl.specs.functions import (HAZARD_COST, LOG_SIGMOID, SIGMOID, SOFTPLUS, CosSum, Rule, SinSum,  # noqa: F401
                                   _count, _is_one_plus, improve, prod_err, sigmoid, softplus)


# -- c·sigmoid(u) - c·sigmoid(-u) -> c·tanh(u/2) ----------------------------------------
def _sigmoid_terms(add):
    """[(c, u, term)] for the terms c·sigmoid(u) of an Add (one sigmoid factor)."""
    out = []
    for t in add.args:
        factors = t.args if t.is_Mul else (t,)
        sig = [a for a in factors if isinstance(a, sigmoid)]
        if len(sig) == 1:
            out.append((sp.Mul(*[a for a in factors if a is not sig[0]]), sig[0].args[0], t))
    return out


def _sigmoid_pairs(add):
    """[(c, u, term_u, term_minus_u)]: pairs c·sigmoid(u) + (-c)·sigmoid(-u) of an Add."""
    if not add.is_Add:
        return []
    terms, pairs, used = _sigmoid_terms(add), [], set()
    for i, (c, u, t) in enumerate(terms):
        for j, (c2, u2, t2) in enumerate(terms):
            if i in used or j in used or i == j:
                continue
            if sp.expand(u + u2) == 0 and sp.expand(c + c2) == 0 and u.could_extract_minus_sign() is False:
                pairs.append((c, u, t, t2))
                used |= {i, j}
    return pairs


def _sigmoid_diff_apply(expr):
    def rewrite(add):
        pairs = _sigmoid_pairs(add)
        if not pairs:
            return add
        rest = list(add.args)
        for c, u, t, t2 in pairs:
            rest.remove(t)
            rest.remove(t2)
            rest.append(c * sp.tanh(u / 2))
        return sp.Add(*rest)
    return expr.replace(lambda e: e.is_Add and bool(_sigmoid_pairs(e)), rewrite)


SIGMOID_DIFFERENCE = Rule(
    "sigmoid_difference",
    "c·sigmoid(u) - c·sigmoid(-u) -> c·tanh(u/2) (sigmoid'' = sigma sigma(-u) (sigma(-u) - sigma(u)) "
    "cancels near u = 0: 1 - 2 sigma(u) loses all digits of a tiny u)",
    lambda e: sum(len(_sigmoid_pairs(a)) for a in sp.preorder_traversal(e) if isinstance(a, sp.Basic)),
    _sigmoid_diff_apply)


# -- exp(u) - 1 -> expm1(u) -----------------------------------------------------------
def _expm1_pairs(e):
    """In an Add holding c·exp(u) and -c, return [(exp(u), c), ...]."""
    if not e.is_Add:
        return []
    terms = list(e.args)
    out = []
    for t in terms:
        exps = [a for a in sp.Mul.make_args(t) if isinstance(a, sp.exp)]
        if len(exps) != 1:
            continue
        ex = exps[0]
        coeff = t / ex
        if coeff.has(sp.exp):
            continue
        if any(s is not t and not s.has(sp.exp) and sp.expand(s + coeff) == 0 for s in terms):
            out.append((ex, coeff))
    return out


def _expm1_match(e):
    return bool(_expm1_pairs(e))


def _expm1_apply(expr):
    def rewrite(e):
        ex, coeff = _expm1_pairs(e)[0]
        return (e - coeff * ex + coeff) + coeff * expm1(ex.args[0])
    return expr.replace(_expm1_match, rewrite)


EXPM1 = Rule("expm1", "c·exp(u) - c -> c·expm1(u) (no cancellation for small u)",
             _count(_expm1_match), _expm1_apply)


# -- log(1 + u) -> log1p(u) -----------------------------------------------------------
def _log1p_match(e):
    return isinstance(e, sp.log) and _is_one_plus(e.args[0]) is not None


def _log1p_apply(expr):
    return expr.replace(_log1p_match, lambda e: log1p(_is_one_plus(e.args[0])))


LOG1P = Rule("log1p", "log(1 + u) -> log1p(u) (exact for small u)", _count(_log1p_match), _log1p_apply)


# -- 1 - tanh(u)^2 -> 1/cosh(u)^2 -----------------------------------------------------
def _sech_match(e):
    if not e.is_Add or len(e.args) != 2:
        return False
    c, rest = e.as_coeff_Add()
    if c == 0:
        return False
    k, t2 = rest.as_coeff_Mul()
    return k == -c and t2.is_Pow and isinstance(t2.base, sp.tanh) and t2.exp == 2


def _sech_apply(expr):
    def rewrite(e):
        c, rest = e.as_coeff_Add()
        _, t2 = rest.as_coeff_Mul()
        return c / sp.cosh(t2.base.args[0]) ** 2
    return expr.replace(_sech_match, rewrite)


SECH2 = Rule("sech2", "c - c·tanh(u)^2 -> c/cosh(u)^2 (1 - tanh^2 cancels for large |u|)",
             _count(_sech_match), _sech_apply)


# -- sqrt(1 + u) - 1 -> u / (sqrt(1 + u) + 1) -----------------------------------------
def _sqrt1pm1_match(e):
    if not e.is_Add:
        return False
    c, rest = e.as_coeff_Add()
    if c != -1:
        return False
    return rest.is_Pow and rest.exp == sp.S.Half and _is_one_plus(rest.base) is not None


def _sqrt1pm1_apply(expr):
    def rewrite(e):
        _, rest = e.as_coeff_Add()
        u = _is_one_plus(rest.base)
        return u / (rest + 1)
    return expr.replace(_sqrt1pm1_match, rewrite)


SQRT1PM1 = Rule("sqrt1pm1", "sqrt(1 + u) - 1 -> u/(sqrt(1 + u) + 1) (no cancellation for small u)",
                _count(_sqrt1pm1_match), _sqrt1pm1_apply)


# -- u·sign(u) -> |u| ----------------------------------------------------------------
def _sign_match(e):
    if not e.is_Mul:
        return False
    signs = [f.args[0] for f in e.args if isinstance(f, sp.sign)]
    return any(u in e.args for u in signs)


def _sign_apply(expr):
    def rewrite(e):
        u = next(f.args[0] for f in e.args if isinstance(f, sp.sign) and f.args[0] in e.args)
        return e / (u * sp.sign(u)) * sp.Abs(u)
    return expr.replace(_sign_match, rewrite)


SIGN_ABS = Rule("sign_abs", "u·sign(u) -> |u| (lets the terms of a difference combine)",
                _count(_sign_match), _sign_apply)


# -- sin(a·b) -> sin(fl(ab) + δ) with δ = a·b − fl(a·b) kept apart -----------------------
def _trig_product_args(e):
    """(a, b) if e is sin/cos of a two-factor product with a non-trivial
    factor (the rounding of that product would be amplified by |a·b|)."""
    if not isinstance(e, (sp.sin, sp.cos)):
        return None
    u = e.args[0]
    if not u.is_Mul or len(u.args) != 2:
        return None
    a, b = u.args
    if a in (-1, 1) or b in (-1, 1):
        return None
    for f in (a, b):  # a power of two times x is exact
        if f.is_Rational and f != 0 and sp.log(abs(f), 2).is_Integer:
            return None
    return a, b


def _trig_match_factory():
    def hazards(expr):
        comp = {f.args for f in expr.atoms(prod_err)}
        return sum(1 for e in expr.atoms(sp.sin, sp.cos)
                   if (_trig_product_args(e) is not None and _trig_product_args(e) not in comp)
                   # sin(fl(ab) + δ): the angle addition folded back (by simplify)
                   # rounds fl(ab) + δ to fl(ab) again
                   or (e.args[0].is_Add and e.args[0].has(prod_err)))
    return hazards


def _trig_apply(expr):
    def rewrite(e):
        args = _trig_product_args(e)
        if args is None:
            return e
        a, b = args
        u = a * b
        d = prod_err(a, b)
        # the double-word angle u + d goes to the kernel whole (a first-order
        # sin(u) + d cos(u) is off by d^2/2, not small once |ab| > 2**24 in
        # float32; the angle-addition formula costs two more sin/cos)
        return SinSum(u, d) if isinstance(e, sp.sin) else CosSum(u, d)

    comp = {f.args for f in expr.atoms(prod_err)}
    return expr.replace(lambda e: _trig_product_args(e) is not None and _trig_product_args(e) not in comp,
                        rewrite)


TRIG_PRODUCT = Rule("trig_product",
                    "sin(a·b) -> sin(fl(ab) + δ), δ = ab − fl(ab) by Dekker's two-product, the "
                    "double-word angle reduced whole (sin/cos amplify the product's rounding by |ab|)",
                    _trig_match_factory(), _trig_apply)


#: Applied in this order (softplus before log1p: log1p(exp(u)) would overflow).
RULES = (SOFTPLUS, LOG_SIGMOID, SIGMOID, SIGMOID_DIFFERENCE, EXPM1, LOG1P, SECH2, SQRT1PM1, SIGN_ABS, TRIG_PRODUCT)


# -- sinh(u) -> tanh(u)·cosh(u) ------------------------------------------------------
def _sinh_match(e):
    return isinstance(e, sp.sinh)


def _sinh_apply(expr):
    expr = expr.replace(_sinh_match, lambda e: sp.tanh(e.args[0]) * sp.cosh(e.args[0]))
    return sp.factor_terms(expr)  # the common cosh factors cancel


SINH_TANH = Rule("sinh_tanh",
                 "sinh(u) -> tanh(u)·cosh(u), common factors out: sinh(u)/cosh(u)^3 (tanh'', mish'') "
                 "is inf/inf for large |u|, tanh(u)/cosh(u)^2 stays finite",
                 _count(_sinh_match), _sinh_apply)


# -- c·exp(u) -> sign(c)·exp(u + log|c|) when c and u share a parameter ------------
def _scaled_exp_parts(e):
    """(c, exp(u)) for e = c·exp(u) whose constant factor c shares a symbol
    with u and u has more (the input), else None."""
    if not e.is_Mul:
        return None
    exps = [f for f in e.args if isinstance(f, sp.exp)]
    if len(exps) != 1:
        return None
    c = sp.Mul(*[a for a in e.args if a is not exps[0]])
    cs, us = c.free_symbols, exps[0].args[0].free_symbols
    if c.is_number or c.has(sp.exp) or not (cs & us) or not cs < us:
        return None
    return c, exps[0]


def _scaled_exp_apply(expr):
    def rewrite(e):
        c, f = _scaled_exp_parts(e)
        # log|c| as log1p(|c| - 1): SymPy would pull a plain log back out of the exp
        return sp.sign(c) * sp.exp(f.args[0] + log1p(sp.Abs(c) - 1))
    return expr.replace(lambda e: _scaled_exp_parts(e) is not None, rewrite)


SCALED_EXP = Rule("scaled_exp",
                  "c·exp(u) -> sign(c)·exp(u + log|c|) where c and u share a parameter "
                  "(soft_exponential'' = alpha·e^{alpha x}: for |c| < 1, e^u overflows before the product)",
                  _count(lambda e: _scaled_exp_parts(e) is not None), _scaled_exp_apply)

#: Rules for derived second derivatives (symdl.derive.second) only: the
#: first-order kernels are rendered without them.
SECOND_RULES = (SINH_TANH, SCALED_EXP)


def cost(expr) -> int:
    """Operation count plus a penalty per hazardous pattern still present."""
    return sp.count_ops(expr) + HAZARD_COST * sum(r.hazards(expr) for r in RULES + SECOND_RULES)


def stabilize(expr, rules=RULES, trace: list | None = None):
    """Apply each rule whose rewrite lowers ``cost``; repeat until none does."""
    return improve(expr, rules, cost, trace)
