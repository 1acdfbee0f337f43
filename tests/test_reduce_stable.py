"""The normalizer's stable forms and the class-index target's selections
(symdl.derive.reduce_stable): each rule on its own, and on every expression
the reduction kernels are rendered from, proven equal to what it replaces --
symbolically, at concrete sizes, for any values of the argmax mask (the
rules use only S = 1 + s' and Σ e = S), with a one-hot target and the
gathered x_T, w_T bound to the target's elements."""
import numpy as np
import pytest
import sympy as sp
from sympy.codegen.cfunctions import log1p

from symdl.derive.graph import derive_reduction
from symdl.derive.reduce_stable import (Normalizer, TargetSelect, Where, log1p_normalizer, normalizers,
                                        onehot_gather, ratio_offset, select_target, smoothing_select,
                                        stabilize_normalizers, target_select, valid_select, vjp_pivot)
from symdl.specs.losses import cross_entropy, nll_loss
from symdl.specs.softmax import ArgmaxMask, RSum, Shifted, log_softmax, logsumexp, softmax, softmin
from symdl.testing.reduction import instantiate

C = sp.Symbol("c")
NC = 3   # classes in the proofs


def _where(c, e):
    """Where(c, e) = [c != 0]·e: e itself when c is a factor of e (eps·X),
    else c·e, for the 0/1 validity v (where [v != 0] = v)."""
    return e if c in sp.Mul.make_args(e) else c * e


def _plain(e):
    """Shifted -> difference, log1p -> log(1 + .), Where -> product, each
    distinct argmax mask -> its own free symbol (the identities hold for
    every mask value)."""
    e = e.replace(lambda a: isinstance(a, Where), lambda a: _where(*a.args))
    e = e.replace(lambda a: isinstance(a, Shifted), lambda a: a.args[0] - a.args[1])
    e = e.replace(lambda a: isinstance(a, log1p), lambda a: sp.log(1 + a.args[0]))
    masks = sorted(e.atoms(ArgmaxMask), key=sp.default_sort_key)
    return e.xreplace({m: sp.Symbol(f"mu_{i}", real=True) for i, m in enumerate(masks)})


def _equal(a, b) -> bool:
    a, b = _plain(a), _plain(b)
    exps = sorted((a.atoms(sp.exp) | b.atoms(sp.exp)), key=sp.default_sort_key)
    rep = {x: sp.Symbol(f"e_{i}", positive=True) for i, x in enumerate(exps)}
    d = sp.cancel(sp.together(a.xreplace(rep) - b.xreplace(rep)))
    return d == 0 or sp.simplify(d) == 0


def _row_env(names_c=("x", "g", "y", "t", "w"), names_r=("v",), scalars=("eps",)):
    env = {}
    for n in names_c:
        env[n] = (np.array([[sp.Symbol(f"{n}{j}", real=True) for j in range(NC)]], dtype=object), ("r", "c"))
    env["w"] = (np.array([sp.Symbol(f"w{j}", real=True) for j in range(NC)], dtype=object), ("c",))
    for n in names_r:
        env[n] = (np.array([sp.Symbol(f"{n}0", real=True)], dtype=object), ("r",))
    for n in scalars:
        env[n] = (sp.Symbol(n, real=True), ())
    return env


def _proves(before, after, env, elementwise=True):
    sizes = {"r": 1, "c": NC}
    idxs = [{"r": 0, "c": j} for j in range(NC)] if elementwise else [{"r": 0}]
    return all(_equal(instantiate(before, env, sizes, ix), instantiate(after, env, sizes, ix)) for ix in idxs)


# ----------------------------------------------------------------------------- rules on their own
x, g, k, r, M = (sp.Symbol(n, real=True) for n in ("x", "g", "k", "r", "M"))
S = sp.Symbol("S", positive=True)
NZ = Normalizer(S, M, x, C)
S_DEF = {S: RSum(sp.exp(Shifted(x, M)), C)}


def _with_S(e):
    return e.xreplace(S_DEF)


def test_log1p_normalizer_alone():
    before = x - sp.log(S)
    after = log1p_normalizer(before, NZ)
    assert after != before and after.has(log1p) and not after.has(sp.log(S))
    env = {**_row_env(), "M": (M, ())}
    assert _proves(_with_S(before), _with_S(after), env)
    # the proof can fail: s' off by the mask's count (Σ e - Σ [u = M]) is not S - 1
    wrong = x - log1p(RSum(NZ.e - NZ.mask, C))
    assert not _proves(_with_S(before), _with_S(wrong), env)


def test_ratio_offset_alone():
    y = sp.Symbol("y", real=True)
    before = k * NZ.e / S - (1 - r) * y - r / 3
    after = ratio_offset(before, NZ)
    assert after != before and after.has(Shifted(k * NZ.e, -(before - k * NZ.e / S)))
    env = {**_row_env(), "k": (k, ()), "r": (r, ())}
    assert _proves(_with_S(before), _with_S(after), env)
    # an offset holding the cotangent (log_softmax's g - p·Σg) is left alone
    assert ratio_offset(g - NZ.e * RSum(g, C) / S, NZ, seed=g) == g - NZ.e * RSum(g, C) / S


