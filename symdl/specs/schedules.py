"""Learning-rate schedules (seed 003 weeks 4-5; torch.optim.lr_scheduler) as
closed forms η(t) in SymPy: the epoch (or step) count ``t`` = torch's
``last_epoch`` (0 before the first ``step()``), the base rate ``eta_0`` (the
optimizer's initial lr) and each schedule's hyperparameters.

``symdl latex cosine_annealing`` prints a schedule; the runtime schedulers
(``symdl.optim``, ``symdl.schedules``) are checked against these closed forms
and against torch's trajectories in tests/test_schedules.py.  No numeric code.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sympy as sp
from sympy import Max, Min, Piecewise, cos, floor, pi

from .base import Param

t = sp.Symbol("t", integer=True, nonnegative=True)
eta_0 = sp.Symbol("eta_0", positive=True)


def _p(name, default, doc=""):
    return Param(name, default, doc=doc)


def _s(name):
    return sp.Symbol(name, positive=True)


@dataclass(frozen=True, eq=False)
class Schedule:
    """η(t; eta_0, params) and the runtime class that follows it."""

    name: str
    expr: sp.Expr
    params: tuple = ()
    runtime: str = ""
    torch: str | None = None
    doc: str = ""
    source: str = ""
    family: str = "schedule"

    def content_hash(self) -> str:
        return hashlib.sha256((self.name + sp.srepr(self.expr)).encode()).hexdigest()[:16]

    def symbols(self) -> dict:
        return {p.name: _s(p.name) for p in self.params}


gamma, step_size, k, T_max, eta_min = _s("gamma"), _s("step_size"), _s("k"), _s("T_max"), _s("eta_min")
T_0, factor, total_iters = _s("T_0"), _s("factor"), _s("total_iters")
start_factor, end_factor, power = _s("start_factor"), _s("end_factor"), _s("power")
base_lr, max_lr, step_size_up = _s("base_lr"), _s("max_lr"), _s("step_size_up")
total_steps, pct_start, div_factor, final_div_factor = (_s("total_steps"), _s("pct_start"),
                                                        _s("div_factor"), _s("final_div_factor"))


def _cos_anneal(start, end, frac):
    """torch's _annealing_cos: end + (start − end)(1 + cos(π·frac))/2."""
    return end + (start - end) * (1 + cos(pi * frac)) / 2


# the triangular wave of CyclicLR (step_size_down = step_size_up)
_cycle = floor(1 + t / (2 * step_size_up))
_x = sp.Abs(t / step_size_up - 2 * _cycle + 1)
_tri = base_lr + (max_lr - base_lr) * Max(0, 1 - _x)

# OneCycleLR (anneal_strategy="cos", three_phase=False): phase 1 ends at step
# pct_start·total_steps − 1, phase 2 at total_steps − 1
_initial = max_lr / div_factor
_min = _initial / final_div_factor
_end1 = pct_start * total_steps - 1
_one_cycle = Piecewise((_cos_anneal(_initial, max_lr, t / _end1), t <= _end1),
                       (_cos_anneal(max_lr, _min, (t - _end1) / (total_steps - 1 - _end1)), True))

SCHEDULE_SPECS = (
    Schedule("constant", Piecewise((eta_0 * factor, t < total_iters), (eta_0, True)),
             (_p("factor", 1 / 3), _p("total_iters", 5)), "ConstantLR", "optim.lr_scheduler.ConstantLR",
             "η₀·factor for the first total_iters epochs, then η₀"),
    Schedule("step", eta_0 * gamma ** floor(t / step_size), (_p("step_size", 10), _p("gamma", 0.1)),
             "StepLR", "optim.lr_scheduler.StepLR", "η₀·γ^⌊t/s⌋", "seed 003 week 4"),
    Schedule("exponential", eta_0 * gamma ** t, (_p("gamma", 0.9),), "ExponentialLR",
             "optim.lr_scheduler.ExponentialLR", "η₀·γ^t (the notes' η₀e^{−kt} with γ = e^{−k})",
             "seed 003 week 4"),
    Schedule("inverse_time", eta_0 / (1 + k * t), (_p("k", 0.1),), "InverseTimeLR", None,
             "η₀/(1 + kt)", "seed 003 week 4"),
    Schedule("cosine_annealing", _cos_anneal(eta_0, eta_min, t / T_max),
             (_p("T_max", 10), _p("eta_min", 0.0)), "CosineAnnealingLR",
             "optim.lr_scheduler.CosineAnnealingLR", "η_min + (η₀ − η_min)(1 + cos(πt/T))/2",
             "seed 003 week 5"),
    Schedule("warm_restarts", _cos_anneal(eta_0, eta_min, sp.Mod(t, T_0) / T_0),
             (_p("T_0", 10), _p("eta_min", 0.0)), "CosineAnnealingWarmRestarts",
             "optim.lr_scheduler.CosineAnnealingWarmRestarts", "SGDR with T_mult = 1", "seed 003 week 5"),
    Schedule("cyclic_triangular", _tri, (_p("base_lr", 1e-3), _p("max_lr", 1e-2), _p("step_size_up", 4)),
             "CyclicLR", "optim.lr_scheduler.CyclicLR", "triangular wave between base_lr and max_lr",
             "seed 003 week 5"),
    Schedule("cyclic_exp_range", base_lr + (max_lr - base_lr) * Max(0, 1 - _x) * gamma ** t,
             (_p("base_lr", 1e-3), _p("max_lr", 1e-2), _p("step_size_up", 4), _p("gamma", 0.99)),
             "CyclicLR", "optim.lr_scheduler.CyclicLR", "the triangle's height decayed by γ^t"),
    Schedule("linear_warmup",
             eta_0 * (start_factor + (end_factor - start_factor) * Min(t, total_iters) / total_iters),
             (_p("start_factor", 1 / 3), _p("end_factor", 1.0), _p("total_iters", 5)), "LinearLR",
             "optim.lr_scheduler.LinearLR", "the factor moves linearly from start to end over total_iters"),
    Schedule("polynomial", eta_0 * (1 - Min(t, total_iters) / total_iters) ** power,
             (_p("total_iters", 5), _p("power", 1.0)), "PolynomialLR", "optim.lr_scheduler.PolynomialLR",
             "η₀(1 − min(t, T)/T)^p"),
    Schedule("one_cycle", _one_cycle,
             (_p("max_lr", 0.1), _p("total_steps", 100), _p("pct_start", 0.3), _p("div_factor", 25.0),
              _p("final_div_factor", 1e4)), "OneCycleLR", "optim.lr_scheduler.OneCycleLR",
             "cosine up from max_lr/div_factor to max_lr, then down to that/final_div_factor"),
)
