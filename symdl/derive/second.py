"""Second derivatives of activations, for double backward (WGAN-GP's penalty).

For each activation spec ``f`` this builds a *derivative spec* ``d_f``: an
ordinary :class:`~symdl.specs.base.Activation` whose forward is the
kernel-form first derivative f'(x) -- the very expression the first-order
kernels evaluate, with its kink conventions -- so that the existing
derivation engine (``sympy.diff`` + stabilization, ``elementwise.py``)
derives its backward f''(x) and d f'/d param for the learnable parameters
(prelu's weight, swish's beta).  Nothing here differentiates by hand.

Conventions (torch's double backward):

* at a kink of f' the second derivative is the derivative of the Piecewise
  branch f' takes there (relu'' = 0 everywhere; elu''(0) = alpha, the x <= 0
  branch) -- ``sympy.diff`` of a Piecewise differentiates each branch;
* sign(u) and Heaviside(u) are piecewise constant: the DiracDelta terms
  SymPy attaches to their derivatives are dropped (torch's sign backward is
  zero), so softsign''(0) = 0 as torch computes it;
* the second derivatives get two more stabilization rules
  (``rules.SECOND_RULES``): sinh(u) = tanh(u)·cosh(u) with the common cosh
  factors cancelled (sinh(u)/cosh(u)^3 in tanh'' and mish'' is inf/inf for
  large |u|), and c·exp(u) with a parameter in both c and u as
  sign(c)·exp(u + log|c|) (no overflow before the product's own);
* a spec with a Taylor branch near a point of cancellation (sinc,
  tanhshrink) keeps it: the derivative spec declares the same ``series``
  and the engine expands f' and f'' around it.
"""
from __future__ import annotations

import dataclasses
import functools

import sympy as sp

from symdl.specs.base import Activation
from .elementwise import Derived, _general_branch, _limit, derive
from .rules import SECOND_RULES


def _piecewise_minmax(expr):
    """Max/Min as Piecewise before differentiating: SymPy's Heaviside
    derivatives of Max/Min make its limits at ±inf take minutes."""
    if not expr.has(sp.Max, sp.Min):
        return expr
    return expr.replace(lambda e: isinstance(e, (sp.Max, sp.Min)),
                        lambda e: e.rewrite(sp.Piecewise))


def drop_delta(expr):
    """expr with DiracDelta terms set to 0 (derivatives of sign/Heaviside)."""
    if not expr.has(sp.DiracDelta):
        return expr
    return expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)


def second_name(name: str) -> str:
    """The derivative spec's name: ``d_relu`` (forward relu', backward relu'')."""
    return f"d_{name}"


def _kink_values(spec: Activation, first: dict) -> dict:
    """f'' at each declared kink of f: the derivative of the branch of the
    kernel-form f' selected at the kink (where SymPy can decide it in the
    params), else left to the branch the kernel takes."""
    x = spec.x
    out = {}
    v0 = spec.variants()[0]
    d2 = drop_delta(sp.diff(first[_vkey(spec, v0)], x))
    for k in spec.kinks:
        val = d2.subs(x, k)
        if not val.has(sp.Piecewise) and not val.has(x):
            out[k] = sp.simplify(val)
    return out


def _vkey(spec, variant):
    if not spec.choice_params:
        return None
    (p,) = spec.choice_params
    return variant.get(p.name, p.default)


@functools.lru_cache(maxsize=None)
def derivative_spec(spec: Activation) -> Activation:
    """The spec of f' for activation ``spec`` (see the module docstring)."""
    x = spec.x
    definitions, stables = {}, {}
    for v in spec.variants():
        d = derive(spec, v)
        key = _vkey(spec, v)
        definitions[key] = drop_delta(sp.diff(_piecewise_minmax(spec.definition(v)), x))
        # the kernel-form derivative (stable, with the kink conventions); its
        # Taylor branch is rebuilt by the engine from the definition
        stables[key] = drop_delta(_general_branch(d.dx) if spec.series is not None else d.dx)
    if spec.choice_params:
        definition, stable = definitions, stables
    else:
        definition, stable = definitions[None], stables[None]
    kinks = _kink_values(spec, stables)
    return Activation(
        second_name(spec.name), definition, params=spec.params, stable=stable,
        kinks=spec.kinks, kink_derivative=kinks, series=spec.series, noise=spec.noise,
        source=f"derivative of {spec.name} ({spec.source})" if spec.source else f"derivative of {spec.name}",
        torch=None, doc=f"{spec.name}'(x) (forward) and {spec.name}''(x) (backward), for double backward.",
        test_params=spec.test_params, family="activation_derivative", domain_note=spec.domain_note)


def derivative_specs(specs) -> list:
    return [derivative_spec(s) for s in specs]


def _second_form(expr):
    """``rules.SECOND_RULES`` wherever their pattern is present: the overflow
    they remove is not a matter of operation count (scaled_exp costs more
    operations than one hazard weighs)."""
    for rule in SECOND_RULES:
        if rule.hazards(expr):
            expr = rule(expr)
    return expr


def far_branch(expr, x, sign):
    """The branch of a Piecewise that holds for all large sign·x (recursively),
    or None when a condition cannot be decided there (it involves a param)."""
    while isinstance(expr, sp.Piecewise):
        for e, c in expr.args:
            v = c.subs(x, sign * sp.Integer(10) ** 100)
            if v == sp.true:
                expr = e
                break
            if v != sp.false:
                return None
        else:
            return None
    return expr


def _limits_by_branch(expr, x):
    """(lim at +oo, lim at -oo) of a Piecewise through the branch holding far
    out (SymPy's limit gives up on the Piecewise itself: isrlu's f' and f'')."""
    out = []
    for sign, direction in ((1, sp.oo), (-1, -sp.oo)):
        b = far_branch(drop_delta(expr), x, sign)
        out.append(None if b is None else _limit(b, x, direction))
    return None if out == [None, None] else tuple(out)


def derive_second(dspec: Activation, variant: dict | None = None) -> Derived:
    """The engine's derivation of a derivative spec (f' forward, f'' and
    d f'/d param backward), with ``rules.SECOND_RULES`` applied to the
    derivatives, and the limits at ±inf of
    the Piecewise ones taken branch by branch."""
    d = derive(dspec, variant)
    x = dspec.x
    limits = dict(d.limits)
    for key, expr in (("forward", d.definition), ("dx", d.raw_dx)):
        if limits.get(key) is None and expr.has(sp.Piecewise):
            limits[key] = _limits_by_branch(expr, x)
    return dataclasses.replace(d, dx=_second_form(d.dx), limits=limits,
                               dparams={k: _second_form(v) for k, v in d.dparams.items()})


def derive_second_all(dspec: Activation) -> list:
    return [derive_second(dspec, v) for v in dspec.variants()]
