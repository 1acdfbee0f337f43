"""The new rules of issue 19 item 1: LAMB and LARS (per-tensor trust ratios),
NovoGrad (a per-tensor second moment), signSGD, Signum, Adan, Adafactor.

* each case's kernels against its spec equations at 60 digits
  (``symdl.testing.check_optimizer``; LAMB/LARS: both passes and the sums over
  the whole tensor, serial and prange over several blocks);
* LAMB against optax's update and LARS against optax's, computed here from
  optax's equations (optax is not installed); LAMB without bias correction
  against the paper's Algorithm 2 with m̂ = m, v̂ = v; NovoGrad against its
  paper's Algorithm 1;
* Adafactor against torch.optim.Adafactor (trajectories, state, state dict);
* Adan against the authors' PyTorch step (sail-sg/Adan's single-tensor code,
  written out here in torch ops), float64 to 1e-10;
* signSGD and Signum against their papers' updates.
One table drives the tests.
"""
import numpy as np
import pytest
from sampling import slow_unless

import symdl.optim as O
from symdl.testing import check_optimizer, check_optimizer_of

CASES = [
    ("lamb", "LAMB", dict(lr=0.01)),
    ("lamb_wd_nobc_max", "LAMB", dict(lr=0.01, weight_decay=0.1, bias_correction=False, maximize=True)),
    ("lars", "LARS", dict(lr=0.1, weight_decay=0.01, trust_coefficient=0.02)),
    ("lars_nesterov_eps", "LARS", dict(lr=0.1, momentum=0.8, nesterov=True, eps=1e-3)),
    ("novograd", "NovoGrad", dict(lr=0.01)),
    ("novograd_avg_wd_max", "NovoGrad", dict(lr=0.01, weight_decay=0.1, grad_averaging=True, maximize=True)),
    ("sign_sgd_wd", "SignSGD", dict(lr=0.01, weight_decay=0.1)),
    ("signum_max", "Signum", dict(lr=0.01, momentum=0.8, maximize=True)),
    ("adan", "Adan", dict(lr=0.01, weight_decay=0.02)),
    ("adan_no_prox", "Adan", dict(lr=0.01, weight_decay=0.05, no_prox=True, betas=(0.9, 0.8, 0.95))),
]
IDS = [c[0] for c in CASES]
SHAPE = (6, 5)


def _data(seed, steps=6, dtype=np.float64):
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal(SHAPE).astype(dtype)
    return p0, [rng.standard_normal(SHAPE).astype(dtype) for _ in range(steps)]


def _run(cls, kw, p0, grads):
    p = p0.copy()
    opt = getattr(O, cls)([p], **kw)
    traj = []
    for gr in grads:
        opt.step([gr.copy()])
        traj.append(p.copy())
    return opt, traj


#: one case per rule for the 60-digit check (each compiles 4 kernels); the
#: other variants: the trajectory tests here, every variant under -m slow
CHECKED = ["lamb_wd_nobc_max", "lars_nesterov_eps", "novograd_avg_wd_max", "sign_sgd_wd", "signum_max",
           "adan_no_prox"]


#: their prange kernels in the default run: per-tensor sums (LAMB) and a
#: per-tensor state (NovoGrad); the rest under -m slow.  Each kernel's prange
#: copy is compiled from its serial body (tests/test_one_body.py), and the
#: elementwise loop's prange path is sampled in tests/test_optimizers.py.
PARALLEL_SAMPLE = {"lamb_wd_nobc_max", "novograd_avg_wd_max"}


def _check_case(case, paths):
    """The case's variant, float64 and float32, at t = 4 and 9, against the
    rule's equations at 60 digits."""
    _, cls, kw = case
    res = check_optimizer_of(getattr(O, cls)([np.zeros(3)], **kw), paths=paths)
    assert len(res) >= 4
    assert all(("[parallel]" in r.which) == (paths == ("parallel",)) for r in res)
    res.assert_ok()


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in CHECKED], ids=CHECKED)
def test_kernels_one_step_vs_the_equations(case):
    """The serial kernels."""
    _check_case(case, ("serial",))


