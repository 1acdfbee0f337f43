"""The derivation engine for reductions: each VJP rule, broadcasting, the
reduction rules (linearity, fold, constraints), the max-shift rule and the
proof that the shift's cotangent cancels; cross_entropy's gradient comes out
as (softmax(z) - y)/N without a hand-typed formula; LaTeX."""
import mpmath
import numpy as np
import pytest
import sympy as sp

from symdl.derive.graph import ArgmaxMask, Graph, RMax, RSum, Shifted, Simplex, axis_size, derive_reduction
from symdl.derive.reduce_rules import ReductionSimplifier, shift_logsumexp
from symdl.derive.reduction_latex import reduction_latex
from symdl.specs.losses import LOSS_SPECS, cross_entropy, nll_loss
from symdl.specs.softmax import SOFTMAX_SPECS, C, log_softmax, logsumexp, softmax

from reduction_truth import instantiate, symbols_like

c, r = sp.Symbol("c"), sp.Symbol("r")
N_c, N_r = axis_size("c"), axis_size("r")


def simple_graph():
    g = Graph(("r", "c"))
    x = g.input("x", ("r", "c"), differentiable=True)
    g.size("c")
    g.size("r")
    return g, x


# ---------------------------------------------------------------------------- VJP rules
def test_vjp_sum_broadcasts():
    g, x = simple_graph()
    s = g.sum("s", x, "c")
    seed = g.input("g", ("r",))
    assert g.backward(s, seed).grads[x] == seed


def test_vjp_mean_divides_by_axis_size():
    g, x = simple_graph()
    m = g.mean("m", x, "c")
    seed = g.input("g", ("r",))
    assert sp.simplify(g.backward(m, seed).grads[x] - seed / N_c) == 0


def test_vjp_max_routes_to_argmax():
    g, x = simple_graph()
    m = g.max("m", x, "c")
    seed = g.input("g", ("r",))
    gx = g.backward(m, seed).grads[x]
    assert gx.has(ArgmaxMask)
    mask = ArgmaxMask(x, m)
    assert sp.simplify(gx - seed * mask / RSum(mask, c)) == 0


def test_vjp_elementwise_partials_from_sympy_diff_and_broadcast_sum():
    g = Graph(("r", "c"))
    x = g.input("x", ("r", "c"), differentiable=True)
    b = g.input("b", ("r",), differentiable=True)
    g.size("c")
    y = g.let("y", sp.exp(x) * b)
    seed = g.input("g", ("r", "c"))
    bw = g.backward(y, seed)
    assert sp.simplify(bw.grads[x] - seed * sp.exp(x) * b) == 0
    # b lacks axis c: its cotangent is summed over the broadcast axis
    assert sp.simplify(bw.grads[b] - RSum(seed * sp.exp(x), c)) == 0


# ---------------------------------------------------------------------------- rules
def test_linearity_pulls_constants_and_counts():
    g = Graph(("r", "c"))
    x = g.input("x", ("r", "c"))
    k = g.input("k", ("r",))
    g.size("c")
    simp = ReductionSimplifier(g)
    assert simp.reduce(RSum(k * x + 3 * x ** 2, c)) == k * RSum(x, c) + 3 * RSum(x ** 2, c)
    assert simp.reduce(RSum(k, c)) == N_c * k
    assert simp.reduce(RSum(k * (x - 1), c)) == k * RSum(x, c) - N_c * k


def test_constraint_and_fold():
    g = Graph(("r", "c"))
    y = g.input("y", ("r", "c"), constraints=[Simplex("c")])
    x = g.input("x", ("r", "c"))
    g.size("c")
    eps = g.input("eps", ())
    e = g.let("e", sp.exp(x))
    s = g.sum("s", e, "c")
    simp = ReductionSimplifier(g)
    assert simp(RSum(y, c)) == 1
    assert simp(RSum((1 - eps) * y + eps / N_c, c)) == 1        # label smoothing keeps sum 1
    assert simp(RSum(sp.exp(x), c)) == s                         # fold into the node
    assert simp(RSum(e / s, c)) == 1                             # softmax sums to 1


#: the specs with a log-sum-exp (glu and maxout have none to shift)
LSE_SPECS = [s for s in SOFTMAX_SPECS if s.expr.has(sp.exp)]


def test_shift_rule_is_an_identity():
    x = sp.Symbol("x", real=True)
    for spec in LSE_SPECS:
        stable = shift_logsumexp(spec.expr)
        assert stable.has(RMax) and stable.has(Shifted)
        X = symbols_like("x", (2, 3))
        rng = np.random.default_rng(1)
        vals = rng.normal(0, 5, (2, 3))
        env = {"x": (X, ("r", "c"))}
        subs = {X[i, j]: sp.Rational(vals[i, j]) for i in range(2) for j in range(3)}
        for idx in ({"r": 0, "c": 1}, {"r": 1, "c": 2}):
            a = instantiate(spec.expr, env, {"r": 2, "c": 3}, idx).subs(subs)
            b = instantiate(stable, env, {"r": 2, "c": 3}, idx).replace(
                lambda e: isinstance(e, Shifted), lambda e: e.args[0] - e.args[1]).subs(subs)
            # every element symbol was substituted (the env key "x" is the
            # spec's element symbol): a comparison of numbers, not of symbols
            assert a.is_number and b.is_number and a.is_finite, (spec.name, a)
            assert abs(sp.N(a - b, 50)) < 1e-45
        assert x in spec.expr.free_symbols, spec.name


