"""Optimizer rules, symbolically: unrolling over steps, the notes' notations
proven equal to torch's forms, Adam's bias correction derived, LaTeX.

Everything here is computed by SymPy from the specs in
``symdl.specs.optimizers``; nothing is typed.
"""
from __future__ import annotations

import sympy as sp

from symdl.specs.optimizers import (
    ADAM,
    OptimizerRule,
    beta1,
    beta2,
    g,
    m,
    t,
    theta,
    v,
    weight_decay,
)

THETA0 = sp.Symbol("theta_0", real=True)
W = sp.Symbol("w", real=True)


def grad_symbols(n: int, name: str = "g") -> tuple:
    """g_1, ..., g_n."""
    return tuple(sp.Symbol(f"{name}_{k}", real=True) for k in range(1, n + 1))


def _get(name: str) -> OptimizerRule:
    from symdl.specs import get

    return get(name)


def _numeric(val, digits):
    val = sp.sympify(val)
    if digits is None or val.is_Rational or val.is_Boolean:
        return val
    return sp.Float(sp.N(val, digits), digits)


def unroll(rule: OptimizerRule, variant: dict | None = None, steps: int = 3, hyper: dict | None = None,
           init: dict | None = None, grads=None, digits: int | None = None) -> list[dict]:
    """Run ``rule`` for ``steps`` steps on symbolic (or exact) values.

    hyper: {symbol: value} (may contain ``t``); unset hyperparameters stay
    symbols.  init: {symbol: value} for θ (default θ₀) and states (default:
    their declared initial values).  grads: the gradient of each step
    (default g_1, g_2, ...).  digits: evaluate to this many digits after each
    step (keeps radicals small); None keeps everything exact.

    Returns the state before each step and after the last: steps + 1 dicts
    {symbol: value} (θ, state arrays, scalar state)."""
    comp = rule.composed(variant)
    scal = rule.step_scalars()
    hyper = {k: sp.sympify(val) for k, val in (hyper or {}).items()}
    grads = grad_symbols(steps) if grads is None else grads
    state = {theta: THETA0}
    for s in rule.states(variant):
        state[s.symbol] = sp.sympify(s.init).xreplace(hyper)
    for ss in rule.scalar_state:
        state[ss.symbol] = sp.sympify(ss.init)
    state.update({k: sp.sympify(val) for k, val in (init or {}).items()})
    history = [dict(state)]
    for k in range(steps):
        tv = sp.Integer(k + 1)
        hv = {s: e.xreplace({t: tv}) for s, e in hyper.items()}
        base = {t: tv, **hv}
        sc = {s: _numeric(sp.sympify(e).xreplace(base), digits) for s, e in scal.items()}
        ssn = {ss.symbol: _numeric(sp.sympify(ss.update).xreplace({**base, **sc, ss.symbol: state[ss.symbol]}), digits)
               for ss in rule.scalar_state}
        subs = {**base, **sc, **ssn, g: sp.sympify(grads[k])}
        subs.update({sym: state[sym] for sym in comp})
        new = {sym: _numeric(e.xreplace(subs), digits) for sym, e in comp.items()}
        state = {**state, **new, **ssn}
        history.append(dict(state))
    return history


def torch_hyper(notes: OptimizerRule) -> dict:
    """{torch rule's hyper symbol: expression in the notes' symbols} (unset
    ones at torch's defaults, as exact numbers)."""
    nt = notes.notation
    rule = _get(nt.rule)
    out = {}
    for p in rule.hyper:
        val = nt.hyper.get(p.name, sp.nsimplify(p.default))
        out[p.symbol] = sp.sympify(val).xreplace(nt.fix)
    return out


_DECAY_RATES = {"beta", "beta1", "beta2", "alpha", "rho"}