@pytest.mark.parametrize("case", slow_unless([c for c in CASES if c[0] in CHECKED], lambda c: c[0] in PARALLEL_SAMPLE,
                                              ids=lambda c: c[0]))
def test_parallel_kernels_one_step_vs_the_equations(case):
    """The prange kernels (inputs tiled past the parallel threshold, several
    blocks of partial sums)."""
    _check_case(case, ("parallel",))


def test_parallel_sample_names_checked_cases():
    assert PARALLEL_SAMPLE <= set(CHECKED), PARALLEL_SAMPLE - set(CHECKED)


# ---------------------------------------------------------------- published references
def _optax_lamb(p, grads, lr, b1=0.9, b2=0.999, eps=1e-6, eps_root=0.0, weight_decay=0.0,
                bias_correction=True, maximize=False):
    """optax.lamb = chain(scale_by_adam(b1, b2, eps, eps_root), add_decayed_weights(wd),
    scale_by_trust_ratio(), scale_by_learning_rate(lr)); optax's
    scale_by_trust_ratio: ratio = ‖θ‖/‖u‖, 1 where either norm is 0.
    bias_correction=False: the LAMB paper's Algorithm 2 without m̂, v̂."""
    mu, nu, p, out = np.zeros_like(p), np.zeros_like(p), p.copy(), []
    for t, g in enumerate(grads, 1):
        g = -g if maximize else g
        mu = b1 * mu + (1 - b1) * g
        nu = b2 * nu + (1 - b2) * g * g
        mh, nh = (mu / (1 - b1**t), nu / (1 - b2**t)) if bias_correction else (mu, nu)
        u = mh / (np.sqrt(nh + eps_root) + eps) + weight_decay * p
        pn, un = np.linalg.norm(p), np.linalg.norm(u)
        ratio = 1.0 if pn == 0 or un == 0 else pn / un
        p = p - lr * ratio * u
        out.append(p)
    return out


def _optax_lars(p, grads, lr, weight_decay=0.0, trust_coefficient=1e-3, eps=0.0, momentum=0.9,
                nesterov=False, maximize=False):
    """optax.lars = chain(add_decayed_weights(wd), scale_by_trust_ratio(trust_coefficient, eps),
    scale_by_learning_rate(lr), trace(momentum, nesterov))."""
    tr, p, out = np.zeros_like(p), p.copy(), []
    for g in grads:
        g = -g if maximize else g
        u = g + weight_decay * p
        pn, un = np.linalg.norm(p), np.linalg.norm(u)
        ratio = 1.0 if pn == 0 or un == 0 else trust_coefficient * pn / (un + eps)
        u = -lr * ratio * u
        tr = u + momentum * tr
        p = p + (u + momentum * tr if nesterov else tr)
        out.append(p)
    return out


def _novograd_paper(p, grads, lr, betas=(0.95, 0.98), eps=1e-8, weight_decay=0.0,
                    grad_averaging=False, maximize=False):
    """Ginsburg et al. 2019, Algorithm 1 (v₁ = ‖g₁‖², eps at every step as
    OpenSeq2Seq and apex; grad_averaging: apex's (1-β₁) factor)."""
    b1, b2 = betas
    m, v, p, out = np.zeros_like(p), None, p.copy(), []
    for t, g in enumerate(grads, 1):
        g = -g if maximize else g
        v = np.sum(g * g) if t == 1 else b2 * v + (1 - b2) * np.sum(g * g)
        d = g / (np.sqrt(v) + eps) + weight_decay * p
        m = b1 * m + ((1 - b1) * d if grad_averaging else d)
        p = p - lr * m
        out.append(p)
    return out


REFS = {"LAMB": _optax_lamb, "LARS": _optax_lars, "NovoGrad": _novograd_paper}


