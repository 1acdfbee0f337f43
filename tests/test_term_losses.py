"""Term losses (every loss but cross_entropy / nll_loss) against the spec's
*definition* instantiated at small concrete sizes as plain SymPy (mpmath at
>= 60 digits, derivatives by SymPy): the kernels evaluate the stabilized
form the engine derived, so this also checks each stable form.  Kink
conventions pinned against torch's autograd; bad input; the declared stable
form proven equal to the definition.

Every kernel: each reduction, kernel kind, dtype and the serial and prange
variants (symdl.testing.check_loss).  A prange kernel is compiled from the
very body of its serial one (tests/test_one_body.py), so the serial checks
verify its math for every case; the prange path itself is checked for the
losses of PARALLEL_SAMPLE by default and for every case under -m slow (a
parallel compile costs about three serial ones)."""
import math
import os
import warnings

import mpmath
import numpy as np
import pytest
from sampling import slow_unless
import sympy as sp

import symdl
from symdl.errors import ParameterError, ShapeError
from symdl.specs import losses as L

from symdl.testing import check_loss
# the cases (each loss's input domain) are shared with test_mutants and the docs' accuracy pages
from symdl.testing.loss_cases import OPTIONS, S, case_args as _args, resolve_options as _resolve, term_case  # noqa: F401

TERM = [s for s in L.LOSS_SPECS if getattr(s, "kind", "") == "term"]
#: the random cases' seed (fixed: str hashes change between processes)
SEED = int(os.environ.get("SYMDL_TEST_SEED", "0"))

CASES = [pytest.param(s, i, kind, id=f"{s.name}-{i}-{kind}")
         for s in TERM for i in range(len(OPTIONS.get(s.name, [{}]))) for kind in ("random", "extreme")]


#: the prange path in the default run (first option set, random case): one
#: loss per shape of kernel -- elementwise terms (mse_loss), a kink (huber_loss),
#: optional weights (binary_cross_entropy_with_logits), a per-row feature
#: reduction (cosine_embedding_loss), batchmean (kl_div); the rest: -m slow
PARALLEL_SAMPLE = {"mse_loss", "huber_loss", "binary_cross_entropy_with_logits",
                   "cosine_embedding_loss", "kl_div"}
PARALLEL_CASES = slow_unless(CASES, lambda spec, opt, kind, *_: (
    spec.name in PARALLEL_SAMPLE and opt == 0 and kind == "random"))


@pytest.mark.parametrize("spec,opt_index,kind", CASES)
def test_against_definition(spec, opt_index, kind):
    """Every reduction x kernel kind (forward, backward, fused; every
    differentiated argument) x float64/float32, serial kernels
    (symdl.testing.check_loss)."""
    opts, args = term_case(spec.name, opt_index, kind, SEED)
    check_loss(spec, symdl.kernel(spec.name, **opts), cases=[args], paths=("serial",)).assert_ok()


@pytest.mark.parametrize("spec,opt_index,kind", PARALLEL_CASES)
def test_parallel_path_against_definition(spec, opt_index, kind):
    """The same checks through the prange kernels (inputs past the threshold)."""
    opts, args = term_case(spec.name, opt_index, kind, SEED)
    res = check_loss(spec, symdl.kernel(spec.name, **opts), cases=[args], paths=("parallel",))
    assert len(res) > 0
    res.assert_ok()


def test_parallel_sample_names_real_losses():
    assert PARALLEL_SAMPLE <= {s.name for s in TERM}