def equivalence(notes: OptimizerRule, steps: int = 3) -> list[tuple]:
    """Unroll a notes' form and its torch rule over ``steps`` steps with the
    same symbolic gradients; [(t, torch's θ, the notes' expression of it,
    simplified difference)] before each step and after the last.

    The rows stop at the first nonzero difference: once the two forms part,
    the later differences are larger expressions of the same fact (and their
    simplification costs minutes for NAdam)."""
    nt = notes.notation
    if nt is None:
        raise ValueError(f"{notes.name} states no equivalence to a torch rule")
    rule = _get(nt.rule)
    gs = grad_symbols(steps)
    fix = {k: sp.sympify(val) for k, val in nt.fix.items()}
    init = {theta: THETA0}
    if any(s.symbol == W for s in notes.state):
        init[W] = THETA0
    ours = unroll(notes, steps=steps, hyper=fix, init=init, grads=gs)
    param = sp.sympify(nt.param).xreplace(fix)
    p0 = param.xreplace(ours[0])
    theirs = unroll(rule, nt.variant, steps=steps, hyper=torch_hyper(notes), init={theta: p0}, grads=gs)
    rows = []
    for k, (a, b) in enumerate(zip(theirs, ours)):
        lhs, rhs = a[theta], param.xreplace(b)
        # every radicand is ≥ 0 on the rules' domain (β ∈ [0, 1), squares), so
        # √(x/y) = √x/√y may be used: force the split, then simplify
        diff = sp.expand(lhs - rhs)
        if diff != 0:
            # decay rates live in [0, 1): write β = 1/(1 + c), c > 0, so that
            # SymPy knows 1 - β^t > 0 and √(x/(1-β^t)) = √x/√(1-β^t)
            dom = {s: 1 / (1 + sp.Symbol(f"c_{s.name}", positive=True))
                   for s in (lhs - rhs).free_symbols if s.name in _DECAY_RATES}
            diff = sp.simplify(sp.expand_power_base((lhs - rhs).xreplace(dom), force=True))
        rows.append((k + 1, lhs, rhs, diff))
        if diff != 0:
            break
    return rows


# ---------------------------------------------------------------- bias correction
def bias_correction(rule: OptimizerRule = ADAM, moment=m, steps: int = 4) -> dict:
    """Derive E[moment_t] = (1 - β^t)·E[x] under stationarity from the rule's
    own update of ``moment`` (m: x = g, β = β₁; v: x = g², β = β₂).

    Returns the unrolled moments, the general sum (checked against each
    unrolled step), its expectation and the closed form."""
    upd = rule.composed({})[moment].xreplace({weight_decay: 0})
    gs = grad_symbols(steps)
    seq, cur = [], sp.Integer(0)
    for k in range(steps):
        cur = sp.expand(upd.xreplace({moment: cur, g: gs[k]}))
        seq.append(cur)
    b = beta1 if moment == m else beta2
    x_of = (lambda gi: gi) if moment == m else (lambda gi: gi**2)
    i = sp.Symbol("i", integer=True, positive=True)
    gi = sp.IndexedBase("g")
    general = (1 - b) * sp.Sum(b**(t - i) * x_of(gi[i]), (i, 1, t))
    for k, e in enumerate(seq, 1):
        concrete = general.xreplace({t: k}).doit().xreplace({gi[j]: gs[j - 1] for j in range(1, k + 1)})
        if sp.expand(concrete - e) != 0:
            raise AssertionError(f"{rule.name}: unrolled {moment} at t={k} does not match the sum")
    E = sp.Symbol(r"\mathbb{E}[%s]" % ("g" if moment == m else "g^{2}"), real=True)
    expect = (1 - b) * sp.Sum(b**(t - i), (i, 1, t)) * E
    j = sp.Symbol("j", integer=True, nonnegative=True)
    geo = sp.summation(b**j, (j, 0, t - 1))        # Piecewise: t if β = 1, else closed form
    closed_sum = geo.args[-1][0] if isinstance(geo, sp.Piecewise) else geo
    closed = sp.factor(sp.simplify((1 - b) * closed_sum)) * E
    target = (1 - b**t) * E
    if sp.simplify(closed - target) != 0:
        raise AssertionError("bias-correction closed form did not simplify to (1 - β^t)E")
    return {"moment": moment, "beta": b, "unrolled": seq, "general": general,
            "expectation": expect, "closed": target, "E": E}


# ---------------------------------------------------------------- LaTeX
_NAMES = {"lr": r"\mathrm{lr}", "weight_decay": r"\lambda", "eps": r"\mathrm{eps}",
          "momentum": r"\mu", "dampening": r"\tau", "damp_t": r"\tau_t", "mu_prod": r"\mu_{\Pi}",
          "lr_decay": r"\mathrm{lr\_decay}", "momentum_decay": r"\psi", "clr": r"\mathrm{clr}",
          "initial_accumulator_value": "s_0", "theta_0": r"\theta_0", "r_t": "r_t",
          "rho_t": r"\rho_t", "rho_inf": r"\rho_\infty", "m_g": r"\bar{g}"}


def _latex(e) -> str:
    e = sp.sympify(e)
    names = {s: _NAMES[s.name] for s in e.free_symbols if getattr(s, "name", None) in _NAMES}
    from .tex import tex
    return tex(e, symbol_names=names)


def _arrow(lhs, rhs) -> str:
    return r"%s \leftarrow %s" % (_latex(lhs), _latex(rhs))