@pytest.mark.parametrize("case", [c for c in CASES if c[1] in REFS], ids=[c[0] for c in CASES if c[1] in REFS])
def test_trajectory_matches_optax_and_paper_equations(case):
    name, cls, kw = case
    p0, grads = _data(3, steps=8)
    _, traj = _run(cls, kw, p0, grads)
    want = REFS[cls](p0, grads, **kw)
    for k, (a, b) in enumerate(zip(traj, want)):
        err = np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-3))
        assert err <= 1e-13, f"{name}: step {k + 1}: relative difference {err:.2e} from optax's update"


def test_lamb_zero_parameter_takes_the_plain_adam_direction():
    """optax's guard: ‖θ‖ = 0 gives trust ratio 1 (not 0: the tensor would never move)."""
    p = np.zeros(SHAPE)
    g = np.random.default_rng(4).standard_normal(SHAPE)
    O.LAMB([p], lr=0.1).step([g])
    np.testing.assert_allclose(p, _optax_lamb(np.zeros(SHAPE), [g], 0.1)[0], rtol=1e-14)
    assert np.all(p != 0)


def test_lamb_trust_ratio_is_per_tensor_and_scale_free():
    """Two tensors, one 1000 times larger: LAMB's step is proportional to each
    tensor's own norm; the same data tiled past the parallel threshold (prange
    kernel, many blocks of partial sums) steps like the small one."""
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal(40), 1000 * rng.standard_normal(40)
    ga, gb = rng.standard_normal(40), rng.standard_normal(40)
    a1, b1 = a.copy(), b.copy()
    O.LAMB([a1, b1], lr=0.01).step([ga, gb])
    ra, rb = np.linalg.norm(a1 - a) / np.linalg.norm(a), np.linalg.norm(b1 - b) / np.linalg.norm(b)
    np.testing.assert_allclose(ra, rb, rtol=1e-12)
    reps = 4000                      # 160,000 elements > PARALLEL_THRESHOLD
    big = np.tile(a, reps)
    O.LAMB([big], lr=0.01).step([np.tile(ga, reps)])
    np.testing.assert_allclose(big.reshape(reps, 40), np.broadcast_to(a1, (reps, 40)), rtol=1e-13)


def _torch_adan(p0, grads, lr, betas=(0.98, 0.92, 0.99), eps=1e-8, weight_decay=0.0, no_prox=False):
    """sail-sg/Adan's _single_tensor_adan (the authors' code), step by step."""
    import torch

    b1, b2, b3 = betas
    p = torch.tensor(p0.copy())
    m, n, d = torch.zeros_like(p), torch.zeros_like(p), torch.zeros_like(p)
    pre, out = None, []
    for t, g in enumerate(grads, 1):
        grad = torch.tensor(g.copy())
        if pre is None:
            pre = grad.clone()
        bc1, bc2, bc3_sqrt = 1 - b1**t, 1 - b2**t, (1 - b3**t) ** 0.5
        diff = grad - pre
        update = grad + b2 * diff
        m.mul_(b1).add_(grad, alpha=1 - b1)
        d.mul_(b2).add_(diff, alpha=1 - b2)
        n.mul_(b3).addcmul_(update, update, value=1 - b3)
        denom = (n.sqrt() / bc3_sqrt).add_(eps)
        step = (m / bc1 + b2 * d / bc2).div_(denom)
        if no_prox:
            p.mul_(1 - lr * weight_decay)
            p.add_(step, alpha=-lr)
        else:
            p.add_(step, alpha=-lr)
            p.div_(1 + lr * weight_decay)
        pre = grad.clone()
        out.append(p.numpy().copy())
    return out


@pytest.mark.parametrize("case", [c for c in CASES if c[1] == "Adan"], ids=[c[0] for c in CASES if c[1] == "Adan"])
def test_adan_matches_the_authors_torch_step(case):
    pytest.importorskip("torch")
    name, cls, kw = case
    p0, grads = _data(6, steps=8)
    _, traj = _run(cls, kw, p0, grads)
    want = _torch_adan(p0, grads, **kw)
    for k, (a, b) in enumerate(zip(traj, want)):
        err = np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-3))
        assert err <= 1e-10, f"{name}: step {k + 1}: relative difference {err:.2e} from the authors' Adan"