# ---------------------------------------------------------------------------- stable forms
def test_declared_stable_forms_equal_their_definitions():
    """bce_with_logits' w (pw y softplus(-x) + (1-y) softplus(x)) is the
    definition -w (pw y log sigma(x) + (1-y) log(1 - sigma(x))), at 200 points
    evaluated with 450 digits (the definition cancels: 1 - sigma(700) needs
    ~300 of them) to 40 (x from -700 to 700)."""
    from symdl.specs.functions import to_definition
    rng = np.random.default_rng(0)
    for spec in TERM:
        if not spec.has_stable:
            continue
        for v in spec.variants():
            if v["reduction"] != "none":
                continue
            d, s = spec.row(v, stable=False), to_definition(spec.row(v))
            syms = sorted(d.free_symbols | s.free_symbols, key=lambda z: z.name)
            f = sp.lambdify(syms, d - s, modules="mpmath")
            fd = sp.lambdify(syms, d, modules="mpmath")
            with mpmath.workdps(450):
                for _ in range(200):
                    vals = {z: mpmath.mpf(float(rng.uniform(0, 1))) for z in syms}
                    vals[L.x] = mpmath.mpf(float(rng.choice([-1, 1]) * 10 ** rng.uniform(-8, math.log10(700))))
                    diff, ref = f(*[vals[z] for z in syms]), fd(*[vals[z] for z in syms])
                    assert abs(diff) <= mpmath.mpf(10) ** -40 * max(1, abs(ref)), (spec.name, vals)


def test_stabilization_applied():
    """The engine rewrote log(1 - x) as log1p(-x) and log(1 + exp(u)) as softplus(u)."""
    from symdl.derive.graph import derive_reduction
    from symdl.specs.functions import log1p, softplus
    d = derive_reduction(L.binary_cross_entropy, {"weight": False, "reduction": "none"})
    assert d.forward_expr.has(log1p)
    d = derive_reduction(L.soft_margin_loss, {"reduction": "none"})
    assert d.forward_expr.has(softplus)


# ---------------------------------------------------------------------------- torch
TORCH = {
    "mse_loss": ({}, ("input", "target")), "l1_loss": ({}, ("input", "target")),
    "huber_loss": ({"delta": 0.75}, ("input", "target")),
    "smooth_l1_loss": ({"beta": 0.75}, ("input", "target")),
    "binary_cross_entropy": ({"weight": "w"}, ("input",)),
    "binary_cross_entropy_with_logits": ({"weight": "w", "pos_weight": "pw"}, ("input", "target")),
    "kl_div": ({}, ("input",)),
    "poisson_nll_loss": ({"log_input": False, "full": True}, ("input",)),
    "gaussian_nll_loss": ({"full": True}, ("input", "target", "var")),
    "hinge_embedding_loss": ({"margin": 1.0}, ("input",)),
    "soft_margin_loss": ({}, ("input",)),
    "margin_ranking_loss": ({"margin": 0.5}, ("input1", "input2")),
    "multi_margin_loss": ({"p": 2, "margin": 0.7, "weight": "wc"}, ("input",)),
    "cosine_embedding_loss": ({"margin": 0.1}, ("input1", "input2")),
}


