"""More element-wise optimizer rules: signSGD, Signum (Bernstein et al. 2018)
and Adan (Xie et al. 2022), as state-update equations like the torch rules of
``symdl.specs.optimizers`` (same prelude, same codegen)."""
from __future__ import annotations

import sympy as sp
from sympy import Eq, Piecewise, sqrt

from .optimizers import (
    MAXIMIZE,
    OptimizerRule,
    State,
    _decay,
    _opt,
    _P,
    _prelude,
    bc1,
    bc2,
    beta1,
    beta2,
    buf,
    delta,
    g,
    lr,
    m,
    momentum,
    t,
    theta,
    weight_decay,
)

# ---------------------------------------------------------------- signSGD, Signum


def _sign_sgd(var):
    return _prelude(var) + [(theta, theta - lr * sp.sign(g))]


SIGN_SGD = OptimizerRule(
    "sign_sgd", hyper=(_P("lr", 1e-3), _P("weight_decay", 0.0)),
    options=(_decay(), MAXIMIZE), equations=_sign_sgd,
    source="Bernstein, Wang, Azizzadenesheli & Anandkumar 2018 (signSGD), Algorithm 1",
    doc="signSGD: θ ← θ - lr·sign(g) (coupled weight decay first; sign(0) = 0).")


def _signum(var):
    return _prelude(var) + [(buf, momentum * buf + (1 - momentum) * g),
                            (theta, theta - lr * sp.sign(buf))]


SIGNUM = OptimizerRule(
    "signum", hyper=(_P("lr", 1e-3), _P("momentum", 0.9), _P("weight_decay", 0.0)),
    options=(_decay(), MAXIMIZE), state=(State("momentum_buffer", buf),), equations=_signum,
    source="Bernstein et al. 2018 (signSGD), Algorithm 3 (Signum); their PyTorch code "
           "(coupled weight decay, the buffer from 0)",
    doc="Signum: the sign of an exponential moving average of the gradient.")


# ---------------------------------------------------------------- Adan
beta3 = sp.Symbol("beta3", real=True)
bc3 = sp.Symbol("bc3", positive=True)
first = sp.Symbol("not_first", real=True)       # 0 on step 1 (no previous gradient: diff = 0), else 1
nd = sp.Symbol("n", real=True)                  # exp_avg_sq
md = sp.Symbol("m_d", real=True)                # exp_avg_diff
g_prev = sp.Symbol("g_prev", real=True)         # pre_grad
eps = sp.Symbol("eps", real=True)


def _adan(var):
    eqs = [(g, -g)] if var["maximize"] else []
    eqs += [(delta, first * (g - g_prev)),
            (m, beta1 * m + (1 - beta1) * g),
            (md, beta2 * md + (1 - beta2) * delta),
            (nd, beta3 * nd + (1 - beta3) * (g + beta2 * delta)**2)]
    step = lr * (m / bc1 + beta2 * md / bc2) / (sqrt(nd) / sqrt(bc3) + eps)
    if var["no_prox"]:
        eqs.append((theta, theta * (1 - lr * weight_decay) - step))
    else:
        eqs.append((theta, (theta - step) / (1 + lr * weight_decay)))
    return eqs + [(g_prev, g)]


ADAN = OptimizerRule(
    "adan", hyper=(_P("lr", 1e-3), _P("beta1", 0.98), _P("beta2", 0.92), _P("beta3", 0.99),
                   _P("eps", 1e-8), _P("weight_decay", 0.0)),
    options=(_opt("no_prox", False, (False, True),
                  "False: θ ← (θ - step)/(1 + lr·λ) (the paper's proximal form); "
                  "True: θ ← θ(1 - lr·λ) - step"), MAXIMIZE),
    state=(State("exp_avg", m), State("exp_avg_diff", md), State("exp_avg_sq", nd),
           State("pre_grad", g_prev)),
    scalars={bc1: 1 - beta1**t, bc2: 1 - beta2**t, bc3: 1 - beta3**t,
             first: Piecewise((0, Eq(t, 1)), (1, True))},
    equations=_adan,
    source="Xie et al. 2022 (Adan: Adaptive Nesterov Momentum), Algorithm 1; the authors' "
           "PyTorch code (sail-sg/Adan: β as the weights of the old averages, bias "
           "corrections, the previous gradient = g on step 1)",
    doc="Adan: Nesterov momentum estimated from the gradient difference g - g_prev; "
        "three moving averages (g, the difference, (g + β₂·diff)²).")


MORE_RULES = (SIGN_SGD, SIGNUM, ADAN)