def test_sign_rules_match_their_papers():
    p0, grads = _data(7)
    _, traj = _run("SignSGD", dict(lr=0.01, weight_decay=0.1), p0, grads)
    p = p0.copy()
    for k, g in enumerate(grads):
        p = p - 0.01 * np.sign(g + 0.1 * p)
        np.testing.assert_array_equal(traj[k], p)
    _, traj = _run("Signum", dict(lr=0.01, momentum=0.8), p0, grads)
    p, b = p0.copy(), np.zeros_like(p0)
    for k, g in enumerate(grads):
        b = 0.8 * b + 0.2 * g
        p = p - 0.01 * np.sign(b)
        np.testing.assert_allclose(traj[k], p, rtol=1e-15)


@pytest.mark.parametrize("cls", ["LAMB", "Adan"])
def test_float32_follows_float64(cls):
    p0, grads = _data(8)
    _, t64 = _run(cls, dict(lr=0.01, weight_decay=0.1), p0, grads)
    _, t32 = _run(cls, dict(lr=0.01, weight_decay=0.1), p0.astype(np.float32),
                  [g.astype(np.float32) for g in grads])
    assert t32[-1].dtype == np.float32
    assert np.max(np.abs(t32[-1] - t64[-1]) / (np.abs(t64[-1]) + 1e-3)) < 1e-5


def test_state_dict_round_trip_and_bad_options():
    p0, grads = _data(9)
    p = p0.copy()
    opt = O.LAMB([p], lr=0.01)
    for g in grads[:3]:
        opt.step([g])
    q = p.copy()
    opt2 = O.LAMB([q], lr=0.01)
    opt2.load_state_dict(opt.state_dict())
    for g in grads[3:]:
        opt.step([g])
        opt2.step([g])
    np.testing.assert_array_equal(p, q)
    assert O.get("lamb") is O.LAMB and O.get("adan") is O.Adan
    # NovoGrad's second moment is one number per tensor, in its state dict too
    p = p0.copy()
    opt = O.NovoGrad([p], lr=0.01)
    for g in grads[:3]:
        opt.step([g])
    assert opt.state[0]["exp_avg_sq"].shape == (1,)
    q = p.copy()
    opt2 = O.NovoGrad([q], lr=0.01)
    opt2.load_state_dict(opt.state_dict())
    for g in grads[3:]:
        opt.step([g])
        opt2.step([g])
    np.testing.assert_array_equal(p, q)
    with pytest.raises(O.OptionError, match="triple"):
        O.Adan([np.zeros(2)], betas=(0.9, 0.9))
    with pytest.raises(Exception, match="trust_coeficient.*trust_coefficient"):
        O.LARS([np.zeros(2)], trust_coeficient=0.1)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lamb", "lars", "novograd", "sign_sgd", "signum", "adan", "adafactor"])
def test_every_variant_one_step_vs_the_equations(name):
    check_optimizer(name).assert_ok()


# ---------------------------------------------------------------- Adafactor (torch has it)
AF_CASES = [
    ("matrix", (5, 7), dict()),
    ("batched_wd_max", (2, 3, 4), dict(weight_decay=0.1, maximize=True)),
    ("vector_lr", (9,), dict(lr=0.05)),
    ("eps_d", (6, 4), dict(eps=(1e-3, 1e-2), d=1.5, beta2_decay=-0.5)),
    # past PARALLEL_THRESHOLD: the prange kernels (the variant the 60-digit check compiles)
    ("batched_parallel", (2, 300, 251), dict(weight_decay=0.1, maximize=True)),
    ("vector_parallel", (140001,), dict(weight_decay=0.1, maximize=True)),
]


