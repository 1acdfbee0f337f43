"""Adafactor (Shazeer & Stern 2018; torch.optim.Adafactor, torch 2.13): the
second moment of a matrix kept as a row and a column statistic.

For a parameter with two or more dimensions (the last two factored, the
leading ones a batch), per step::

    R_i ← R_i + w·(mean_j g_ij² - R_i)        row_var   (w = t^beta2_decay)
    C_j ← C_j + w·(mean_i g_ij² - C_j)        col_var
    v̂_ij = R_i·C_j / max(mean_i R_i, eps1)
    u_ij = g_ij / √max(v̂_ij, eps1²)
    α = max(eps2, ‖θ‖/√N)·min(lr, 1/√t),   D = max(1, ‖u‖/(√N·d))
    θ ← θ(1 - lr·λ) - (α/D)·u                 (‖θ‖ before the decay, as torch)

and for a vector the unfactored v ← v + w·(g² - v), v̂ = v.  The element
expressions (the moving average, v̂, u, the new θ) and the per-tensor scalars
are SymPy here; ``symdl.codegen.optimizers`` prints them into the loops of one
kernel per layout (rows, columns, then the two element passes).

The matrix kernel computes u in its factored form (``direction_split``)::

    a_i = 1/√(R_i / max(mean_i R_i, eps1))     once per row
    b_j = 1/√C_j                               once per column
    u_ij = g_ij · min(1/eps1, a_i·b_j)

(√ and max commute, and 1/√(v̂) = a_i·b_j for R, C ≥ 0): two products and a
min per element instead of a division, a square root and a second division.
``tests/test_optimizers_extra.py`` proves it equal to ``direction`` with
``vhat_matrix`` (symbolically on each side of the clamp, and at 60 digits on
zeros, tiny and huge statistics).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp
from sympy import Max, Min, sqrt

from .optimizers import MAXIMIZE, OptimizerRule, State, _decay, _P, g, lr, t, theta, weight_decay

beta2_decay = sp.Symbol("beta2_decay", real=True)
eps1 = sp.Symbol("eps1", real=True)
eps2 = sp.Symbol("eps2", real=True)
d = sp.Symbol("d", real=True)

w = sp.Symbol("w_t", positive=True)            # step scalar: the moving average's weight
rho = sp.Symbol("rho_t", positive=True)        # step scalar: min(lr, 1/√t)
old = sp.Symbol("s", real=True)                # a statistic before the step
mean = sp.Symbol("s_mean", real=True)          # the step's mean of g² over a row / column
R = sp.Symbol("R", real=True)                  # row_var (of this element's row)
C = sp.Symbol("C", real=True)                  # col_var (of its column)
rbar = sp.Symbol("R_mean", real=True)          # mean of row_var over the rows
vhat = sp.Symbol("v_hat", real=True)
u = sp.Symbol("u", real=True)
w_sq = sp.Symbol("w_sq", nonnegative=True)     # Σθ²
u_sq = sp.Symbol("u_norm_sq", nonnegative=True)  # Σu²
N = sp.Symbol("N", positive=True)              # the tensor's element count
alpha = sp.Symbol("alpha_t", real=True)
denom = sp.Symbol("D_t", positive=True)
v = sp.Symbol("v", real=True)                  # the vector's variance
a_row = sp.Symbol("a_row", nonnegative=True)   # the matrix form's per-row factor of 1/√v̂
b_col = sp.Symbol("b_col", nonnegative=True)   # ... and per-column factor


@dataclass(frozen=True, eq=False)
class FactoredRule(OptimizerRule):
    """A rule with factored second moments (see the module docstring):
    ``stat`` the element term averaged per row/column, ``ema`` a statistic's
    new value (in ``old`` and ``mean``), ``vhat`` the matrix estimate (in R, C
    and their row mean), ``direction`` u (in g and v̂), ``tensor_scalars``
    (in w_sq, u_sq, N), ``new_theta`` (in θ, u and the tensor scalars);
    the matrix kernel's form of u: ``direction_split`` (in g, a_row, b_col),
    ``row_factor`` (in R, R_mean) and ``col_factor`` (in C), proven equal to
    ``direction`` with ``vhat_matrix``."""

    stat: object = None
    ema: object = None
    vhat_matrix: object = None
    direction: object = None
    tensor_scalars: dict = field(default_factory=dict)
    new_theta: object = None
    row_factor: object = None
    col_factor: object = None
    direction_split: object = None

    def content_hash(self) -> str:
        import hashlib

        parts = [super().content_hash()] + [sp.srepr(sp.sympify(e)) for e in (
            self.stat, self.ema, self.vhat_matrix, self.direction, self.row_factor, self.col_factor,
            self.direction_split)]
        parts += [sp.srepr(sp.sympify(self.new_theta(v))) for v in self.variants()]
        parts += [sp.srepr(k) + "=" + sp.srepr(e) for k, e in self.tensor_scalars.items()]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _prelude(var):
    return [(g, -g)] if var["maximize"] else []


def _adafactor_equations(var):
    """The matrix form, for LaTeX (``update``): the factored statistics, v̂, u, θ."""
    ema = ADAFACTOR_EMA
    return _prelude(var) + [
        (R, ema.xreplace({old: R, mean: sp.Symbol("\\overline{g^2}_{row}", real=True)})),
        (C, ema.xreplace({old: C, mean: sp.Symbol("\\overline{g^2}_{col}", real=True)})),
        (vhat, ADAFACTOR_VHAT), (u, ADAFACTOR_U), (theta, _new_theta(var))]


def _new_theta(var):
    th = theta * (1 - lr * weight_decay) if var["has_weight_decay"] else theta
    return th - alpha / denom * u


ADAFACTOR_EMA = old + w * (mean - old)
ADAFACTOR_VHAT = R * C / Max(rbar, eps1)
ADAFACTOR_U = g / sqrt(Max(vhat, eps1**2))
#: the matrix kernel's u: 1/√max(v̂, eps1²) = min(1/eps1, a_row·b_col)
ADAFACTOR_ROW_FACTOR = 1 / sqrt(R / Max(rbar, eps1))
ADAFACTOR_COL_FACTOR = 1 / sqrt(C)
ADAFACTOR_U_SPLIT = g * Min(1 / eps1, a_row * b_col)

ADAFACTOR = FactoredRule(
    "adafactor",
    hyper=(_P("lr", 1e-2), _P("beta2_decay", -0.8), _P("eps1", 1.1920928955078125e-07),
           _P("eps2", 1e-3), _P("d", 1.0), _P("weight_decay", 0.0)),
    options=(_decay(), MAXIMIZE),
    state=(State("row_var", R), State("col_var", C), State("variance", v)),
    scalars={w: t**beta2_decay, rho: Min(lr, 1 / sqrt(t))},
    equations=_adafactor_equations,
    stat=g**2, ema=ADAFACTOR_EMA, vhat_matrix=ADAFACTOR_VHAT, direction=ADAFACTOR_U,
    tensor_scalars={alpha: Max(eps2, sqrt(w_sq / N)) * rho, denom: Max(1, sqrt(u_sq / N) / d)},
    new_theta=_new_theta,
    row_factor=ADAFACTOR_ROW_FACTOR, col_factor=ADAFACTOR_COL_FACTOR, direction_split=ADAFACTOR_U_SPLIT,
    torch="optim.Adafactor",
    source="Shazeer & Stern 2018 (Adafactor), Algorithms 4-5; torch.optim.Adafactor (torch 2.13: "
           "beta2_decay, eps=(eps1, eps2), d, decoupled weight_decay, maximize)",
    doc="Adafactor: a matrix's second moment as row and column moving averages of g² "
        "(their outer product over their mean), relative step size max(eps2, RMS(θ))·min(lr, 1/√t), "
        "update clipped to RMS ≤ d. eps1 defaults to the float32 machine epsilon (torch: the "
        "parameter dtype's).")

FACTORED_RULES = (ADAFACTOR,)
