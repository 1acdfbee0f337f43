"""Optimizer rules (CATALOG.md, "Optimizer rules") as state-update equations.

A rule is a short list of *sequential* assignments, in torch's order (the
single-tensor path of ``torch/optim/*.py``, torch 2.13)::

    g ← -g                      (maximize)
    g ← g + weight_decay·θ      (coupled L2)   or   θ ← θ(1 - lr·weight_decay)  (decoupled);
                                both only when weight_decay != 0 (has_weight_decay)
    m ← β₁m + (1-β₁)g
    ...
    θ ← θ - lr/bc₁ · m / (√v/√bc₂ + eps)

over per-element symbols (θ, g and the state arrays), the rule's scalar
hyperparameters, the step count ``t`` and *step scalars* (bias corrections and
the like: expressions in ``t`` and the hyperparameters only, computed once per
step).  Options (choice params) select variants, each rendered into its own
fused kernel.  No numeric code lives here: ``symdl.codegen.optimizers``
composes the assignments, hoists every subexpression that does not depend on
the element into a small scalar function and prints both.

The notes' momentum notations (seed 001 §3.1-3.3, seed 002 §10.2-10.6,
seed 003) are specs too (``NOTATIONS``); each states the reparametrization
under which it equals a torch rule, and ``tests/test_optimizers.py`` proves it
by unrolling both symbolically over several steps.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable

import sympy as sp
from sympy import Eq, Max, Piecewise, Rational, sqrt

from .base import Param

R = Rational

#: per-element symbols
theta = sp.Symbol("theta", real=True)
g = sp.Symbol("g", real=True)
#: the step count (1 on the first step)
t = sp.Symbol("t", integer=True, positive=True)

# hyperparameters (torch names; Adam's betas are beta1, beta2)
lr = sp.Symbol("lr", real=True)
momentum = sp.Symbol("momentum", real=True)
dampening = sp.Symbol("dampening", real=True)
weight_decay = sp.Symbol("weight_decay", real=True)
beta1 = sp.Symbol("beta1", real=True)
beta2 = sp.Symbol("beta2", real=True)
eps = sp.Symbol("eps", real=True)
alpha = sp.Symbol("alpha", real=True)
rho = sp.Symbol("rho", real=True)
lr_decay = sp.Symbol("lr_decay", real=True)
momentum_decay = sp.Symbol("momentum_decay", real=True)
init_acc = sp.Symbol("initial_accumulator_value", real=True)

# state symbols
buf = sp.Symbol("b", real=True)            # momentum buffer
m = sp.Symbol("m", real=True)              # first moment (exp_avg)
v = sp.Symbol("v", real=True)              # second moment (exp_avg_sq)
v_max = sp.Symbol("v_max", real=True)      # amsgrad's running max
u = sp.Symbol("u", real=True)              # adamax's exp_inf
acc = sp.Symbol("s", real=True)            # adagrad's sum
a = sp.Symbol("a", real=True)              # rmsprop's square_avg / adadelta's square_avg
mg = sp.Symbol("m_g", real=True)           # rmsprop centered: grad_avg
dx = sp.Symbol("d", real=True)             # adadelta's acc_delta
delta = sp.Symbol("delta", real=True)      # temporaries
mu_prod = sp.Symbol("mu_prod", positive=True)  # nadam's mu_product (a per-parameter scalar)

# step scalars
bc1 = sp.Symbol("bc1", positive=True)
bc2 = sp.Symbol("bc2", positive=True)
damp_t = sp.Symbol("damp_t", real=True)
clr = sp.Symbol("clr", real=True)
mu_t = sp.Symbol("mu_t", positive=True)
mu_next = sp.Symbol("mu_next", positive=True)
rho_inf = sp.Symbol("rho_inf", real=True)
rho_t = sp.Symbol("rho_t", real=True)
rect = sp.Symbol("r_t", real=True)


@dataclass(frozen=True)
class State:
    """A per-element state array: torch's state_dict ``key``, its symbol and
    its initial value (a number or a hyperparameter symbol)."""

    key: str
    symbol: sp.Symbol
    init: Any = 0
    doc: str = ""


@dataclass(frozen=True)
class ScalarState:
    """A per-parameter scalar carried from step to step (nadam's mu_product):
    ``update`` is its new value (in ``t``, hyperparameters, step scalars and
    itself), evaluated after the step scalars; the element equations see the
    updated value (torch updates mu_product before the step)."""

    key: str
    symbol: sp.Symbol
    init: Any
    update: Any


@dataclass(frozen=True)
class Notation:
    """How a notes' form maps onto a torch rule: ``rule`` with ``variant``,
    hyperparameters ``hyper`` (torch name -> expression in the notes'
    symbols), and ``param``: the torch parameter as an expression of the
    notes' symbols after the same step (θ itself, or a look-ahead point)."""

    rule: str
    variant: dict
    hyper: dict
    #: torch's parameter before each step, in terms of the notes' state before
    #: the same step; for look-ahead forms this is the point where the notes
    #: evaluate the gradient (θ - βv), so both forms see the same g₁, g₂, ...
    param: Any = theta
    #: values the notes' own symbols must take for the equivalence (e.g. ν = 0
    #: where the notes put eps inside the square root and torch outside)
    fix: dict = field(default_factory=dict)
    note: str = ""
    #: non-empty: the notes' form is NOT torch's under this mapping; says
    #: precisely where they differ (the unrolling test shows the difference)
    differs: str = ""


@dataclass(frozen=True, eq=False)
class OptimizerRule:
    """An optimizer rule: sequential state-update equations per variant.

    hyper: runtime scalar hyperparameters (``Param``, torch defaults).
    options: choice params; every combination is a variant with its own kernels.
    state: every per-element state array the rule may use (a variant uses
        those its equations assign).
    equations: variant -> tuple of (symbol, expression), applied in order
        (later right-hand sides see earlier results, as in torch's code).
    scalars: step scalars, symbol -> expression in ``t``, hyperparameters,
        scalar state and earlier step scalars (ordered).
    """

    name: str
    hyper: tuple
    equations: Callable[[dict], tuple]
    options: tuple = ()
    state: tuple = ()
    scalars: dict = field(default_factory=dict)
    scalar_state: tuple = ()
    torch: str | None = None
    source: str = ""
    doc: str = ""
    notation: Notation | None = None
    family: str = "optimizer"
    kernels: bool = True

    # ---- variants -----------------------------------------------------------
    @property
    def params(self) -> tuple:
        return tuple(self.hyper) + tuple(self.options)

    @property
    def choice_params(self) -> tuple:
        return tuple(self.options)

    def variants(self) -> list[dict]:
        combos = [{}]
        for p in self.options:
            combos = [dict(c, **{p.name: val}) for c in combos for val in p.choices]
        return combos

    def full_variant(self, variant: dict | None = None) -> dict:
        variant = dict(variant or {})
        names = {p.name for p in self.options}
        for k in variant:
            if k not in names:
                raise KeyError(f"{self.name} has no option {k!r}; options: {sorted(names)}")
        return {p.name: variant.get(p.name, p.default) for p in self.options}

    def variant_key(self, variant: dict | None = None) -> str:
        full = self.full_variant(variant)
        parts = [self.name]
        for p in self.options:
            val = full[p.name]
            parts.append(f"{p.name}{int(val)}" if isinstance(val, bool) else f"{p.name}_{val}")
        return "__".join(parts)

    def update(self, variant: dict | None = None) -> tuple:
        """The ordered assignments of this variant."""
        return tuple(self.equations(self.full_variant(variant)))

    def states(self, variant: dict | None = None) -> tuple:
        """The state arrays this variant reads or writes (spec order)."""
        assigned = {lhs for lhs, _ in self.update(variant)}
        return tuple(s for s in self.state if s.symbol in assigned)

    # ---- symbols --------------------------------------------------------------
    @property
    def hyper_symbols(self) -> dict:
        return {p.name: p.symbol for p in self.hyper}

    def composed(self, variant: dict | None = None) -> dict:
        """{symbol: new value in terms of the old values} after one step: the
        sequential assignments composed (θ and every state of the variant)."""
        env: dict = {}
        for lhs, rhs in self.update(variant):
            env[lhs] = sp.sympify(rhs).xreplace(env) if env else sp.sympify(rhs)
        outs = [theta] + [s.symbol for s in self.states(variant)]
        return {sym: env.get(sym, sym) for sym in outs}

    def step_scalars(self, step_values: dict | None = None) -> dict:
        """Step scalars as expressions of t, hyperparameters and scalar state
        (earlier step scalars substituted)."""
        out: dict = {}
        for sym, e in self.scalars.items():
            out[sym] = sp.sympify(e).xreplace(out)
        return out

    def content_hash(self) -> str:
        parts = [self.name, self.family, repr(self.kernels)]
        for p in self.params:
            parts.append(repr((p.name, str(p.default), p.kind, p.choices)))
        for s in self.state:
            parts.append(repr((s.key, sp.srepr(s.symbol), sp.srepr(sp.sympify(s.init)))))
        for s in self.scalar_state:
            parts.append(repr((s.key, sp.srepr(s.symbol), sp.srepr(sp.sympify(s.init)),
                               sp.srepr(sp.sympify(s.update)))))
        for k, e in self.scalars.items():
            parts.append(sp.srepr(k) + "=" + sp.srepr(sp.sympify(e)))
        for var in self.variants():
            for lhs, rhs in self.update(var):
                parts.append(sp.srepr(lhs) + "<-" + sp.srepr(sp.sympify(rhs)))
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- helpers
def _P(name, default, doc=""):
    return Param(name, default, doc=doc)


def _opt(name, default, choices, doc=""):
    return Param(name, default, kind="choice", choices=tuple(choices), doc=doc)


MAXIMIZE = _opt("maximize", False, (False, True), "ascend: the gradient's sign is flipped first")


def _decay(default=False):
    """torch tests ``weight_decay != 0`` and skips the decay term at 0.  So do
    the kernels: g + 0·θ is not g when θ is ±inf or nan (it would put nan into
    the moments where torch's stay finite), and the term costs a load-to-use
    multiply on every element of every step."""
    return _opt("has_weight_decay", default, (False, True),
                "torch's weight_decay != 0: the decay term (skipped at 0, as torch does)")


def _prelude(var, decoupled=False):
    """maximize, then weight decay (when has_weight_decay): coupled
    (g ← g + λθ) or decoupled (θ ← θ(1 - lr·λ))."""
    eqs = []
    if var.get("maximize"):
        eqs.append((g, -g))
    if not var.get("has_weight_decay"):
        return eqs
    if decoupled:
        eqs.append((theta, theta * (1 - lr * weight_decay)))
    else:
        eqs.append((g, g + weight_decay * theta))
    return eqs


# ---------------------------------------------------------------- torch's rules
def _sgd(var):
    eqs = _prelude(var)
    mode = var["momentum_mode"]
    if mode == "none":
        return eqs + [(theta, theta - lr * g)]
    # torch: the buffer starts as a copy of the first gradient (no dampening on
    # step 1): b ← μb + damp_t·g with damp_t = 1 at t = 1, b = 0 initially.
    eqs.append((buf, momentum * buf + damp_t * g))
    if mode == "nesterov":
        return eqs + [(theta, theta - lr * (g + momentum * buf))]
    return eqs + [(theta, theta - lr * buf)]


SGD = OptimizerRule(
    "sgd",
    hyper=(_P("lr", 1e-3), _P("momentum", 0.0), _P("dampening", 0.0), _P("weight_decay", 0.0)),
    options=(_opt("momentum_mode", "none", ("none", "heavy_ball", "nesterov"),
                  "none: momentum = 0; nesterov: torch's nesterov=True"), _decay(), MAXIMIZE),
    state=(State("momentum_buffer", buf, 0, "the momentum buffer (torch: a copy of g on step 1)"),),
    scalars={damp_t: Piecewise((1, Eq(t, 1)), (1 - dampening, True))},
    equations=_sgd, torch="optim.SGD", source="torch.optim.SGD; seed 001 §3, seed 002 §10.2-10.3",
    doc="Stochastic gradient descent with heavy-ball or Nesterov momentum, dampening, "
        "L2 weight decay and maximize.")


ADAM_BC = {bc1: 1 - beta1**t, bc2: 1 - beta2**t}


def _adam_family(decoupled):
    def eqs_fn(var):
        eqs = _prelude(var, decoupled=decoupled)
        eqs += [(m, beta1 * m + (1 - beta1) * g),
                (v, beta2 * v + (1 - beta2) * g**2)]
        second = v
        if var["amsgrad"]:
            eqs.append((v_max, Max(v_max, v)))
            second = v_max
        eqs.append((theta, theta - (lr / bc1) * m / (sqrt(second) / sqrt(bc2) + eps)))
        return eqs
    return eqs_fn


_ADAM_HYPER = (_P("lr", 1e-3), _P("beta1", 0.9), _P("beta2", 0.999), _P("eps", 1e-8))
_ADAM_STATE = (State("exp_avg", m), State("exp_avg_sq", v), State("max_exp_avg_sq", v_max))

ADAM = OptimizerRule(
    "adam", hyper=_ADAM_HYPER + (_P("weight_decay", 0.0),),
    options=(_opt("amsgrad", False, (False, True)), _decay(), MAXIMIZE),
    state=_ADAM_STATE, scalars=dict(ADAM_BC), equations=_adam_family(False),
    torch="optim.Adam", source="Kingma & Ba 2015; seed 001 §4, seed 002 §10.6, seed 003 eq. 18",
    doc="Adam: bias-corrected first and second moments; amsgrad keeps the running max of v.")

ADAMW = OptimizerRule(
    "adamw", hyper=_ADAM_HYPER + (_P("weight_decay", 1e-2),),
    options=(_opt("amsgrad", False, (False, True)), _decay(True), MAXIMIZE),
    state=_ADAM_STATE, scalars=dict(ADAM_BC), equations=_adam_family(True),
    torch="optim.AdamW", source="Loshchilov & Hutter 2019; seed 001 §5.1",
    doc="Adam with decoupled weight decay θ ← θ(1 - lr·λ) before the moment updates.")


def _adamax(var):
    eqs = _prelude(var)
    eqs += [(m, beta1 * m + (1 - beta1) * g),
            (u, Max(beta2 * u, sp.Abs(g) + eps)),
            (theta, theta - (lr / bc1) * m / u)]
    return eqs


ADAMAX = OptimizerRule(
    "adamax", hyper=(_P("lr", 2e-3), _P("beta1", 0.9), _P("beta2", 0.999), _P("eps", 1e-8),
                     _P("weight_decay", 0.0)),
    options=(_decay(), MAXIMIZE,), state=(State("exp_avg", m), State("exp_inf", u)),
    scalars={bc1: 1 - beta1**t}, equations=_adamax, torch="optim.Adamax",
    source="Kingma & Ba 2015 §7; seed 001 §5.2, seed 003 eq. 19",
    doc="Adam with the infinity norm: u ← max(β₂u, |g| + eps) (torch puts eps inside the max).")


def _nadam(var):
    eqs = _prelude(var, decoupled=var["decoupled_weight_decay"])
    eqs += [(m, beta1 * m + (1 - beta1) * g),
            (v, beta2 * v + (1 - beta2) * g**2),
            (delta, sqrt(v / bc2) + eps),
            (theta, theta - lr * (1 - mu_t) / (1 - mu_prod) * g / delta
             - lr * mu_next / (1 - mu_prod * mu_next) * m / delta)]
    return eqs


NADAM = OptimizerRule(
    "nadam", hyper=(_P("lr", 2e-3), _P("beta1", 0.9), _P("beta2", 0.999), _P("eps", 1e-8),
                    _P("weight_decay", 0.0), _P("momentum_decay", 4e-3)),
    options=(_opt("decoupled_weight_decay", False, (False, True)), _decay(), MAXIMIZE),
    state=(State("exp_avg", m), State("exp_avg_sq", v)),
    scalar_state=(ScalarState("mu_product", mu_prod, 1, mu_prod * mu_t),),
    scalars={bc2: 1 - beta2**t,
             mu_t: beta1 * (1 - R(1, 2) * R(96, 100)**(t * momentum_decay)),
             mu_next: beta1 * (1 - R(1, 2) * R(96, 100)**((t + 1) * momentum_decay))},
    equations=_nadam, torch="optim.NAdam",
    source="Dozat 2016; torch's momentum_decay schedule; seed 001 §5.3, seed 003 eq. 21",
    doc="Nesterov-accelerated Adam with torch's momentum schedule μ_t = β₁(1 - ½·0.96^{tψ}); "
        "mu_prod is the product μ₁…μ_t (updated before the step).")


def _radam(var):
    eqs = _prelude(var, decoupled=var["decoupled_weight_decay"])
    eqs += [(m, beta1 * m + (1 - beta1) * g),
            (v, beta2 * v + (1 - beta2) * g**2),
            (theta, Piecewise(
                (theta - lr * m / bc1 * rect * sqrt(bc2) / (sqrt(v) + eps), rho_t > 5),
                (theta - lr * m / bc1, True)))]
    return eqs


RADAM = OptimizerRule(
    "radam", hyper=(_P("lr", 1e-3), _P("beta1", 0.9), _P("beta2", 0.999), _P("eps", 1e-8),
                    _P("weight_decay", 0.0)),
    options=(_opt("decoupled_weight_decay", False, (False, True)), _decay(), MAXIMIZE),
    state=(State("exp_avg", m), State("exp_avg_sq", v)),
    scalars={bc1: 1 - beta1**t, bc2: 1 - beta2**t,
             rho_inf: 2 / (1 - beta2) - 1,
             rho_t: rho_inf - 2 * t * beta2**t / bc2,
             rect: sqrt(Max(0, (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)))},
    equations=_radam, torch="optim.RAdam", source="Liu et al. 2020; seed 001 §5.4",
    doc="Rectified Adam: the adaptive step only once the variance is tractable (ρ_t > 5), "
        "plain bias-corrected momentum before.")


#: ε inside the square root, √(v + ε) (the notes' RMSprop/Adagrad, seed 002 §10.4-10.5,
#: seed 003 eqs. 15-16): Chainer's ``eps_inside_sqrt``; optax's ``eps_root`` is the
#: same term beside an outer eps (here eps is either inside or outside); torch: outside only
EPS_INSIDE_SQRT = _opt("eps_inside_sqrt", False, (False, True),
                       "ε inside the root: g/√(v + ε) instead of torch's g/(√v + ε)")


def _root_eps(x, var):
    return sqrt(x + eps) if var.get("eps_inside_sqrt") else sqrt(x) + eps


def _adagrad(var):
    eqs = _prelude(var)
    eqs += [(acc, acc + g**2),
            (theta, theta - clr * g / _root_eps(acc, var))]
    return eqs


ADAGRAD = OptimizerRule(
    "adagrad", hyper=(_P("lr", 1e-2), _P("lr_decay", 0.0), _P("weight_decay", 0.0),
                      _P("initial_accumulator_value", 0.0), _P("eps", 1e-10)),
    options=(_decay(), MAXIMIZE, EPS_INSIDE_SQRT), state=(State("sum", acc, init_acc),),
    scalars={clr: lr / (1 + (t - 1) * lr_decay)}, equations=_adagrad, torch="optim.Adagrad",
    source="Duchi et al. 2011; seed 002 §10.4, seed 003 eq. 15",
    doc="Adagrad: the running sum of squared gradients scales each coordinate's step.")


def _rmsprop(var):
    eqs = _prelude(var)
    eqs.append((a, alpha * a + (1 - alpha) * g**2))
    if var["centered"]:
        eqs.append((mg, alpha * mg + (1 - alpha) * g))
        eqs.append((delta, _root_eps(a - mg**2, var)))
    else:
        eqs.append((delta, _root_eps(a, var)))
    if var["has_momentum"]:
        eqs += [(buf, momentum * buf + g / delta), (theta, theta - lr * buf)]
    else:
        eqs.append((theta, theta - lr * g / delta))
    return eqs


RMSPROP = OptimizerRule(
    "rmsprop", hyper=(_P("lr", 1e-2), _P("alpha", 0.99), _P("eps", 1e-8), _P("weight_decay", 0.0),
                      _P("momentum", 0.0)),
    options=(_opt("has_momentum", False, (False, True), "torch's momentum > 0: a momentum buffer"),
             _opt("centered", False, (False, True)), _decay(), MAXIMIZE, EPS_INSIDE_SQRT),
    state=(State("square_avg", a), State("grad_avg", mg), State("momentum_buffer", buf)),
    equations=_rmsprop, torch="optim.RMSprop",
    source="Hinton's lecture 6e; seed 001 §3.4, seed 002 §10.5, seed 003 eq. 16",
    doc="RMSprop: divide by the root of a running mean of g² (centered: of its variance); "
        "eps outside the root, as torch (eps_inside_sqrt: inside, as the notes).")


def _adadelta(var):
    eqs = _prelude(var)
    eqs += [(a, rho * a + (1 - rho) * g**2),
            (delta, sqrt(dx + eps) / sqrt(a + eps) * g),
            (dx, rho * dx + (1 - rho) * delta**2),
            (theta, theta - lr * delta)]
    return eqs


ADADELTA = OptimizerRule(
    "adadelta", hyper=(_P("lr", 1.0), _P("rho", 0.9), _P("eps", 1e-6), _P("weight_decay", 0.0)),
    options=(_decay(), MAXIMIZE,), state=(State("square_avg", a), State("acc_delta", dx)),
    equations=_adadelta, torch="optim.Adadelta", source="Zeiler 2012; seed 003 eq. 17",
    doc="Adadelta: the step is rescaled by the root of a running mean of past squared steps.")


def _rprop(var):
    eqs = [(g, -g)] if var.get("maximize") else []
    eqs += [(delta, Piecewise((etaplus, g * prev > 0), (etaminus, g * prev < 0), (1, True))),
            (step_size, sp.Min(sp.Max(step_size * delta, step_size_min), step_size_max)),
            (g, Piecewise((0, g * prev < 0), (g, True))),
            (theta, theta - sp.sign(g) * step_size),
            (prev, g)]
    return eqs


etaminus, etaplus = sp.Symbol("etaminus", real=True), sp.Symbol("etaplus", real=True)
step_size_min = sp.Symbol("step_size_min", real=True)
step_size_max = sp.Symbol("step_size_max", real=True)
prev = sp.Symbol("g_prev", real=True)
step_size = sp.Symbol("Delta", real=True)

RPROP = OptimizerRule(
    "rprop", hyper=(_P("lr", 1e-2), _P("etaminus", 0.5), _P("etaplus", 1.2),
                    _P("step_size_min", 1e-6), _P("step_size_max", 50.0)),
    options=(MAXIMIZE,), state=(State("prev", prev), State("step_size", step_size, lr)),
    equations=_rprop, torch="optim.Rprop", source="Riedmiller & Braun 1993; torch's Rprop",
    doc="Resilient backpropagation: per-element step sizes grow by etaplus while the gradient "
        "keeps its sign, shrink by etaminus when it flips (and that step is skipped).")


lambd = sp.Symbol("lambd", real=True)
asgd_alpha = sp.Symbol("alpha", real=True)
t0_ = sp.Symbol("t0", real=True)
ax = sp.Symbol("theta_avg", real=True)
eta_t = sp.Symbol("eta_t", positive=True)
mu_avg = sp.Symbol("mu_avg", positive=True)


def _asgd(var):
    eqs = _prelude(var)
    eqs += [(theta, theta * (1 - lambd * eta_t) - eta_t * g),
            (ax, Piecewise((theta, Eq(mu_avg, 1)), (ax + (theta - ax) * mu_avg, True)))]
    return eqs


ASGD = OptimizerRule(
    "asgd", hyper=(_P("lr", 1e-2), _P("lambd", 1e-4), _P("alpha", 0.75), _P("t0", 1e6),
                   _P("weight_decay", 0.0)),
    options=(_decay(), MAXIMIZE,), state=(State("ax", ax),),
    scalars={eta_t: lr / (1 + lambd * lr * (t - 1))**asgd_alpha,
             mu_avg: 1 / Max(1, t - 1 - t0_)},
    equations=_asgd, torch="optim.ASGD",
    source="Polyak & Juditsky 1992 (iterate averaging); torch's ASGD",
    doc="Averaged SGD: decaying step η_t = lr/(1 + λ·lr·(t-1))^α and the Polyak average "
        "θ̄ of the iterates from step t0 on (torch keeps η and μ as state; here they are "
        "step scalars in closed form).")


def _lion(var):
    eqs = _prelude(var, decoupled=True)
    eqs += [(delta, beta1 * m + (1 - beta1) * g),
            (theta, theta - lr * sp.sign(delta)),
            (m, beta2 * m + (1 - beta2) * g)]
    return eqs


LION = OptimizerRule(
    "lion", hyper=(_P("lr", 1e-4), _P("beta1", 0.9), _P("beta2", 0.99), _P("weight_decay", 0.0)),
    options=(_decay(), MAXIMIZE,), state=(State("exp_avg", m),), equations=_lion,
    source="Chen et al. 2023 (Symbolic Discovery of Optimization Algorithms), Algorithm 2",
    doc="Lion: the sign of an interpolation of momentum and gradient; decoupled weight decay.")


def _adabelief(var):
    eqs = _prelude(var, decoupled=True)
    eqs += [(m, beta1 * m + (1 - beta1) * g),
            (v, beta2 * v + (1 - beta2) * (g - m)**2 + eps),
            (theta, theta - (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps))]
    return eqs


ADABELIEF = OptimizerRule(
    "adabelief", hyper=(_P("lr", 1e-3), _P("beta1", 0.9), _P("beta2", 0.999), _P("eps", 1e-16),
                        _P("weight_decay", 0.0)),
    options=(_decay(), MAXIMIZE,), state=(State("exp_avg", m), State("exp_avg_var", v)),
    scalars=dict(ADAM_BC), equations=_adabelief,
    source="Zhuang et al. 2020, Algorithm 2 (no rectification, decoupled weight decay)",
    doc="AdaBelief: Adam whose second moment tracks (g - m)², the 'belief' in the gradient.")


def _yogi(var):
    eqs = _prelude(var)
    eqs += [(m, beta1 * m + (1 - beta1) * g),
            (v, v - (1 - beta2) * sp.sign(v - g**2) * g**2),
            (theta, theta - lr * m / (sqrt(v) + eps))]
    return eqs


YOGI = OptimizerRule(
    "yogi", hyper=(_P("lr", 1e-2), _P("beta1", 0.9), _P("beta2", 0.999), _P("eps", 1e-3),
                   _P("weight_decay", 0.0), _P("initial_accumulator_value", 1e-6)),
    options=(_decay(), MAXIMIZE,),
    state=(State("exp_avg", m, init_acc), State("exp_avg_sq", v, init_acc)),
    equations=_yogi, source="Zaheer et al. 2018, Algorithm 2 (optax's scale_by_yogi defaults)",
    doc="Yogi: an additive second-moment update v ← v - (1-β₂)·sign(v - g²)·g².")


OPTIMIZER_SPECS = (SGD, ADAM, ADAMW, ADAMAX, NADAM, RADAM, ADAGRAD, RMSPROP, ADADELTA,
                   RPROP, ASGD, LION, ADABELIEF, YOGI)

# ---------------------------------------------------------------- the notes' notations
# Their own symbols (the notes' letters); each states the reparametrization
# onto a torch rule (``Notation``), proven in tests/test_optimizers.py by
# unrolling both forms over several steps with symbolic gradients g₁, g₂, ...
eta = sp.Symbol("eta", real=True)
epsilon = sp.Symbol("epsilon", real=True)          # the notes' learning rate in seed 002
nu = sp.Symbol("nu", real=True)                    # the notes' eps inside the square root
beta = sp.Symbol("beta", real=True)
alpha_n = sp.Symbol("alpha", real=True)
w = sp.Symbol("w", real=True)                      # seed 003's weight


def _notation(name, hyper, eqs, notation, source, doc, state=()):
    return OptimizerRule(name, hyper=tuple(_P(h.name, None) for h in hyper),
                         equations=lambda var, e=tuple(eqs): e, state=state,
                         source=source, doc=doc, notation=notation, kernels=False,
                         family="optimizer")


_SGD_HB = {"momentum_mode": "heavy_ball"}
_SGD_NAG = {"momentum_mode": "nesterov"}
_V = (State("v", v),)

NOTATIONS = (
    _notation("momentum_seed001", (eta, beta),
              [(v, beta * v + eta * g), (theta, theta - v)],
              Notation("sgd", _SGD_HB, {"lr": eta, "momentum": beta},
                       note="v = lr·b (torch's buffer b)"),
              "seed 001 §3.1 eqs. 34-35", "Momentum: v ← βv + ηg, θ ← θ - v.", _V),
    _notation("momentum_seed002", (epsilon, alpha_n),
              [(v, alpha_n * v - epsilon * g), (theta, theta + v)],
              Notation("sgd", _SGD_HB, {"lr": epsilon, "momentum": alpha_n}, note="v = -lr·b"),
              "seed 002 §10.2", "Momentum: v ← αv - εg, θ ← θ + v.", _V),
    _notation("momentum_seed003", (eta, beta),
              [(u, beta * u + g), (w, w - eta * u)],
              Notation("sgd", _SGD_HB, {"lr": eta, "momentum": beta}, param=w, note="u = b"),
              "seed 003 eq. 13", "Momentum: u ← βu + g, w ← w - ηu.", (State("u", u), State("w", w))),
    _notation("polyak_seed001", (eta, beta),
              [(v, beta * v + eta * g), (theta, theta - (1 + beta) * v)],
              Notation("sgd", _SGD_HB, {"lr": eta * (1 + beta), "momentum": beta},
                       note="Polyak's form of the notes is heavy ball with lr = η(1+β)"),
              "seed 001 §3.3 eqs. 38-39", "Polyak's momentum: v ← βv + ηg, θ ← θ - (1+β)v.", _V),
    _notation("nesterov_seed001", (eta, beta),
              [(v, beta * v + eta * g), (theta, theta - v)],
              Notation("sgd", _SGD_NAG, {"lr": eta, "momentum": beta}, param=theta - beta * v,
                       note="g is evaluated at the look-ahead point θ - βv, which is torch's θ"),
              "seed 001 §3.2 eqs. 36-37", "Nesterov (look-ahead): v ← βv + η∇L(θ - βv), θ ← θ - v.", _V),
    _notation("nesterov_seed002", (epsilon, alpha_n),
              [(v, alpha_n * v - epsilon * g), (theta, theta + v)],
              Notation("sgd", _SGD_NAG, {"lr": epsilon, "momentum": alpha_n},
                       param=theta + alpha_n * v,
                       note="g is evaluated at θ + αv, which is torch's θ"),
              "seed 002 §10.3", "Nesterov (look-ahead): v ← αv - ε∇L(θ + αv), θ ← θ + v.", _V),
    _notation("nesterov_seed002_cov", (epsilon, alpha_n),
              [(delta, v), (v, alpha_n * v - epsilon * g),
               (theta, theta + v + alpha_n * (v - delta))],
              Notation("sgd", _SGD_NAG, {"lr": epsilon, "momentum": alpha_n},
                       note="θ here is the notes' θ̃ = θ + αv; it is torch's θ"),
              "seed 002 §10.3 (change of variables)",
              "Nesterov after θ̃ = θ + αv: v ← αv - ε∇L(θ̃), θ̃ ← θ̃ + v + α(v - v_old).", _V),
    _notation("nag_seed003", (eta, beta),
              [(u, beta * u + g), (w, w - eta * u)],
              Notation("sgd", _SGD_NAG, {"lr": eta, "momentum": beta}, param=w - eta * beta * u,
                       note="g is evaluated at w - ηβu (the notes print w - βu, dropping η)"),
              "seed 003 eq. 14", "NAG: u ← βu + ∇L(w - ηβu), w ← w - ηu.", (State("u", u), State("w", w))),
    _notation("rmsprop_seed001", (eta, beta, epsilon),
              [(v, beta * v + (1 - beta) * g**2), (theta, theta - eta / (sqrt(v) + epsilon) * g)],
              Notation("rmsprop", {}, {"lr": eta, "alpha": beta, "eps": epsilon}),
              "seed 001 §3.4 eqs. 40-41", "RMSprop with eps outside the root (torch's form).", _V),
    _notation("rmsprop_seed002", (epsilon, beta, nu),
              [(a, beta * a + (1 - beta) * g**2), (theta, theta - epsilon / sqrt(a + nu) * g)],
              Notation("rmsprop", {}, {"lr": epsilon, "alpha": beta, "eps": 0}, fix={nu: 0},
                       note="eps inside the root: equal to torch's only at ν = eps = 0"),
              "seed 002 §10.5, seed 003 eq. 16", "RMSprop with ν inside the root.",
              (State("a", a),)),
    _notation("rmsprop_momentum_seed002", (epsilon, alpha_n, beta, nu),
              [(a, beta * a + (1 - beta) * g**2), (v, alpha_n * v - epsilon / sqrt(a + nu) * g),
               (theta, theta + v)],
              Notation("rmsprop", {"has_momentum": True},
                       {"lr": epsilon, "alpha": beta, "momentum": alpha_n, "eps": 0}, fix={nu: 0},
                       note="v = -lr·b; ν inside the root: equal at ν = eps = 0"),
              "seed 002 §10.5 (with momentum)", "RMSprop with momentum, ν inside the root.",
              (State("a", a), State("v", v))),
    _notation("adagrad_seed002", (epsilon, nu),
              [(a, a + g**2), (theta, theta - epsilon / sqrt(a + nu) * g)],
              Notation("adagrad", {}, {"lr": epsilon, "eps": 0}, fix={nu: 0},
                       note="ν inside the root: equal at ν = eps = 0"),
              "seed 002 §10.4, seed 003 eq. 15", "Adagrad with ν inside the root.",
              (State("a", a),)),
    _notation("adam_seed002", (epsilon, beta1, beta2, nu),
              [(v, beta1 * v + (1 - beta1) * g), (a, beta2 * a + (1 - beta2) * g**2),
               (theta, theta - epsilon / sqrt(a / (1 - beta2**t) + nu) * v / (1 - beta1**t))],
              Notation("adam", {}, {"lr": epsilon, "beta1": beta1, "beta2": beta2, "eps": 0},
                       fix={nu: 0}, note="first moment v (the notes print g⊙g: a typo); "
                                         "ν inside the root: equal at ν = eps = 0"),
              "seed 002 §10.6 (with bias correction)", "Adam with bias correction, ν inside the root.",
              (State("v", v), State("a", a))),
    _notation("adam_nobc_seed002", (epsilon, beta1, beta2, nu),
              [(v, beta1 * v + (1 - beta1) * g), (a, beta2 * a + (1 - beta2) * g**2),
               (theta, theta - epsilon / sqrt(a + nu) * v)],
              Notation("adam", {}, {"lr": epsilon * (1 - beta1**t) / sqrt(1 - beta2**t),
                                    "beta1": beta1, "beta2": beta2, "eps": 0}, fix={nu: 0},
                       note="without bias correction = torch's Adam with the step-dependent "
                            "lr_t = ε(1 - β₁ᵗ)/√(1 - β₂ᵗ), at ν = eps = 0"),
              "seed 002 §10.6 (no bias correction)", "Adam without bias correction.",
              (State("v", v), State("a", a))),
    _notation("adamax_seed003", (eta, beta1, beta2, epsilon),
              [(m, beta1 * m + (1 - beta1) * g), (v, Max(beta2 * v, sp.Abs(g))),
               (theta, theta - eta / (v + epsilon) * m / (1 - beta1**t))],
              Notation("adamax", {}, {"lr": eta, "beta1": beta1, "beta2": beta2, "eps": 0},
                       fix={epsilon: 0}, note="the notes add ε to v, torch adds eps to |g| "
                                              "inside the max: equal at ε = eps = 0"),
              "seed 003 eq. 19", "AdaMax: v ← max(β₂v, |g|), θ ← θ - η m̂/(v + ε).",
              (State("m", m), State("v", v))),
    _notation("maxprop_seed003", (eta, beta, epsilon),
              [(v, Max(beta * v, sp.Abs(g))), (theta, theta - eta / (v + epsilon) * g)],
              Notation("adamax", {}, {"lr": eta, "beta1": 0, "beta2": beta, "eps": 0},
                       fix={epsilon: 0}, note="MaxProp is AdaMax with β₁ = 0 (at ε = eps = 0)"),
              "seed 003 eq. 20", "MaxProp: v ← max(βv, |g|), θ ← θ - η g/(v + ε).", _V),
    # NAdam: torch's μ_t = β₁(1 - ½·0.96^{tψ}) is the constant β₁ of the notes only as
    # ψ = momentum_decay → ∞ (0.96^∞ = 0); the bias corrections then decide
    _notation("nadam_dozat", (eta, beta1, beta2, epsilon),
              [(m, beta1 * m + (1 - beta1) * g), (v, beta2 * v + (1 - beta2) * g**2),
               (theta, theta - eta * (beta1 * m / (1 - beta1**(t + 1)) + (1 - beta1) * g / (1 - beta1**t))
                / (sqrt(v / (1 - beta2**t)) + epsilon))],
              Notation("nadam", {}, {"lr": eta, "beta1": beta1, "beta2": beta2, "eps": epsilon,
                                     "momentum_decay": sp.oo},
                       note="Dozat's NAdam with a constant μ = β₁: torch's at momentum_decay ψ = ∞ "
                            "(μ_t = β₁(1 - ½·0.96^{tψ}) → β₁)"),
              "Dozat 2016, Alg. 2 with μ_t = β₁",
              "NAdam, constant μ: θ ← θ - η(β₁m/(1-β₁^{t+1}) + (1-β₁)g/(1-β₁ᵗ))/(√v̂ + ε).",
              (State("m", m), State("v", v))),
    _notation("nadam_seed001", (eta, beta1, beta2, epsilon),
              [(m, beta1 * m + (1 - beta1) * g), (v, beta2 * v + (1 - beta2) * g**2),
               (theta, theta - eta * (beta1 * m / (1 - beta1**t) + (1 - beta1) * g)
                / (sqrt(v / (1 - beta2**t)) + epsilon))],
              Notation("nadam", {}, {"lr": eta, "beta1": beta1, "beta2": beta2, "eps": epsilon,
                                     "momentum_decay": sp.oo},
                       differs="not torch's NAdam for any ψ: torch's μ_t = β₁(1 - ½·0.96^{tψ}) is "
                               "β₁ only at ψ = ∞, and even then torch divides the gradient term by "
                               "1 - β₁ᵗ (the notes: no correction) and the momentum term by "
                               "1 - β₁^{t+1} (the notes' m̂_t: 1 - β₁ᵗ); at t = 1 from m = v = 0 "
                               "torch's step is (1 + 2β₁)/(1 + β₁) times the notes'"),
              "seed 001 §5.3 eq. 60",
              "NAdam as in the notes: θ ← θ - η(β₁m̂ + (1-β₁)g)/(√v̂ + ε).",
              (State("m", m), State("v", v))),
    _notation("nadam_seed003", (eta, beta1, beta2, epsilon),
              [(m, beta1 * m + (1 - beta1) * g), (v, beta2 * v + (1 - beta2) * g**2),
               (theta, theta - eta / sqrt(v / (1 - beta2**t) + epsilon)
                * (beta1 * m / (1 - beta1**(t + 1)) + (1 - beta1) * g / (1 - beta1**(t + 1))))],
              Notation("nadam", {}, {"lr": eta, "beta1": beta1, "beta2": beta2, "eps": 0,
                                     "momentum_decay": sp.oo}, fix={epsilon: 0},
                       note="m̂_{t+1} read as m_t/(1 - β₁^{t+1}), the only value known at step t",
                       differs="not torch's NAdam: besides μ_t (β₁ only at ψ = ∞) and ε inside the "
                               "root (equal only at ε = eps = 0), the notes divide the gradient term "
                               "by 1 - β₁^{t+1} where torch (and Dozat) divide by 1 - β₁ᵗ; at t = 1 "
                               "from m = v = 0 torch's step is (1 + 2β₁)/(1 + β₁) times the notes'"),
              "seed 003 eq. 21",
              "NAdam as in seed 003: w ← w - η₀/√(v̂ + ε)·(β₁m̂_{t+1} + (1-β₁)∇w/(1-β₁^{t+1})).",
              (State("m", m), State("v", v))),
)