@pytest.mark.parametrize("name", sorted(TORCH))
def test_against_torch(name):
    """Values, gradients and the kink conventions (the random cases hold the
    kinks) against torch's autograd, float64, every reduction."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    opts0, wrt = TORCH[name]
    rng = np.random.default_rng(3)
    opts = _resolve(opts0, rng)
    topts = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in opts.items()}
    args = _args(name, opts, "random", rng)
    spec = next(s for s in TERM if s.name == name)
    names = [a.name for a in spec.args if not a.optional]
    reds = ["mean", "sum", "none"] + (["batchmean"] if name == "kl_div" else [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for red in reds:
            ts = [torch.tensor(a, requires_grad=n in wrt) for n, a in zip(names, args)]
            Lt = getattr(F, name)(*ts, reduction=red, **topts)
            g = rng.normal(size=tuple(Lt.shape)) if Lt.ndim else 1.3
            Lt.backward(torch.tensor(g, dtype=torch.float64))
            k = symdl.kernel(name, reduction=red, **opts)
            if red == "none":   # the fused kernel (the one test_against_definition compiled)
                loss, res = k.forward_backward(*args, grad=g)
                got = dict(zip(k.inputs, res if isinstance(res, tuple) else (res,)))
            else:
                loss, got = k.forward(*args), k.grads(*args, grad=g)
                assert set(got) >= set(wrt)
            np.testing.assert_allclose(loss, Lt.detach().numpy(), rtol=1e-12, atol=1e-14,
                                       err_msg=f"{name} {red}")
            # (torch's cosine gradient at a zero row is off by ~2e-9; symdl's
            # matches the 60-digit truth to 1e-12 in test_against_definition)
            rtol = 1e-8 if name == "cosine_embedding_loss" else 1e-11
            for n, t in zip(names, ts):
                if n in wrt and n in got:
                    np.testing.assert_allclose(got[n], t.grad.numpy(), rtol=rtol, atol=1e-14,
                                               err_msg=f"{name} {red} d{n}")


def test_gaussian_var_broadcast_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    for vshape in ((4,), (4, 1), (4, 3)):
        v = rng.uniform(0.1, 2, vshape)
        ts = [torch.tensor(a, requires_grad=True) for a in (x, y, v)]
        torch.nn.functional.gaussian_nll_loss(*ts).backward()
        got = symdl.kernel("gaussian_nll_loss").grads(x, y, v)
        assert got["var"].shape == vshape
        for n, t in zip(("input", "target", "var"), ts):
            np.testing.assert_allclose(got[n], t.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_kink_conventions():
    """The conventions without a torch counterpart, and the one place where
    symdl's binary_cross_entropy gradient and torch's differ on purpose."""
    k = symdl.kernel("hinge_loss", reduction="sum")
    # seed 001 eq 16: d/dx = 0 at y x = 1, -y below
    np.testing.assert_array_equal(k.backward(np.array([1.0, -1.0, 0.5]), np.array([1.0, -1.0, 1.0])),
                                  [0.0, 0.0, -1.0])
    k = symdl.kernel("l1_loss", reduction="sum")
    assert k.backward(np.array([2.0]), np.array([2.0]))[0] == 0.0
    # bce: the derivative of the clamped forward is 0 where log x < -100;
    # torch's backward clamps x (1 - x) at 1e-12 instead (-1e12 here)
    k = symdl.kernel("binary_cross_entropy", reduction="sum")
    assert k.forward(np.array([0.0]), np.array([1.0])) == 100.0
    assert k.backward(np.array([0.0]), np.array([1.0]))[0] == 0.0
    assert k.backward(np.array([1e-6]), np.array([1.0]))[0] == pytest.approx(-1e6, rel=1e-12)


# ---------------------------------------------------------------------------- bad input
def test_bad_input():
    bce = symdl.kernel("binary_cross_entropy")
    with pytest.raises(ValueError, match="input should be between 0 and 1"):
        bce.forward(np.array([0.5, 1.5]), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="input should be between 0 and 1"):
        bce.forward(np.array([np.nan]), np.array([1.0]))
    with pytest.raises(ValueError, match="target should be between 0 and 1"):
        bce.backward(np.array([0.5]), np.array([-0.5]))
    with pytest.raises(ShapeError, match=r"\(3, 4\).*\(4, 3\)"):
        symdl.kernel("huber_loss").forward(np.zeros((3, 4)), np.zeros((4, 3)))
    with pytest.raises(ShapeError, match=r"\(2, 3\).*\(3,\)"):
        symdl.kernel("cosine_embedding_loss").forward(np.zeros((2, 3)), np.zeros((2, 3)), np.ones(3))
    with pytest.raises(IndexError, match=r"class index 5 .*C = 4"):
        symdl.kernel("multi_margin_loss").forward(np.zeros((2, 4)), np.array([0, 5]))
    with pytest.raises(ValueError, match="negative"):
        symdl.kernel("gaussian_nll_loss").forward(np.zeros(3), np.zeros(3), np.array([1.0, -1.0, 1.0]))
    with pytest.raises(ShapeError, match="var"):
        symdl.kernel("gaussian_nll_loss").forward(np.zeros((3, 2)), np.zeros((3, 2)), np.ones(2))
    with pytest.raises(ShapeError, match="broadcast"):
        symdl.kernel("binary_cross_entropy", weight=np.ones(3)).forward(np.full((2, 4), .5), np.ones((2, 4)))
    with pytest.raises(ParameterError, match="p=3"):
        symdl.kernel("multi_margin_loss", p=3)
    with pytest.raises(ParameterError, match="reduction"):
        symdl.kernel("mse_loss", reduction="batchmean")
    with pytest.raises(ParameterError, match="no parameter"):
        symdl.kernel("hinge_loss", margin=2.0)
    with pytest.raises(TypeError, match="takes 3 arrays"):
        symdl.kernel("margin_ranking_loss").forward(np.zeros(2), np.zeros(2))
    with pytest.warns(RuntimeWarning, match="empty"):
        assert np.isnan(symdl.kernel("smooth_l1_loss").forward(np.zeros((0, 3)), np.zeros((0, 3))))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert symdl.kernel("huber_loss", reduction="sum").forward(np.zeros(0), np.zeros(0)) == 0.0


def test_sum_squared_error_defaults_to_sum_and_halves():
    x, y = np.array([1.0, 2.0, 4.0]), np.array([0.0, 0.0, 1.0])
    assert symdl.kernel("sum_squared_error").forward(x, y) == 0.5 * (1 + 4 + 9)
    np.testing.assert_array_equal(symdl.kernel("sum_squared_error").backward(x, y), x - y)


def test_gan_objectives_are_the_seed_formulas():
    rng = np.random.default_rng(1)
    dr, df = rng.uniform(0.05, 0.95, 6), rng.uniform(0.05, 0.95, 6)
    cases = {"gan_d_loss": -np.mean(np.log(dr)) - np.mean(np.log1p(-df)),
             "lsgan_d_loss": 0.5 * np.mean((dr - 1) ** 2) + 0.5 * np.mean(df ** 2),
             "wgan_critic_loss": -np.mean(dr) + np.mean(df)}
    for name, want in cases.items():
        assert symdl.kernel(name).forward(dr, df) == pytest.approx(want, rel=1e-14)
        d_real, d_fake = symdl.kernel(name).backward(dr, df)
        assert d_real.shape == d_fake.shape == (6,)
    g = {"gan_g_loss": -np.mean(np.log(df)), "lsgan_g_loss": 0.5 * np.mean((df - 1) ** 2),
         "wgan_g_loss": -np.mean(df)}
    for name, want in g.items():
        assert symdl.kernel(name).forward(df) == pytest.approx(want, rel=1e-14)
    assert symdl.kernel("gan_g_loss", saturating=True).forward(df) == pytest.approx(
        np.mean(np.log1p(-df)), rel=1e-14)
    with pytest.raises(ShapeError, match=r"\(6,\).*\(5,\)"):
        symdl.kernel("gan_d_loss").forward(dr, df[:5])


def test_parallel_kernels_match_serial_and_out_buffers():
    """Above the parallel threshold the prange kernels run: identical results
    (batch sums add the rows' values in row order in both)."""
    import symdl.runtime.reductions as RR
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 129)).astype(np.float32)
    y = rng.normal(size=x.shape).astype(np.float32)
    cases = {"mse_loss": (x, y), "multi_margin_loss": (x, rng.integers(0, 129, 300))}
    for name, args in cases.items():
        par = symdl.kernel(name, reduction="sum").forward_backward(*args)
        old = RR.PARALLEL_THRESHOLD
        RR.PARALLEL_THRESHOLD = 1 << 62
        try:
            ser = symdl.kernel(name, reduction="sum").forward_backward(*args)
        finally:
            RR.PARALLEL_THRESHOLD = old
        assert par[0] == ser[0], name
        for a, b in zip(np.atleast_1d(par[1]) if not isinstance(par[1], tuple) else par[1],
                        np.atleast_1d(ser[1]) if not isinstance(ser[1], tuple) else ser[1]):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(symdl.kernel("mse_loss", reduction="sum").forward(x, y),
                               np.sum((x.astype(np.float64) - y) ** 2), rtol=1e-6)
    # out= buffers are filled and returned
    k = symdl.kernel("margin_ranking_loss", reduction="none")
    o, a, b = np.empty(4), np.empty(4), np.empty(4)
    loss, (da, db) = k.forward_backward(np.ones(4), np.zeros(4), np.ones(4), grad=np.ones(4), out=(o, (a, b)))
    assert loss is o and da is a and db is b
    with pytest.raises(ParameterError, match="out= needs 2"):
        k.backward(np.ones(4), np.zeros(4), np.ones(4), out=a)
    with pytest.warns(UserWarning, match="batchmean"):
        symdl.kernel("kl_div").forward(np.zeros(3), np.ones(3))