def optimizer_latex(spec: OptimizerRule, steps: bool = False) -> str:
    out = [f"% symdl optimizer rule {spec.name} ({spec.source})", f"% {spec.doc}"]
    if spec.hyper and spec.kernels:
        out.append("% hyperparameters: " + ", ".join(f"{p.name}={p.default!r}" for p in spec.hyper))
    if spec.torch:
        out.append(f"% torch: torch.{spec.torch}")
    if spec.scalars:
        out.append(r"\text{step scalars (once per step):}\quad " + r",\quad ".join(
            f"{_latex(s)} = {_latex(e)}" for s, e in spec.scalars.items()))
    if getattr(spec, "tensor_scalars", None):   # per-tensor sums (specs/optimizers_tensor.py, _factored.py)
        sums = dict(getattr(spec, "reductions", None) or {})
        if getattr(spec, "vhat_matrix", None) is not None:
            from symdl.specs import optimizers_factored as F
            sums = {F.w_sq: theta**2, F.u_sq: F.u**2}
        out.append(r"\text{per tensor, after pass 1:}\quad " + r",\quad ".join(
            [r"%s = \sum_i %s" % (_latex(k), _latex(e)) for k, e in sums.items()]
            + [f"{_latex(k)} = {_latex(e)}" for k, e in spec.tensor_scalars.items()]))
    for ss in spec.scalar_state:
        out.append(r"\text{scalar state:}\quad " + _arrow(ss.symbol, ss.update)
                   + r"\quad (%s_0 = %s)" % (_latex(ss.symbol), _latex(ss.init)))
    for var in spec.variants():
        out.append("")
        if var:
            out.append("% variant: " + ", ".join(f"{k}={val!r}" for k, val in var.items()))
        eqs = spec.update(var)
        out.append(r"\text{update (in order):}\quad \begin{aligned}"
                   + r" \\ ".join("&" + _arrow(lhs, rhs) for lhs, rhs in eqs) + r"\end{aligned}")
        if steps and spec.kernels:
            comp = spec.composed(var)
            out.append(r"\text{one fused pass:}\quad \begin{aligned}"
                       + r" \\ ".join(r"&%s' = %s" % (_latex(s), _latex(e)) for s, e in comp.items())
                       + r"\end{aligned}")
    nt = spec.notation
    if nt is not None:
        out.append("")
        hyp = ", ".join(f"{k} = {_latex(sp.sympify(val))}" for k, val in nt.hyper.items())
        fix = ", ".join(f"{_latex(k)} = {_latex(val)}" for k, val in nt.fix.items())
        out.append(r"\text{%s torch's %s %s with } %s%s;\ \theta_{torch} = %s"
                   % ("differs from" if nt.differs else "equals", nt.rule, nt.variant or "", hyp,
                      (r"\text{ at }" + fix) if fix else "", _latex(nt.param)))
        if nt.differs:
            out.append(f"% differs: {nt.differs}")
        if nt.note:
            out.append(f"% {nt.note}")
        if steps:
            for k, lhs, rhs, diff in equivalence(spec, steps=3):
                out.append(r"t=%d:\quad \theta_{torch} = %s,\quad %s = %s,\quad \text{difference } %s"
                           % (k, _latex(lhs), _latex(sp.sympify(nt.param)), _latex(rhs), _latex(diff)))
    if steps and spec.name in ("adam", "adamw", "nadam", "radam"):
        out.append("")
        out += bias_correction_latex(spec)
    return "\n".join(out) + "\n"


def bias_correction_latex(rule: OptimizerRule = ADAM) -> list[str]:
    out = [r"% bias correction, derived by unrolling the rule's own moment updates from m_0 = v_0 = 0"]
    for mom in (m, v):
        d = bias_correction(rule, mom)
        name = _latex(mom)
        for k, e in enumerate(d["unrolled"], 1):
            out.append(r"%s_{%d} = %s" % (name, k, _latex(sp.collect(e, d["beta"]))))
        out.append(r"\text{pattern (checked for } t \le %d\text{):}\quad %s_t = %s"
                   % (len(d["unrolled"]), name, _latex(d["general"])))
        xi = "g_i" if mom == m else "g_i^{2}"
        out.append(r"\text{stationarity, } \mathbb{E}[%s] \text{ the same for all } i:\quad "
                   r"\mathbb{E}[%s_t] = %s = %s\quad (%s \neq 1)"
                   % (xi, name, _latex(d["expectation"]), _latex(d["closed"]), _latex(d["beta"])))
        out.append(r"\text{hence}\quad \hat{%s}_t = \frac{%s_t}{%s},\quad \mathbb{E}[\hat{%s}_t] = %s"
                   % (name, name, _latex(1 - d["beta"]**t), name, _latex(d["E"])))
    return out
