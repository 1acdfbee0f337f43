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