@pytest.mark.parametrize("case", AF_CASES, ids=[c[0] for c in AF_CASES])
def test_adafactor_same_trajectory_as_torch_float64(case):
    torch = pytest.importorskip("torch")
    _, shape, kw = case
    rng = np.random.default_rng(11)
    p0 = rng.standard_normal(shape)
    grads = [rng.standard_normal(shape) for _ in range(8)]
    p = p0.copy()
    opt = O.Adafactor([p], **kw)
    tp = torch.tensor(p0.copy(), requires_grad=True)
    topt = torch.optim.Adafactor([tp], foreach=False, **kw)
    for k, g in enumerate(grads):
        opt.step([g.copy()])
        tp.grad = torch.tensor(g.copy())
        topt.step()
        want = tp.detach().numpy()
        err = np.max(np.abs(p - want) / np.maximum(np.abs(want), 1e-3))
        assert err <= 1e-10, f"step {k + 1}: relative difference {err:.2e} from torch"
    for key, val in topt.state[tp].items():
        if key != "step" and val is not None:
            np.testing.assert_allclose(opt.state[0][key], val.numpy(), rtol=1e-10)
    # torch's state dict loads into a fresh optimizer, which then steps as torch's
    q = p.copy()
    opt2 = O.Adafactor([q], **kw)
    opt2.load_state_dict(topt.state_dict())
    g = rng.standard_normal(shape)
    opt2.step([g.copy()])
    tp.grad = torch.tensor(g.copy())
    topt.step()
    np.testing.assert_allclose(q, tp.detach().numpy(), rtol=1e-10)


def test_adafactor_float32_tracks_torch_float32():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    p0 = rng.standard_normal((8, 6)).astype(np.float32)
    grads = [rng.standard_normal((8, 6)).astype(np.float32) for _ in range(6)]
    p = p0.copy()
    opt = O.Adafactor([p], lr=0.05)
    tp = torch.tensor(p0.copy(), requires_grad=True)
    topt = torch.optim.Adafactor([tp], lr=0.05, foreach=False)
    for g in grads:
        opt.step([g.copy()])
        tp.grad = torch.tensor(g.copy())
        topt.step()
    assert p.dtype == np.float32 and opt.state[0]["row_var"].dtype == np.float32
    want = tp.detach().numpy()
    assert np.max(np.abs(p - want) / (np.abs(want) + 1e-3)) <= 2e-5


@pytest.mark.parametrize("variant", [{"has_weight_decay": True, "maximize": True}])
def test_adafactor_kernels_one_step_vs_the_equations(variant):
    """The matrix kernel (a batch of matrices) and the vector kernel, float64
    and float32, serial and prange (inputs tiled past the threshold: several
    blocks of rows), one step at t = 4 and 9, against the spec's row/column
    statistics, v̂, u, norms and θ at 60 digits."""
    res = check_optimizer("adafactor", variants=[variant], hyper={"eps1": 1e-7, "weight_decay": 0.1})
    assert len(res) == 40
    assert sum("[parallel]" in r.which for r in res) == 20
    res.assert_ok()


def test_adafactor_parallel_kernels_equal_the_serial_ones_bit_for_bit():
    """Same blocks, same partial sums, added in the same order: the prange
    kernels give the serial kernels' bits (matrix: a batch with a ragged last
    block of rows; vector: a ragged last block)."""
    from symdl.runtime.family import RULES

    key = "adafactor__has_weight_decay1__maximize1"
    kargs, _ = getattr(RULES, key + "_scalars")(3.0, 0.05, -0.8, 1e-7, 1e-3, 1.0, 0.1)
    rng = np.random.default_rng(14)
    for kind, shape, states in (("mat", (2, 301, 257), ((2, 301), (2, 257))), ("vec", (140001,), ((140001,),))):
        p, g = rng.standard_normal(shape), rng.standard_normal(shape)
        st = [np.abs(rng.standard_normal(s)) for s in states]
        outs = []
        for par in ("", "_par"):
            q, sq = p.copy(), [a.copy() for a in st]
            getattr(RULES, f"{key}_{kind}_f64{par}")(q, g, *sq, *kargs)
            outs.append([q, *sq])
        for a, b in zip(*outs):
            np.testing.assert_array_equal(a, b)
        assert not np.array_equal(outs[0][0], p)