# ---------------------------------------------------------------------------- shift cancels
@pytest.mark.parametrize("spec", LSE_SPECS + [cross_entropy], ids=lambda s: s.name)
def test_shift_cotangent_is_proved_zero(spec):
    d = derive_reduction(spec)
    shifts = d.backward.shifts()
    assert len(shifts) == 1
    m, raw, simplified = shifts[0]
    assert d.graph.nodes[m].kind == "max"
    assert raw != 0 and raw.has(RSum)         # the chain rule did produce terms...
    assert simplified == 0                    # ...and the rules cancel them
    # the max's VJP rule contributed nothing: no argmax mask in the gradient
    assert not d.grad_expr.has(ArgmaxMask)


def test_cross_entropy_gradient_is_softmax_minus_target():
    d = derive_reduction(cross_entropy, {"target": "probs", "weighted": False, "reduction": "mean"})
    gsym, x, y = d.seed, d.x, sp.Symbol("y", real=True)
    (m,) = [s for s, n in d.graph.nodes.items() if n.kind == "max"]
    (s,) = [s for s, n in d.graph.nodes.items()
            if n.kind == "sum" and d.graph.inline(n.operand).has(sp.exp)]
    p = sp.exp(Shifted(x, m)) / s
    eps = sp.Symbol("eps", real=True)
    assert sp.simplify(d.grad_expr.subs(eps, 0) - gsym * (p - y) / N_r) == 0
    # class indices: the one-hot t and the ignore mask v; mean over non-ignored rows
    d = derive_reduction(cross_entropy, {"target": "index", "weighted": False, "reduction": "sum"})
    t, v = sp.Symbol("t", real=True), sp.Symbol("v", real=True)
    (m,) = [s_ for s_, n in d.graph.nodes.items() if n.kind == "max"]
    (s,) = [s_ for s_, n in d.graph.nodes.items()
            if n.kind == "sum" and d.graph.inline(n.operand).has(sp.exp)]
    assert sp.simplify(d.grad_expr.subs(eps, 0) - d.seed * v * (sp.exp(Shifted(x, m)) / s - t)) == 0


def test_scores_targets_keep_the_target_sum():
    # without the declared constraint, sum_c y stays: dL/dz = g (p·sum y - y)
    d = derive_reduction(cross_entropy, {"target": "scores", "weighted": False, "reduction": "sum"})
    assert d.grad_expr.subs(sp.Symbol("eps", real=True), 0).has(RSum)


def test_log_softmax_and_logsumexp_gradients():
    d = derive_reduction(log_softmax)
    assert d.grad_expr.has(RSum) and not d.grad_expr.has(RMax)
    d = derive_reduction(logsumexp)
    (m,) = [s for s, n in d.graph.nodes.items() if n.kind == "max"]
    (s,) = [s_ for s_, n in d.graph.nodes.items() if n.kind == "sum"]
    assert sp.simplify(d.grad_expr - d.seed * sp.exp(Shifted(d.x, m)) / s) == 0


@pytest.mark.parametrize("spec", LOSS_SPECS, ids=lambda s: s.name)
def test_every_loss_variant_derives(spec):
    for v in spec.variants():
        d = derive_reduction(spec, v)
        assert not any(g.has(ArgmaxMask) for g in d.grads.values())
        if getattr(spec, "kind", "") != "term":
            assert d.x in d.grad_expr.free_symbols or spec is nll_loss
        else:   # one gradient per differentiated argument, in torch's order
            assert [w.name for w in d.grads] == [a.sym for a in spec.args if a.name in spec.wrt(v)]


def test_graph_errors():
    g, x = simple_graph()
    with pytest.raises(ValueError, match="not a node"):
        g.let("y", x + sp.Symbol("q"))
    with pytest.raises(ValueError, match="axes"):
        g.sum("s", g.input("k", ("r",)), "c")
    with pytest.raises(ValueError, match="twice"):
        g.input("x", ("r",))


# ---------------------------------------------------------------------------- LaTeX
def test_latex_cross_entropy_steps():
    tex = reduction_latex(cross_entropy, steps=True)
    assert r"\operatorname{softmax}(x)_{rc} - y_{rc}" in tex
    assert "cancels" in tex and r"\sum_{c} y_{rc} = 1" in tex
    assert "rule linearity" in tex


def test_latex_log_softmax_shows_shift():
    tex = reduction_latex(log_softmax, steps=True)
    assert "max-shift" in tex and r"\max_{c}" in tex and "cancels" in tex
    assert reduction_latex(softmax).count("\n") < tex.count("\n")
    _ = (C, mpmath)


def test_maxout_gradient_is_the_argmax_mask():
    """maxout's VJP is the max rule's: g at the argmax, ties split evenly."""
    from symdl.specs.softmax import maxout
    d = derive_reduction(maxout)
    (m,) = [s for s, n in d.graph.nodes.items() if n.kind == "max"]
    mask = ArgmaxMask(d.x, m)
    assert d.grad_expr == d.seed * mask / RSum(mask, c)


def test_glu_gradient_from_the_halves():
    """glu = a·σ(b) with a, b sums of the selected halves: d/dx = g·(s0·σ(b) + s1·a·σ(b)σ(-b))."""
    from symdl.specs.functions import sigmoid
    from symdl.specs.softmax import glu
    d = derive_reduction(glu)
    a, b = [s for s, n in d.graph.nodes.items() if n.kind == "sum"]
    s0, s1 = sp.Symbol("s0", real=True), sp.Symbol("s1", real=True)
    want = d.seed * (s0 * sigmoid(b) + s1 * a * sigmoid(b) * sigmoid(-b))
    assert sp.expand(d.grad_expr - want) == 0