def test_vjp_pivot_alone():
    before = (g - RSum(g * NZ.e, C) / S) * NZ.e / S
    after = vjp_pivot(before, NZ)
    assert after != before and after.has(ArgmaxMask(x, M))
    assert _proves(_with_S(before), _with_S(after), _row_env())
    softmin_like = (-g + RSum(g * NZ.e, C) / S) * NZ.e / S
    assert vjp_pivot(softmin_like, NZ) != softmin_like


T, V, EPS, XT, WT, W = (sp.Symbol(n, real=True) for n in ("t", "v", "eps", "xT", "wT", "w"))
TS = TargetSelect(T, V, C, {x: XT, W: WT}, EPS)
TARGET = 1   # the one-hot's class in the proofs


def _target_env():
    env = _row_env()
    env["t"] = (np.array([[sp.Integer(int(j == TARGET)) for j in range(NC)]], dtype=object), ("r", "c"))
    env["xT"] = (np.array([env["x"][0][0, TARGET]], dtype=object), ("r",))
    env["wT"] = (env["w"][0][TARGET], ())
    return env


def test_onehot_gather_alone():
    before = -V * RSum(T * W * x, C) + RSum(T * sp.exp(Shifted(x, M)), C) * k
    after = onehot_gather(before, TS)
    assert after == -V * WT * XT + sp.exp(Shifted(XT, M)) * k
    env = {**_target_env(), "M": (M, ())}
    assert _proves(before, after, env, elementwise=False)
    # the proof can fail: the gather at another class is not the one-hot's sum
    wrong = after.xreplace({XT: sp.Symbol("xW", real=True)})
    env["xW"] = (np.array([env["x"][0][0, 0]], dtype=object), ("r",))
    assert not _proves(before, wrong, env, elementwise=False)
    # a sum whose body does not hold t in every term is left alone
    assert onehot_gather(RSum(T * x + x, C), TS) == RSum(T * x + x, C)


def test_valid_select_alone():
    before = -k * V * RSum(T * x, C)
    after = valid_select(before, TS)
    assert after == Where(V, -k * RSum(T * x, C))
    assert _proves(before, after, _target_env(), elementwise=False)
    # the selection is what makes an ignored row's nan harmless: 0·nan is nan, Where(0, nan) is 0
    assert (0 * sp.nan) is sp.nan and _plain(Where(V, x)).subs(V, 0) == 0
    assert valid_select(k * x, TS) == k * x   # no factor v: unchanged


def test_smoothing_select_alone():
    before = V * (k - EPS * RSum(Shifted(x, M), C) / 3)
    after = smoothing_select(before, TS)
    assert after.has(Where(EPS, -EPS * RSum(Shifted(x, M), C) / 3))
    assert _proves(before, after, {**_row_env(), "M": (M, ())}, elementwise=False)
    assert smoothing_select(V * k * EPS, TS) == V * k * EPS   # no class sum: unchanged


# ----------------------------------------------------------------------------- on the kernels' expressions
CASES = ([(s, {}) for s in (softmax, softmin, log_softmax, logsumexp)]
         + [(cross_entropy, v) for v in cross_entropy.kernel_variants()]
         + [(nll_loss, v) for v in nll_loss.kernel_variants()])


@pytest.mark.parametrize("spec,variant", CASES,
                         ids=[f"{s.name}-{'-'.join(map(str, v.values()))}" for s, v in CASES])
def test_stable_forms_equal_the_derived_ones(spec, variant):
    d = derive_reduction(spec, variant)
    before = {"out": d.forward_expr, **{f"d{w}": e for w, e in d.grads.items()}} if d.grads else \
        {"out": d.forward_expr, "dx": d.grad_expr}
    trace = []
    after = stabilize_normalizers(before, normalizers(d), trace, seed=d.seed)
    ts = target_select(d)
    after = select_target(after, ts, trace)
    fired = {name for name, _, _ in trace}
    expected = {"softmax": {"vjp_pivot"}, "softmin": {"vjp_pivot"}, "log_softmax": {"log1p_normalizer"},
                "logsumexp": {"log1p_normalizer"}, "cross_entropy": {"log1p_normalizer", "ratio_offset"},
                "nll_loss": set()}[spec.name]
    if variant.get("target") == "index":
        expected = expected | {"onehot_gather", "valid_select"} | ({"smoothing_select"} if ts.eps else set())
        # nothing is summed against the one-hot, and every output is a selection
        assert not any(r.has(ts.t) for e in after.values() for r in e.atoms(RSum)), after
        assert all(isinstance(e, Where) for e in after.values()), after
    assert fired == expected
    env = _target_env()   # a one-hot target at class 1, x_T and w_T its elements
    for key in before:
        b = d.graph.inline(before[key], keep_reductions=False)
        a = d.graph.inline(after[key], keep_reductions=False)
        elementwise = "c" in (d.out_axes if key == "out" else ("r", "c"))
        assert _proves(b, a, env, elementwise), (spec.name, variant, key)


def test_term_loss_index_targets_keep_their_product_form():
    """The gather reads at a guarded class (ignore_index's rows read class 0);
    a term loss's index target (multi_margin_loss: no ignore_index passed by
    its runtime) is left alone."""
    from symdl.specs.losses import LOSS_SPECS
    term = [s for s in LOSS_SPECS if getattr(s, "kind", "") == "term"
            and any(a.kind == "index" for a in s.args)]
    assert term
    for s in term:
        assert target_select(derive_reduction(s, s.variants()[0])) is None, s.name
