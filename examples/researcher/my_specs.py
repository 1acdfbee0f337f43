"""A researcher's own specs: a new activation with a learnable parameter, a
new loss and a new update rule.  Generate, check, print and train with them:

    symdl generate --spec-file examples/researcher/my_specs.py --out my_kernels
    symdl latex smelu --spec-file examples/researcher/my_specs.py
    python examples/researcher/train_digits.py my_kernels

No derivative is written here: symdl derives them (and the gradient of the
loss, and nothing at all for the rule, whose equations are the update).
"""
import sympy as sp
from sympy.codegen.cfunctions import log1p

from symdl.specs import (ADAM_BIAS_CORRECTIONS, MAXIMIZE, Activation, OptimizerRule, Param, State,
                         bc1, bc2, elementwise_loss, g, hyper, prelude, theta,
                         weight_decay_option, x, y)

# ---- SmeLU (Shamir et al. 2022, "Smooth activations and reproducibility"):
# a ReLU whose corner is replaced by a parabola of half-width `beta`, here
# learnable (one value per channel, like PReLU's weight).  Its joins at
# x = +-beta are C1: no kink, so `kinks` stays empty.
BETA = Param("beta", 1.0, learnable=True, positive=True, doc="half-width of the quadratic part")
b = BETA.symbol
smelu = Activation(
    "smelu",
    sp.Piecewise((0, x <= -b), ((x + b) ** 2 / (4 * b), x < b), (x, True)),
    params=(BETA,), source="Shamir, Lin & Coviello 2022 (SmeLU), learnable beta",
    doc="0 for x <= -beta, (x + beta)^2 / (4 beta) for |x| < beta, x above.")

# ---- log-cosh loss: quadratic near 0, linear in the tails (a smooth Huber).
# The definition log(cosh(x - y)) overflows for |x - y| > 710.  The declared
# stable form (proven equal to it by the tests) has no cancellation: near 0
# log1p(2 sinh(u/2)^2) (cosh u - 1 = 2 sinh(u/2)^2), elsewhere
# |u| - log 2 + log1p(exp(-2|u|)).
u = x - y
log_cosh = elementwise_loss(
    "log_cosh_loss", sp.log(sp.cosh(u)),
    stable=sp.Piecewise((log1p(2 * sp.sinh(u / 2) ** 2), sp.Abs(u) < 1),
                        (sp.Abs(u) - sp.log(2) + log1p(sp.exp(-2 * sp.Abs(u))), True)),
    source="log-cosh regression loss", doc="log(cosh(x - y)), reduced (mean by default).")

# ---- centered Adam: Adam whose denominator is the root of the gradient's
# running *variance* E[g^2] - E[g]^2 (both at beta2, as torch's centered
# RMSprop; it is >= 0 in exact arithmetic, and clamped at 0 against
# rounding), bias-corrected like Adam's second moment.
LR, B1, B2, EPS, WD = (hyper("lr", 1e-3), hyper("beta1", 0.9), hyper("beta2", 0.999),
                       hyper("eps", 1e-8), hyper("weight_decay", 0.0))
m, mg, s = sp.Symbol("m", real=True), sp.Symbol("m_g", real=True), sp.Symbol("s", real=True)
var = sp.Symbol("var", real=True)    # a temporary


def _centered_adam(variant):
    lr, b1, b2, eps = LR.symbol, B1.symbol, B2.symbol, EPS.symbol
    return prelude(variant) + [
        (m, b1 * m + (1 - b1) * g),
        (mg, b2 * mg + (1 - b2) * g),
        (s, b2 * s + (1 - b2) * g ** 2),
        (var, sp.Piecewise((s - mg ** 2, s > mg ** 2), (0, True))),
        (theta, theta - lr * (m / bc1) / (sp.sqrt(var / bc2) + eps)),
    ]


centered_adam = OptimizerRule(
    "centered_adam", hyper=(LR, B1, B2, EPS, WD), options=(weight_decay_option(), MAXIMIZE),
    state=(State("exp_avg", m), State("grad_avg", mg), State("exp_avg_sq", s)),
    scalars=dict(ADAM_BIAS_CORRECTIONS), equations=_centered_adam,
    source="Adam with a centered second moment (torch's centered RMSprop + Adam's momentum)",
    doc="m <- b1 m + (1-b1) g; m_g, s: running mean of g and g^2 at b2; "
        "step lr (m/bc1) / (sqrt(max(s - m_g^2, 0)/bc2) + eps).")

SPECS = [smelu, log_cosh, centered_adam]
