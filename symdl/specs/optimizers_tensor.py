"""Optimizer rules with per-tensor reductions (LAMB, LARS): a trust ratio
from norms over the whole parameter tensor.

Such a rule is two element passes around a per-tensor step::

    pass 1 (per element):  the state updates of ``equations``; the terms of
                           ``reductions`` summed over the tensor (‖θ‖², ‖r‖²)
    per tensor:            ``tensor_scalars`` from those sums (float64):
                           the trust ratio
    pass 2 (per element):  ``final``: θ (and states) from pass 1's new values
                           and the tensor scalars

``symdl.codegen.optimizers`` renders both passes and the per-tensor step into
one fused kernel per variant (the same call as the element-wise rules'
kernels, so ``symdl.optim`` runs them unchanged).  A temporary that pass 2
needs (LAMB's r) is recomputed there from the stored new states, so no
temporary array is written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import sympy as sp
from sympy import Eq, Piecewise, sqrt

from .optimizers import (
    MAXIMIZE,
    OptimizerRule,
    State,
    _decay,
    _opt,
    _P,
    bc1,
    bc2,
    beta1,
    beta2,
    buf,
    eps,
    g,
    lr,
    m,
    momentum,
    t,
    theta,
    v,
    weight_decay,
)

#: per-tensor sums and the scalars computed from them
w_sq = sp.Symbol("w_sq", nonnegative=True)       # Σθ²
u_sq = sp.Symbol("u_sq", nonnegative=True)       # Σr² (the update's square norm)
ratio = sp.Symbol("phi", real=True)              # the trust ratio
r = sp.Symbol("r", real=True)                    # the update direction (a temporary)
eps_root = sp.Symbol("eps_root", real=True)
trust = sp.Symbol("trust_coefficient", real=True)


@dataclass(frozen=True, eq=False)
class TensorRule(OptimizerRule):
    """An optimizer rule whose step needs sums over the whole tensor.

    equations: variant -> pass-1 assignments (states; temporaries).
    reductions: symbol -> element term, summed over the tensor, in pass 1's
        values (after its assignments).
    tensor_scalars: symbol -> expression of the sums, hyperparameters and
        step scalars (ordered; computed in float64 once per tensor).
    final: variant -> pass-2 assignments; they see pass 1's new states, the
        unchanged θ and g (pass 2 applies ``maximize`` again where it reads g)
        and the tensor scalars.
    """

    reductions: dict = field(default_factory=dict)
    tensor_scalars: dict = field(default_factory=dict)
    final: Callable | None = None
    #: per-tensor state carried between steps (NovoGrad's layer-wise second
    #: moment): a State whose symbol is its old value in ``tensor_scalars``,
    #: and the tensor scalar that is its new value (``tensor_state_update``)
    tensor_state: tuple = ()
    tensor_state_update: dict = field(default_factory=dict)

    def pass1(self, variant=None) -> tuple:
        return tuple(self.equations(self.full_variant(variant)))

    def pass2(self, variant=None) -> tuple:
        return tuple(self.final(self.full_variant(variant)))

    def update(self, variant=None) -> tuple:
        """Both passes' assignments in order (the tensor scalars appear as
        symbols: the element-wise view of one step)."""
        return self.pass1(variant) + self.pass2(variant)

    def content_hash(self) -> str:
        import hashlib

        parts = [super().content_hash()]
        for k, e in (list(self.reductions.items()) + list(self.tensor_scalars.items())
                     + list(self.tensor_state_update.items())):
            parts.append(sp.srepr(k) + "=" + sp.srepr(sp.sympify(e)))
        for s in self.tensor_state:
            parts.append(repr((s.key, sp.srepr(s.symbol), sp.srepr(sp.sympify(s.init)))))
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _guarded_ratio(num_sq, den_sq, coef=1, den_eps=0):
    """coef·‖a‖/(‖b‖ + eps), and 1 where either norm is 0 (optax's
    scale_by_trust_ratio; the LAMB paper's φ = identity)."""
    return Piecewise((1, Eq(num_sq, 0)), (1, Eq(den_sq, 0)),
                     (coef * sqrt(num_sq) / (sqrt(den_sq) + den_eps), True))


# ---------------------------------------------------------------- LAMB
def _lamb_direction(var):
    """r = m̂/(√(v̂ + eps_root) + eps) (+ λθ), in the new m, v."""
    mh, vh = (m / bc1, v / bc2) if var["bias_correction"] else (m, v)
    d = mh / (sqrt(vh + eps_root) + eps)
    return d + weight_decay * theta if var["has_weight_decay"] else d


def _lamb_pass1(var):
    eqs = [(g, -g)] if var["maximize"] else []
    return eqs + [(m, beta1 * m + (1 - beta1) * g),
                  (v, beta2 * v + (1 - beta2) * g**2),
                  (r, _lamb_direction(var))]


def _lamb_pass2(var):
    return [(r, _lamb_direction(var)), (theta, theta - lr * ratio * r)]


LAMB = TensorRule(
    "lamb",
    hyper=(_P("lr", 1e-3), _P("beta1", 0.9), _P("beta2", 0.999), _P("eps", 1e-6),
           _P("eps_root", 0.0), _P("weight_decay", 0.0)),
    options=(_opt("bias_correction", True, (True, False),
                  "m̂ = m/(1-β₁ᵗ), v̂ = v/(1-β₂ᵗ) (optax; the LAMB paper's Algorithm 2); "
                  "False: m and v as they are"),
             _decay(), MAXIMIZE),
    state=(State("exp_avg", m), State("exp_avg_sq", v)),
    scalars={bc1: 1 - beta1**t, bc2: 1 - beta2**t},
    equations=_lamb_pass1, final=_lamb_pass2,
    reductions={w_sq: theta**2, u_sq: r**2},
    tensor_scalars={ratio: _guarded_ratio(w_sq, u_sq)},
    source="You et al. 2020 (Large Batch Optimization for Deep Learning), Algorithm 2; "
           "optax.lamb (scale_by_adam, add_decayed_weights, scale_by_trust_ratio)",
    doc="LAMB: Adam's direction r (plus λθ), scaled per tensor by the trust ratio "
        "φ = ‖θ‖/‖r‖ (1 where either norm is 0, as optax): θ ← θ - lr·φ·r.")


# ---------------------------------------------------------------- LARS
def _lars_direction(var):
    gg = -g if var["maximize"] else g
    return gg + weight_decay * theta if var["has_weight_decay"] else gg


def _lars_pass1(var):
    return [(r, _lars_direction(var))]


def _lars_pass2(var):
    eqs = [(r, _lars_direction(var)), (buf, momentum * buf + lr * ratio * r)]
    if var["nesterov"]:
        return eqs + [(theta, theta - (lr * ratio * r + momentum * buf))]
    return eqs + [(theta, theta - buf)]


LARS = TensorRule(
    "lars",
    hyper=(_P("lr", 1e-3), _P("momentum", 0.9), _P("weight_decay", 0.0),
           _P("trust_coefficient", 1e-3), _P("eps", 0.0)),
    options=(_opt("nesterov", False, (False, True)), _decay(), MAXIMIZE),
    state=(State("momentum_buffer", buf),),
    equations=_lars_pass1, final=_lars_pass2,
    reductions={w_sq: theta**2, u_sq: r**2},
    tensor_scalars={ratio: _guarded_ratio(w_sq, u_sq, trust, eps)},
    source="You, Gitman & Ginsburg 2017 (Large Batch Training of Convolutional Networks); "
           "optax.lars (add_decayed_weights, scale_by_trust_ratio, trace)",
    doc="LARS: the gradient plus λθ, scaled per tensor by η_tc·‖θ‖/(‖g + λθ‖ + eps) (1 where "
        "either norm is 0), into heavy-ball (or Nesterov) momentum: b ← μb + lr·φ·r, θ ← θ - b "
        "(optax's trace of the negated update, b = -trace).")


# ---------------------------------------------------------------- NovoGrad
g_sq = sp.Symbol("g_sq", nonnegative=True)       # Σg² (this step)
v_layer = sp.Symbol("v", nonnegative=True)       # the layer's second moment (per tensor)
v_new = sp.Symbol("v_t", nonnegative=True)


def _novograd_direction(var):
    gg = -g if var["maximize"] else g
    d = gg / (sqrt(v_new) + eps)
    return d + weight_decay * theta if var["has_weight_decay"] else d


def _novograd_pass1(var):
    return []    # only the sum Σg² (maximize flips g in pass 2)


def _novograd_pass2(var):
    r_ = _novograd_direction(var)
    step = (1 - beta1) * r_ if var["grad_averaging"] else r_
    return [(m, beta1 * m + step), (theta, theta - lr * m)]


NOVOGRAD = TensorRule(
    "novograd",
    hyper=(_P("lr", 1e-3), _P("beta1", 0.95), _P("beta2", 0.98), _P("eps", 1e-8),
           _P("weight_decay", 0.0)),
    options=(_opt("grad_averaging", False, (False, True),
                  "True: m ← β₁m + (1-β₁)(...) (apex's FusedNovoGrad default); False: the paper's "
                  "m ← β₁m + (...)"), _decay(), MAXIMIZE),
    state=(State("exp_avg", m),),
    equations=_novograd_pass1, final=_novograd_pass2,
    reductions={g_sq: g**2},
    tensor_scalars={v_new: Piecewise((g_sq, Eq(t, 1)), (beta2 * v_layer + (1 - beta2) * g_sq, True))},
    tensor_state=(State("exp_avg_sq", v_layer, 0, "the layer-wise second moment (one number)"),),
    tensor_state_update={v_layer: v_new},
    source="Ginsburg et al. 2019 (Stochastic Gradient Methods with Layer-wise Adaptive Moments), "
           "Algorithm 1 (v₁ = ‖g₁‖²; eps at every step, as OpenSeq2Seq and apex)",
    doc="NovoGrad: Adam's second moment replaced by one number per tensor, the moving average "
        "of ‖g‖²; the normalized gradient (plus λθ) goes into momentum.")


TENSOR_RULES = (LAMB, LARS, NOVOGRAD)
