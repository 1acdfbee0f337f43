"""The notes' NAdam (seed 001 §5.3 eq. 60, seed 003 eq. 21) against torch's
NAdam, by unrolling both symbolically (symdl.derive.optimizers.equivalence),
and RMSprop/Adagrad with ε inside the square root (``eps_inside_sqrt``)."""
import numpy as np
import pytest
import sympy as sp

from symdl.derive.optimizers import equivalence, unroll
from symdl.specs import get
from symdl.specs.optimizers import beta1, g, momentum_decay, theta

eta = sp.Symbol("eta", real=True)
THETA0 = sp.Symbol("theta_0", real=True)


def _first_step(name, **hyper):
    """θ₁ - θ₀ of rule ``name`` from m = v = 0 with gradient g (ε / eps = 0)."""
    rule = get(name)
    hs = {p.symbol: hyper.get(p.name, p.symbol) for p in rule.hyper}
    for p in rule.hyper:
        if p.name in ("eps", "epsilon", "weight_decay"):
            hs[p.symbol] = 0
    h = unroll(rule, steps=1, hyper=hs, init={theta: THETA0}, grads=[g])
    return sp.simplify(h[1][theta] - THETA0)


def test_dozat_form_equals_torch_at_infinite_momentum_decay():
    """NAdam with a constant μ = β₁, the corrections as Dozat: torch's at ψ = ∞."""
    rows = equivalence(get("nadam_dozat"), steps=3)
    assert [d for *_, d in rows] == [0, 0, 0, 0]


@pytest.mark.parametrize("name", ["nadam_seed001", "nadam_seed003"])
def test_notes_nadam_is_not_torchs(name):
    rows = equivalence(get(name), steps=2)
    assert rows[0][3] == 0 and rows[1][3] != 0     # the same start, different first steps
    notes = _first_step(name, lr=eta)
    torch_inf = _first_step("nadam", lr=eta, momentum_decay=sp.oo)
    # at t = 1 from m = v = 0: torch's step is (1 + 2β₁)/(1 + β₁) times the notes' (ψ = ∞)
    assert sp.simplify(torch_inf / notes - (1 + 2 * beta1) / (1 + beta1)) == 0
    assert "(1 + 2β₁)/(1 + β₁)" in get(name).notation.differs


def test_notes_nadam_differs_for_every_momentum_decay():
    """For any ψ > 0 torch's first step is 1 + μ₂(1 - β₁)/(1 - μ₁μ₂) > 1 times
    the notes' (μ_t = β₁(1 - ½·0.96^{tψ})), so no ψ makes them equal."""
    notes = _first_step("nadam_seed001", lr=eta)
    torch_psi = _first_step("nadam", lr=eta)
    ratio = sp.simplify(torch_psi / notes)
    mu = lambda k: beta1 * (1 - sp.Rational(1, 2) * sp.Rational(96, 100) ** (k * momentum_decay))  # noqa: E731
    assert sp.simplify(ratio - (1 + mu(2) * (1 - beta1) / (1 - mu(1) * mu(2)))) == 0
    for b in (0.1, 0.5, 0.9, 0.999):
        for psi in (1e-3, 4e-3, 1.0, 100.0):
            assert float(ratio.subs({beta1: b, momentum_decay: psi})) > 1.0


# ---------------------------------------------------------------- ε inside the square root
NU = sp.Symbol("nu", real=True)


@pytest.mark.parametrize("notes,rule,variant,hyper", [
    ("rmsprop_seed002", "rmsprop", {"eps_inside_sqrt": True}, {"lr": "epsilon", "alpha": "beta", "eps": "nu"}),
    ("adagrad_seed002", "adagrad", {"eps_inside_sqrt": True}, {"lr": "epsilon", "eps": "nu"}),
    ("rmsprop_momentum_seed002", "rmsprop", {"has_momentum": True, "eps_inside_sqrt": True},
     {"lr": "epsilon", "alpha": "beta", "momentum": "alpha", "eps": "nu"}),
])
def test_notes_eps_inside_the_root_is_the_eps_inside_sqrt_option(notes, rule, variant, hyper):
    """The notes' forms with ν inside the root (equal to torch's only at ν = 0)
    are exactly the eps_inside_sqrt variant with eps = ν, for every ν: unrolled
    three steps with symbolic gradients."""
    n, r = get(notes), get(rule)
    gs = [sp.Symbol(f"g_{k}", real=True) for k in (1, 2, 3)]
    ours = unroll(n, steps=3, init={theta: THETA0}, grads=gs)
    hs = {p.symbol: sp.Symbol(hyper[p.name], real=True) if p.name in hyper else 0 for p in r.hyper}
    theirs = unroll(r, variant, steps=3, hyper=hs, init={theta: THETA0}, grads=gs)
    for a, b in zip(theirs, ours):
        assert sp.simplify(a[theta] - b[theta]) == 0
    assert ours[-1][theta].has(NU) and ours[-1][theta].has(gs[2])
    # and it is not the default (torch's) form at ν ≠ 0
    torch_form = unroll(r, {k: val for k, val in variant.items() if k != "eps_inside_sqrt"},
                        steps=1, hyper=hs, init={theta: THETA0}, grads=gs)
    assert sp.simplify(torch_form[1][theta] - theirs[1][theta]) != 0


@pytest.mark.parametrize("cls,kw", [("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, eps=1e-3)),
                                    ("Adagrad", dict(lr=0.1, eps=1e-3, weight_decay=0.1))])
def test_eps_inside_sqrt_kernels(cls, kw):
    """The option's kernels: check_optimizer (one step vs the equations at 60
    digits, float64 and float32; the serial kernels: their prange copies run
    the same bodies, checked for every variant under -m slow), and the class
    argument against its default form (different, by the predicted amount at
    step 1)."""
    import symdl.optim as O
    from symdl.testing import check_optimizer

    p = np.linspace(-1, 1, 7)
    opt = getattr(O, cls)([p], eps_inside_sqrt=True, **kw)
    group = opt.param_groups[0]
    meta, key, _ = opt._variant_meta(group)
    assert key.endswith("__eps_inside_sqrt1")
    variant = next(v for v, k, _ in meta["variants"] if k == key)
    res = check_optimizer(opt._rule(group), variants=[variant],
                          hyper=dict(zip(meta["hyper"], opt._hyper(meta, group))), paths=("serial",))
    assert len(res) >= 4
    res.assert_ok()
    q = p.copy()
    ref = getattr(O, cls)([q], **kw)
    gr = np.linspace(0.5, -0.25, 7)
    opt.step([gr.copy()])
    ref.step([gr.copy()])
    assert not np.allclose(p, q, rtol=1e-9, atol=0)
    assert np.all(np.isfinite(p))


def test_from_rule_takes_the_option():
    import symdl.optim as O

    p = np.ones(3)
    opt = O.from_rule("adagrad", [p], lr=0.5, eps=0.25, eps_inside_sqrt=True)
    opt.step([np.full(3, 2.0)])
    np.testing.assert_allclose(p, 1 - 0.5 * 2 / np.sqrt(4 + 0.25), rtol=1e-15)
