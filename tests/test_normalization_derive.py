"""The normalization backward comes out of the reduction engine in the
compact textbook form (no typed derivative anywhere)."""
import pytest
import sympy as sp

from symdl.derive.graph import unshift
from symdl.derive.normalization import compact_form, derive_norm
from symdl.derive.reduce_rules import ReductionSimplifier
from symdl.specs.normalization import NORM_SPECS, batch_norm
from symdl.specs.softmax import RSum, Shifted

NAMES = [s.name for s in NORM_SPECS]


def _outer_sums(e):
    """The outermost RSum chains of e (a nested chain counts once)."""
    out, stack = set(), [e]
    while stack:
        u = stack.pop()
        if isinstance(u, RSum):
            out.add(u)
        else:
            stack.extend(u.args)
    return out


@pytest.mark.parametrize("spec", NORM_SPECS, ids=NAMES)
def test_backward_is_the_compact_form(spec):
    d = derive_norm(spec)
    simp = ReductionSimplifier(d.graph)
    compact = compact_form(d)
    for w, grad in d.grads.items():
        assert sp.simplify(simp(grad - simp(compact[w.name]))) == 0, (spec.name, w)
    # the center rule is an identity: the stable formula is the definition
    assert unshift(d.stable) == d.definition
    if spec.centered:
        rules = {r for r, _, _ in d.trace}
        assert {"center", "centered", "linearity"} <= rules


@pytest.mark.parametrize("spec", NORM_SPECS, ids=NAMES)
def test_dx_reads_only_the_two_textbook_sums(spec):
    """dx uses sum(ĝ) and sum(ĝ·(x - mean)) only (RMS: sum(ĝ·x)): the mean's
    indirect terms cancelled (sum (x - mean) = 0) and no sum of x·g was
    split off the centered difference (which would cancel numerically)."""
    d = derive_norm(spec)
    x, g = spec.x, d.seed
    sums = _outer_sums(d.grads[x])
    bodies = {unshift(s) for s in sums}
    assert len(sums) == (2 if spec.centered else 1), sums
    for s in sums:
        inner = s
        while isinstance(inner, RSum):
            inner = inner.args[0]
        assert inner.has(g)                       # never a bare sum of x or of (x - mean)
        if inner.has(x):
            assert inner.has(Shifted) == spec.centered
    assert bodies


def test_batch_norm_form_stated():
    """Which form came out, for the record: weight/sigma·(g - mean(g) - x̂·mean(g·x̂))."""
    d = derive_norm(batch_norm)
    x, w, g = batch_norm.x, batch_norm.weight, d.seed
    n, s = sp.Symbol("n"), sp.Symbol("s")
    M = sp.Symbol("N_n", positive=True, integer=True) * sp.Symbol("N_s", positive=True, integer=True)
    eps = sp.Symbol("eps", real=True)
    sigma = sp.sqrt(d.var_node / M + eps)
    xc = Shifted(x, d.mean_node / M)
    mean = lambda u: RSum(RSum(u, n), s) / M   # noqa: E731
    expected = w / sigma * (g - mean(g) - (xc / sigma) * mean(g * xc / sigma))
    got = d.grads[x]
    assert got.has(w) and sp.Mul.make_args(got)[0] == w or w in sp.Mul.make_args(got)
    assert sp.simplify(ReductionSimplifier(d.graph)(got - expected)) == 0
    assert d.grads[w] == RSum(RSum(g * xc, n), s) / sigma
    assert d.grads[batch_norm.bias] == RSum(RSum(g, n), s)


@pytest.mark.parametrize("name", NAMES)
def test_latex_steps(name, capsys):
    from symdl.cli import main

    assert main(["latex", name, "--steps"]) == 0
    text = capsys.readouterr().out
    assert r"\bar{x_{" in text and "rule linearity" in text and "compact form" in text
    if name != "rms_norm":
        assert r"\text{rule centered:}\quad \sum" in text


@pytest.mark.parametrize("name,text,holds", [
    ("batch_norm", r"\frac{\gamma}{\sigma}\left(g - \operatorname{mean}(g) - \hat{x}\operatorname{mean}(g \hat{x})\right)", True),
    ("batch_norm", r"\frac{\gamma}{\sigma}\left(g - \bar{g} - \frac{x - \mu}{\sigma^2}\operatorname{mean}(g (x - \mu))\right)", True),
    ("batch_norm", r"\frac{\gamma}{\sigma}\left(g - \operatorname{mean}(g)\right)", False),
    ("batch_norm", r"\frac{\gamma}{\sigma}\left(g - \operatorname{mean}(g) - \hat{x}\operatorname{mean}(g x)\right)", False),
    ("layer_norm", r"\frac{1}{\sigma}\left(\hat{g} - \operatorname{mean}(\hat{g}) - \hat{x}\operatorname{mean}(\hat{g}\hat{x})\right)", True),
    ("rms_norm", r"\frac{1}{\sigma}\left(\hat{g} - \hat{x}\operatorname{mean}(\hat{g}\hat{x})\right)", True),
    ("rms_norm", r"\frac{\hat{g}}{\sigma}", False),
])
def test_verify_a_students_backward(name, text, holds):
    from symdl.verify import verify_spec

    (v,) = verify_spec(name, derivative=text)
    assert v.holds == holds, (v.status, v.reason)
    if not holds:
        assert v.status == "refuted" and v.counterexample["point"]


def test_verify_unknown_symbol_is_undecided():
    from symdl.verify import verify_spec

    (v,) = verify_spec("batch_norm", derivative=r"q\,g")
    assert v.status == "undecided" and "vocabulary" in v.reason


def test_group_norm_first_pass_sums_by_linearity():
    """Group norm (the weight constant along each channel's run): the
    backward's first pass sums each per-element factor once per run, and
    every group sum and parameter gradient is c·(that sum) -- c constant along
    the run; the product is the derived summand (``_split_run`` asserts it)."""
    from symdl.codegen.normalization import _split_run, norm_plan
    from symdl.specs.normalization import group_norm

    plan = norm_plan(group_norm)
    run = plan["run"]
    assert [q["name"] for q in plan["params"] if q["moved"]] == ["weight", "bias"]   # not in the dx pass
    assert len(run["sums"]) == 2                        # Σg and Σg·x̂ per run: shared by a0, a1, dγ, dβ
    assert not any("weight" in s["uses"] for s in run["sums"])
    w, g, xc, rstd = (sp.Symbol(n, real=True) for n in ("weight", "g", "xc", "rstd"))
    assert _split_run(g * w * xc) == (w, g * xc)
    assert _split_run(g * rstd * xc) == (rstd, g * xc)
    for name in ("batch_norm", "layer_norm", "instance_norm", "rms_norm"):
        assert norm_plan(next(s for s in NORM_SPECS if s.name == name))["run"] is None


def test_shifted_sum_of_squares_is_the_centered_one():
    """The float32 kernels' one-pass variance: Σ(x - K)² - M·(mean - K)² =
    Σ(x - mean)² for any shift K (here symbolic data of 5 elements)."""
    from symdl.codegen.normalization import shifted_sum_of_squares

    xs = sp.symbols("x0:5", real=True)
    k = sp.Symbol("K", real=True)
    mean = sum(xs) / 5
    got = shifted_sum_of_squares(sum((x - k) ** 2 for x in xs), mean - k, 5)
    assert sp.expand(got - sum((x - mean) ** 2 for x in xs)) == 0
