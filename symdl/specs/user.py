"""The public API for your own specs (``symdl generate --spec-file FILE``).

Everything a spec file needs, importable from ``symdl.specs``:

* activations: ``Activation(name, expr, params=(Param(...), ...), stable=...)``
  in the input ``x`` and the parameters' symbols (``Param(...).symbol``);
  ``Param(..., learnable=True)`` gets a gradient and trains in ``nn.Activation``;
* elementwise losses: ``elementwise_loss(name, term, ...)``, a term in the
  input ``x`` and the target ``y``, reduced by torch's ``reduction``;
* optimizer rules: ``OptimizerRule(name, hyper=..., state=..., equations=...)``,
  sequential assignments over the parameter ``theta``, its gradient ``g``
  and the step count ``t`` (1 on the first step), with ``hyper(...)``,
  ``option(...)``, ``State(...)``, and torch's preamble ``prelude(variant)``
  (maximize, weight decay) behind ``MAXIMIZE`` and ``weight_decay_option()``.

Derivatives are never written: the engine derives them.
"""
from __future__ import annotations

import sympy as sp

from .base import Param
from .losses import REDUCTIONS, X, Y, Y_GRAD, TermLoss
from .optimizers import (
    ADAM_BC,
    MAXIMIZE,
    OptimizerRule,
    ScalarState,
    State,
    _decay,
    _opt,
    _prelude,
    bc1,
    bc2,
    g,
    t,
    theta,
)

__all__ = ["elementwise_loss", "y", "OptimizerRule", "State", "ScalarState", "hyper", "option",
           "MAXIMIZE", "weight_decay_option", "prelude", "theta", "g", "t", "bc1", "bc2",
           "ADAM_BIAS_CORRECTIONS"]

#: the target of an elementwise loss (the input is ``x``)
y = Y.symbol

#: Adam's bias corrections as step scalars: {bc1: 1 - beta1**t, bc2: 1 - beta2**t}
#: (give ``scalars=dict(ADAM_BIAS_CORRECTIONS)`` and hyperparameters beta1, beta2)
ADAM_BIAS_CORRECTIONS = dict(ADAM_BC)


def elementwise_loss(name: str, term, *, params=(), stable=None, target_grad=False,
                     default_reduction="mean", source="", doc="", torch=None) -> TermLoss:
    """A loss ``L(input, target)`` = the reduction of ``term(x, y)`` over the
    elements (torch's ``reduction``: "mean", "sum" or "none").

    term: a SymPy expression in ``x`` (the input), ``y`` (the target) and the
        symbols of ``params`` (scalar ``Param``s, runtime keyword arguments).
    stable: optional numerically stable form of the term (checked equal to it).
    target_grad: also return the gradient wrt the target.
    """
    if default_reduction not in REDUCTIONS:
        raise ValueError(f"{name}: default_reduction must be one of {REDUCTIONS}")
    return TermLoss(name, term, (X, Y_GRAD if target_grad else Y), scalars=tuple(params),
                    stable=stable, default_reduction=default_reduction, group="user",
                    source=source, doc=doc, torch=torch)


def hyper(name: str, default: float, doc: str = "") -> Param:
    """A runtime hyperparameter of an optimizer rule (``.symbol`` in the equations)."""
    return Param(name, default, doc=doc)


def option(name: str, default, choices, doc: str = "") -> Param:
    """A static option of a rule: each value renders its own fused kernel."""
    return Param(name, default, kind="choice", choices=tuple(choices), doc=doc)


def weight_decay_option(default: bool = False) -> Param:
    """The ``has_weight_decay`` option: ``symdl.optim.from_rule`` sets it from
    ``weight_decay != 0`` (no decay term at all at 0, as torch)."""
    return _decay(default)


def prelude(variant: dict, decoupled: bool = False) -> list:
    """torch's first assignments: g ← -g (maximize), then weight decay when
    has_weight_decay: coupled g ← g + λθ, or decoupled θ ← θ(1 - lr·λ)
    (the rule needs hyperparameters ``lr`` and ``weight_decay``)."""
    return _prelude(variant, decoupled=decoupled)