def test_adafactor_split_direction_equals_its_definition():
    """The matrix kernel's u = g·min(1/eps1, a_row·b_col) (a_row = 1/√(R/max(R̄, eps1)),
    b_col = 1/√C) is the spec's u = g/√max(v̂, eps1²), v̂ = R·C/max(R̄, eps1): symbolically on
    each side of the clamp, and at 60 digits on zero, tiny, huge and random statistics."""
    import itertools

    import mpmath
    import sympy as sp

    from symdl.specs import optimizers_factored as F
    from symdl.specs.optimizers import g

    rule = F.ADAFACTOR
    split = rule.direction_split.xreplace({F.a_row: rule.row_factor, F.b_col: rule.col_factor})
    defn = rule.direction.xreplace({F.vhat: rule.vhat_matrix})
    # symbolically, for R, C, R̄, eps1 > 0: v̂ = 1/(a·b)², and on each side of the clamp both are one form
    pos = {s: sp.Symbol(s.name, positive=True) for s in (F.R, F.C, F.rbar, F.eps1)}
    a_b = (rule.row_factor * rule.col_factor).xreplace(pos)
    assert sp.simplify(a_b**-2 - rule.vhat_matrix.xreplace(pos)) == 0
    assert sp.simplify(g * a_b - g / sp.sqrt(rule.vhat_matrix.xreplace(pos))) == 0   # v̂ >= eps1²: no clamp
    assert sp.simplify(g / pos[F.eps1] - g / sp.sqrt(pos[F.eps1] ** 2)) == 0          # v̂ < eps1²: clamp
    # the clamp switches at the same point: a·b <= 1/eps1  <=>  v̂ >= eps1² (both sides positive)
    # ... and numerically, zeros (R = 0, C = 0: 1/√0 = ∞ there) and extremes included
    f_split = sp.lambdify([g, F.R, F.C, F.rbar, F.eps1], split, "mpmath")
    f_defn = sp.lambdify([g, F.R, F.C, F.rbar, F.eps1], defn, "mpmath")
    rng = np.random.default_rng(15)
    vals = [0.0, 1e-300, 1e-30, 1e-12, 1e-7, 0.5, 1.0, 3.0, 1e12, 1e300]
    pts = list(itertools.product(vals, vals, [1e-20, 1e-7, 1.0, 1e10], [1.1920928955078125e-07, 1e-3]))
    pts += [tuple(np.abs(rng.standard_normal(4)) ** rng.uniform(-8, 8, 4)) for _ in range(300)]
    with mpmath.workdps(60):
        inf = mpmath.inf
        for pt in pts:
            R, C, rb, e1 = (mpmath.mpf(x) for x in pt)
            a = inf if R == 0 else 1 / mpmath.sqrt(R / max(rb, e1))
            b = inf if C == 0 else 1 / mpmath.sqrt(C)
            got = mpmath.mpf(-1.5) * min(1 / e1, a * b)    # IEEE: 1/√0 = ∞
            if R and C:
                assert mpmath.almosteq(f_split(-1.5, R, C, rb, e1), got, rel_eps=mpmath.mpf(10) ** -50)
            want = f_defn(-1.5, R, C, rb, e1)
            assert mpmath.almosteq(got, want, rel_eps=mpmath.mpf(10) ** -50), (pt, got, want)


def test_adafactor_options_are_checked():
    with pytest.raises(O.OptionError, match="beta2_decay"):
        O.Adafactor([np.zeros((2, 2))], beta2_decay=0.5)
    with pytest.raises(O.OptionError, match="Clipping threshold"):
        O.Adafactor([np.zeros((2, 2))], d=0.5)
    assert O.get("adafactor") is O.Adafactor
