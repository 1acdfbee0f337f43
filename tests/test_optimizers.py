"""Optimizer rules: kernels vs the SymPy update equations, vs torch; state
dicts; bad input; the notes' notations proven equal to torch's forms."""
import subprocess
import sys

import numpy as np
import pytest
from sampling import slow_unless
import sympy as sp

import symdl
import symdl.optim as O
from symdl.derive.optimizers import bias_correction, equivalence, unroll
from symdl.specs import get
from symdl.specs.optimizers import NOTATIONS, OPTIMIZER_SPECS, beta1, m, t, theta
from symdl.testing import check_optimizer, check_optimizer_of

# One table drives the tests: (id, class, options).  Each option combination
# that selects a different kernel or branch appears at least once.
CASES = [
    ("sgd", "SGD", dict(lr=0.1)),
    ("sgd_wd_max", "SGD", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("sgd_momentum_dampening", "SGD", dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.01)),
    ("sgd_nesterov_max", "SGD", dict(lr=0.05, momentum=0.8, nesterov=True, maximize=True,
                                     weight_decay=0.1)),
    ("adam", "Adam", dict(lr=0.01)),
    ("adam_amsgrad_wd_max", "Adam", dict(lr=0.01, betas=(0.8, 0.99), amsgrad=True,
                                         weight_decay=0.1, maximize=True)),
    ("adam_decoupled", "Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("adamw", "AdamW", dict(lr=0.01)),
    ("adamw_amsgrad_max", "AdamW", dict(lr=0.01, amsgrad=True, maximize=True, weight_decay=0.2)),
    ("adamax", "Adamax", dict(lr=0.01)),
    ("adamax_wd_max", "Adamax", dict(lr=0.01, weight_decay=0.1, maximize=True, eps=1e-3)),
    ("nadam", "NAdam", dict(lr=0.01)),
    ("nadam_wd", "NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    ("nadam_decoupled_max", "NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True,
                                          maximize=True)),
    ("radam", "RAdam", dict(lr=0.01, betas=(0.9, 0.9))),
    ("radam_decoupled_max", "RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True,
                                          maximize=True)),
    ("adagrad", "Adagrad", dict(lr=0.1)),
    ("adagrad_decay_init_wd", "Adagrad", dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.3,
                                              weight_decay=0.1, maximize=True)),
    ("rmsprop", "RMSprop", dict(lr=0.01)),
    ("rmsprop_centered", "RMSprop", dict(lr=0.01, centered=True, weight_decay=0.1)),
    ("rmsprop_momentum", "RMSprop", dict(lr=0.01, momentum=0.9, maximize=True)),
    ("rmsprop_momentum_centered", "RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True,
                                                  eps=1e-4)),
    ("adadelta", "Adadelta", dict()),
    ("adadelta_wd_max", "Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True)),
    ("rprop", "Rprop", dict(lr=0.01)),
    ("rprop_etas_max", "Rprop", dict(lr=0.01, etas=(0.3, 1.5), step_sizes=(1e-3, 0.05), maximize=True)),
    ("asgd", "ASGD", dict(lr=0.01, t0=3, weight_decay=0.1)),
    ("asgd_max", "ASGD", dict(lr=0.05, lambd=0.1, alpha=0.5, maximize=True)),
    # no torch class: checked against their spec equations only
    ("lion", "Lion", dict(lr=0.01, weight_decay=0.1)),
    ("adabelief", "AdaBelief", dict(lr=0.01, weight_decay=0.1, eps=1e-8)),
    ("yogi", "Yogi", dict(lr=0.01, weight_decay=0.1, maximize=True)),
]
IDS = [c[0] for c in CASES]
STEPS = 8           # > 6: RAdam's rectified branch (rho_t > 5) is reached
SHAPE = (3, 4)


def _data(seed, dtype=np.float64, shape=SHAPE, steps=STEPS):
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(steps)]
    if steps > 3:
        grads[3] = np.where(rng.random(shape) < 0.5, grads[2], -grads[2])  # Rprop: both sign cases
    return p0, grads


def _run(cls, kw, p0, grads):
    p = p0.copy()
    opt = getattr(O, cls)([p], **kw)
    traj = []
    for gr in grads:
        opt.step([gr.copy()])
        traj.append(p.copy())
    return opt, p, traj


# ---------------------------------------------------------------- vs the spec
def _spec_trajectory(opt, p0, grads, steps):
    """The SymPy update equations of the optimizer's rule variant, evaluated
    step by step on exact rational inputs (60 digits after each step)."""
    group = opt.param_groups[0]
    meta, key, _ = opt._variant_meta(group)
    rule = get(opt._rule(group))
    (variant,) = [v for v in rule.variants() if rule.variant_key(v) == key]
    hyper = {p.symbol: sp.Rational(val) for p, val in zip(rule.hyper, opt._hyper(meta, group))}
    out = np.empty((steps,) + p0.shape)
    for idx in np.ndindex(p0.shape):
        gs = [sp.Rational(float(gr[idx])) for gr in grads[:steps]]
        hist = unroll(rule, variant, steps=steps, hyper=hyper, init={theta: sp.Rational(float(p0[idx]))},
                      grads=gs, digits=60)
        for k in range(steps):
            out[(k,) + idx] = float(hist[k + 1][theta])
    return out


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_kernel_follows_the_spec_equations(case):
    _, cls, kw = case
    steps = STEPS if "radam" in case[0] else 5
    p0, grads = _data(1, steps=steps)
    opt, _, traj = _run(cls, kw, p0, grads)
    truth = _spec_trajectory(opt, p0, grads, steps)
    got = np.array(traj)
    scale = np.maximum(np.abs(truth), np.abs(p0)[None])
    rel = np.max(np.abs(got - truth) / scale)
    print(f"{case[0]}: worst relative error {rel:.2e}")
    # a few roundings per step, accumulated over the steps
    assert rel <= 1e-14, f"{case[0]}: worst relative error {rel:.2e} vs the SymPy equations"


#: the prange kernels in the default run, one case per kernel shape of the
#: template's elementwise loop: amsgrad's running max and a square root
#: (adam), a momentum buffer (sgd nesterov), scalar state carried between
#: steps (nadam's mu_product), a hoisted branch indicator (radam's rho_t > 5),
#: signs and clamps (rprop).  Every kernel's prange copy is compiled from the
#: body its serial copy is (tests/test_one_body.py), so the serial checks of
#: every case verify the math it runs; the other cases' prange kernels run
#: under -m slow (a parallel compile costs about twice a serial one).
PARALLEL_SAMPLE = {"adam_amsgrad_wd_max", "sgd_nesterov_max", "nadam_decoupled_max", "radam_decoupled_max",
                   "rprop_etas_max"}
PARALLEL_CASES = slow_unless(CASES, lambda c: c[0] in PARALLEL_SAMPLE, ids=lambda c: c[0])


def _check_case(case, paths):
    """symdl.testing.check_optimizer_of on the case's optimizer, float64 and
    float32, at t = 4 and 9: one step from a reached state, θ and every state
    array against the rule's equations at 60 digits."""
    _, cls, kw = case
    res = check_optimizer_of(getattr(O, cls)([np.zeros(3)], **kw), paths=paths)
    assert len(res) >= 4
    return res


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_kernel_of_the_case_one_step_vs_the_equations(case):
    """The serial kernels of every case."""
    res = _check_case(case, ("serial",))
    assert not any("[parallel]" in r.which for r in res)
    res.assert_ok()


@pytest.mark.parametrize("case", PARALLEL_CASES)
def test_parallel_kernels_of_the_case_one_step_vs_the_equations(case):
    """The prange kernels (inputs tiled past PARALLEL_THRESHOLD): the sample
    by default, every case under -m slow."""
    res = _check_case(case, ("parallel",))
    assert all("[parallel]" in r.which for r in res)
    res.assert_ok()


def test_parallel_sample_names_real_cases():
    assert PARALLEL_SAMPLE <= set(IDS), PARALLEL_SAMPLE - set(IDS)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(s.name for s in OPTIMIZER_SPECS if s.kernels))
def test_every_variant_one_step_vs_the_equations(name):
    """Every variant of every rule (the fast test covers the table's cases)."""
    check_optimizer(name).assert_ok()


# ---------------------------------------------------------------- vs torch
@pytest.fixture
def torch64():
    """torch with float64 scalar state: NAdam keeps mu_product in torch's
    *default* dtype (float32 unless changed), which alone moves its float64
    trajectory by ~1e-9; symdl keeps it in float64."""
    torch = pytest.importorskip("torch")
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(old)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_same_trajectory_as_torch_float64(case, torch64):
    torch = torch64
    name, cls, kw = case
    if not hasattr(torch.optim, cls):
        pytest.skip(f"torch has no {cls}")
    p0, grads = _data(2)
    _, _, traj = _run(cls, kw, p0, grads)
    tp = torch.tensor(p0.copy(), requires_grad=True)
    topt = getattr(torch.optim, cls)([tp], foreach=False, **kw)
    for k, gr in enumerate(grads):
        tp.grad = torch.tensor(gr.copy())
        topt.step()
        want = tp.detach().numpy()
        err = np.max(np.abs(traj[k] - want) / np.maximum(np.abs(want), 1e-3))
        assert err <= 1e-10, f"{name}: step {k + 1}: relative difference {err:.2e} from torch"


# weight_decay = 0 runs the kernel without the decay term, as torch skips it:
# g + 0·θ would be nan at θ = ±inf and poison the moments torch keeps finite
NO_DECAY = ["sgd", "adam", "adamax", "nadam", "radam", "adagrad", "rmsprop", "adadelta"]


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in NO_DECAY] +
                         [("adamw_no_decay", "AdamW", dict(lr=0.01, weight_decay=0))],
                         ids=NO_DECAY + ["adamw_no_decay"])
def test_no_weight_decay_keeps_state_finite_at_inf_params_as_torch(case, torch64):
    torch = torch64
    name, cls, kw = case
    p0, grads = _data(11, steps=3)
    p0[0, 0], p0[1, 1], p0[2, 2] = np.inf, -np.inf, np.nan
    opt, p, _ = _run(cls, kw, p0, grads)
    tp = torch.tensor(p0.copy(), requires_grad=True)
    topt = getattr(torch.optim, cls)([tp], foreach=False, **kw)
    for gr in grads:
        tp.grad = torch.tensor(gr.copy())
        topt.step()
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-10, equal_nan=True)
    for key, val in opt.state[0].items():
        if isinstance(val, np.ndarray):
            assert np.isfinite(val).all(), f"{name}: state {key!r} is not finite"
            np.testing.assert_allclose(val, topt.state[tp][key].numpy(), rtol=1e-10)


def test_weight_decay_switched_on_between_steps_follows_torch(torch64):
    """A scheduler may change weight_decay: the step picks the kernel again."""
    torch = torch64
    p0, grads = _data(12, steps=4)
    p = p0.copy()
    opt = O.Adam([p], lr=0.01)
    tp = torch.tensor(p0.copy(), requires_grad=True)
    topt = torch.optim.Adam([tp], lr=0.01, foreach=False)
    for k, gr in enumerate(grads):
        wd = 0.0 if k % 2 == 0 else 0.3
        opt.param_groups[0]["weight_decay"] = topt.param_groups[0]["weight_decay"] = wd
        opt.step([gr.copy()])
        tp.grad = torch.tensor(gr.copy())
        topt.step()
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12)
    assert opt._prep[0][0].startswith("adam__amsgrad0__has_weight_decay1")


FLOAT32 = ["sgd_momentum_dampening", "adam", "adamw_amsgrad_max", "adamax", "nadam", "radam",
           "adagrad", "rmsprop_momentum_centered", "adadelta", "rprop", "asgd"]


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in FLOAT32], ids=FLOAT32)
def test_float32_tracks_torch_float32(case):
    torch = pytest.importorskip("torch")
    name, cls, kw = case
    p0, grads = _data(3, np.float32)
    opt, p, traj = _run(cls, kw, p0, grads)
    assert p.dtype == np.float32
    for st in opt.state[0].values():
        if isinstance(st, np.ndarray):
            assert st.dtype == np.float32
    tp = torch.tensor(p0.copy(), requires_grad=True)
    topt = getattr(torch.optim, cls)([tp], foreach=False, **kw)
    for gr in grads:
        tp.grad = torch.tensor(gr.copy())
        topt.step()
    want = tp.detach().numpy()
    err = np.max(np.abs(p - want) / (np.abs(want) + 1e-3))
    assert err <= 2e-5, f"{name}: float32 relative difference {err:.2e} from torch"


def test_asgd_average_matches_torch(torch64):
    torch = torch64
    p0, grads = _data(9)
    opt, p, _ = _run("ASGD", dict(lr=0.05, t0=2), p0, grads)
    tp = torch.tensor(p0.copy(), requires_grad=True)
    topt = torch.optim.ASGD([tp], lr=0.05, t0=2, foreach=False)
    for gr in grads:
        tp.grad = torch.tensor(gr.copy())
        topt.step()
    np.testing.assert_allclose(opt.state[0]["ax"], topt.state[tp]["ax"].numpy(), rtol=1e-12)
    assert not np.allclose(opt.state[0]["ax"], p)     # the average really averages


@pytest.mark.parametrize("name", ["Lion", "AdaBelief", "Yogi"])
def test_float32_without_torch_matches_float64_for_rules_torch_lacks(name):
    p0, grads = _data(10)
    kw = dict(lr=0.01, weight_decay=0.1)
    _, p64, _ = _run(name, kw, p0, grads)
    _, p32, _ = _run(name, kw, p0.astype(np.float32), [g.astype(np.float32) for g in grads])
    assert p32.dtype == np.float32
    assert np.max(np.abs(p32 - p64) / (np.abs(p64) + 1e-3)) < 1e-5


def test_float32_without_torch_matches_float64():
    p0, grads = _data(4, np.float64)
    _, p64, _ = _run("Adam", dict(lr=0.01), p0, grads)
    _, p32, _ = _run("Adam", dict(lr=0.01), p0.astype(np.float32), [g.astype(np.float32) for g in grads])
    assert np.max(np.abs(p32 - p64) / (np.abs(p64) + 1e-3)) < 1e-5


def test_parallel_kernel_above_the_threshold_matches_serial():
    from symdl.runtime.family import RULES as GO

    n = int(GO.PARALLEL_THRESHOLD) + 1001
    rng = np.random.default_rng(5)
    p0 = rng.standard_normal(n).astype(np.float32)
    grads = [rng.standard_normal(n).astype(np.float32) for _ in range(3)]
    p_par = p0.copy()
    opt = O.Adam([p_par], lr=0.01)
    for gr in grads:
        opt.step([gr])
    assert any(k.endswith("_par") for k in opt._kernels)
    # the same updates, chunked below the threshold -> serial kernels
    chunks = [p0[i:i + 4096].copy() for i in range(0, n, 4096)]
    opt2 = O.Adam(chunks, lr=0.01)
    for gr in grads:
        opt2.step([gr[i:i + 4096] for i in range(0, n, 4096)])
    assert not any(k.endswith("_par") for k in opt2._kernels)
    np.testing.assert_array_equal(np.concatenate(chunks), p_par)


# ---------------------------------------------------------------- state dicts
@pytest.mark.parametrize("cls,kw", [("SGD", dict(lr=0.1, momentum=0.9)),
                                    ("Adam", dict(lr=0.01, amsgrad=True)),
                                    ("NAdam", dict(lr=0.01)), ("Adagrad", dict(lr=0.1)),
                                    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True))])
def test_state_dict_round_trip(cls, kw):
    p0, grads = _data(6)
    a = p0.copy()
    opt = getattr(O, cls)([a], **kw)
    for gr in grads[:3]:
        opt.step([gr])
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"} and sd["param_groups"][0]["params"] == [0]
    b = a.copy()
    opt2 = getattr(O, cls)([b], lr=123.0)
    opt2.load_state_dict(sd)
    assert opt2.lr == kw["lr"]
    for gr in grads[3:]:
        opt.step([gr])
        opt2.step([gr])
    np.testing.assert_array_equal(a, b)
    # state_dict returns copies: stepping does not change a saved dict
    saved = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in sd["state"][0].items()}
    opt.step([grads[0]])
    for k, v in saved.items():
        np.testing.assert_array_equal(sd["state"][0][k], v)


@pytest.mark.parametrize("cls,kw", [("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5)),
                                    ("Adam", dict(lr=0.01)), ("NAdam", dict(lr=0.01))])
def test_loads_a_torch_state_dict(cls, kw, torch64):
    torch = torch64
    p0, grads = _data(7)
    tp = torch.tensor(p0.copy(), requires_grad=True)
    topt = getattr(torch.optim, cls)([tp], foreach=False, **kw)
    for gr in grads[:3]:
        tp.grad = torch.tensor(gr.copy())
        topt.step()
    p = tp.detach().numpy().copy()
    opt = getattr(O, cls)([p], **kw)
    opt.load_state_dict(topt.state_dict())
    for gr in grads[3:]:
        tp.grad = torch.tensor(gr.copy())
        topt.step()
        opt.step([gr])
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_lr_attribute_is_settable_for_schedules():
    p = np.ones(3)
    opt = O.SGD([p], lr=0.5)
    assert opt.lr == 0.5
    opt.lr = 0.25
    opt.step([np.ones(3)])
    np.testing.assert_array_equal(p, 0.75)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        opt.lr = -1


def test_param_groups_with_their_own_options():
    a, b = np.ones(2), np.ones(2)
    opt = O.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    opt.step([np.ones(2), np.ones(2)])
    np.testing.assert_allclose(a, 0.9)
    np.testing.assert_allclose(b, 0.5)
    assert opt.state_dict()["param_groups"][1]["params"] == [1]


# ---------------------------------------------------------------- bad input
def test_unknown_option_lists_the_valid_ones():
    with pytest.raises(symdl.ParameterError) as e:
        O.Adam([np.ones(2)], lr=0.1, beta=(0.9, 0.99))
    msg = str(e.value)
    assert "'beta'" in msg and "betas" in msg and "amsgrad" in msg and "eps" in msg
    with pytest.raises(symdl.ParameterError, match="momentum"):
        O.SGD([np.ones(2)], momentun=0.9)
    with pytest.raises(symdl.ParameterError, match="valid options"):
        O.SGD([{"params": [np.ones(2)], "nesterof": True}])
    # torch's implementation switches are accepted as hints
    O.Adam([np.ones(2)], fused=True, foreach=False, capturable=False)
    with pytest.raises(symdl.ParameterError, match="differentiable"):
        O.SGD([np.ones(2)], differentiable=True)


@pytest.mark.parametrize("cls,kw,match", [
    ("SGD", dict(lr=-0.1), "Invalid learning rate: -0.1"),
    ("SGD", dict(momentum=-1), "Invalid momentum value"),
    ("SGD", dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "zero dampening"),
    ("Adam", dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    ("Adam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1"),
    ("AdamW", dict(eps=-1e-8), "Invalid epsilon value"),
    ("Adam", dict(weight_decay=-1), "Invalid weight_decay value"),
    ("Adam", dict(lr="fast"), "Invalid learning rate"),
    ("RMSprop", dict(alpha=-0.5), "Invalid alpha value"),
    ("Adadelta", dict(rho=1.5), "Invalid rho value"),
    ("Adagrad", dict(lr_decay=-1), "Invalid lr_decay value"),
])
def test_invalid_values_raise_torch_messages(cls, kw, match):
    with pytest.raises(ValueError, match=match):
        getattr(O, cls)([np.ones(2)], **kw)


def test_bad_parameters_and_gradients():
    with pytest.raises(ValueError, match="empty parameter list"):
        O.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="list of arrays"):
        O.SGD(np.ones(3), lr=0.1)
    with pytest.raises(symdl.ShapeError, match="int64"):
        O.SGD([np.ones(3, dtype=np.int64)], lr=0.1)
    ro = np.ones(3)
    ro.flags.writeable = False
    with pytest.raises(symdl.ShapeError, match="read-only"):
        O.SGD([ro], lr=0.1)
    p, q = np.ones((2, 3)), np.ones(4, dtype=np.float32)
    opt = O.Adam([p, q], lr=0.1)
    with pytest.raises(symdl.ShapeError, match="1 gradient.*2 parameter"):
        opt.step([np.ones((2, 3))])
    with pytest.raises(symdl.ShapeError, match=r"gradient 0 has shape \(3, 2\).*parameter 0 has shape \(2, 3\)"):
        opt.step([np.ones((3, 2)), np.ones(4, dtype=np.float32)])
    with pytest.raises(symdl.ShapeError, match="gradient 1 .* float64.*parameter 1 .*float32"):
        opt.step([np.ones((2, 3)), np.ones(4)])
    with pytest.raises(symdl.UnknownNameError, match="Adam"):
        O.get("adma")
    assert O.get("adam") is O.Adam


def test_non_contiguous_parameters_and_gradients_are_handled():
    base = np.arange(12.0).reshape(3, 4)
    p = base.T                                # a non-contiguous view
    gr = np.ones((8, 3))[::2]                  # non-contiguous gradient, shape (4, 3)
    opt = O.SGD([p], lr=0.5)
    opt.step([gr])
    np.testing.assert_array_equal(base, np.arange(12.0).reshape(3, 4) - 0.5)


def test_runtime_does_not_import_sympy():
    code = ("import sys, numpy as np, symdl.optim as O; p = np.ones(4); "
            "o = O.Adam([p], lr=0.1); o.step([np.ones(4)]); o.state_dict(); "
            "print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- clipping, schedules
def test_clip_grad_norm_and_value():
    g1, g2 = np.array([3.0, 0.0]), np.array([[4.0]])
    total = O.clip_grad_norm_([g1, g2], max_norm=1.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(np.concatenate([g1, g2.ravel()]), np.array([3, 0, 4]) / (5 + 1e-6))
    g3 = np.array([0.1, -0.2])
    assert O.clip_grad_norm_([g3], 10.0) == pytest.approx(np.sqrt(0.05))
    np.testing.assert_array_equal(g3, [0.1, -0.2])          # below max_norm: untouched
    g4 = np.array([-3.0, 0.5, 2.0], dtype=np.float32)
    O.clip_grad_value_([g4], 1.0)
    np.testing.assert_array_equal(g4, [-1.0, 0.5, 1.0])
    assert O.clip_grad_norm_([np.array([1.0, -7.0])], 1.0, norm_type=float("inf")) == 7.0
    with pytest.raises(FloatingPointError):
        O.clip_grad_norm_([np.array([np.inf])], 1.0, error_if_nonfinite=True)


def test_clip_grad_norm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    gs = [rng.standard_normal((3, 5)), rng.standard_normal(7)]
    ts = [torch.tensor(g, requires_grad=True) for g in gs]
    for tt, g in zip(ts, gs):
        tt.grad = torch.tensor(g.copy())
    want = torch.nn.utils.clip_grad_norm_(ts, 0.7)
    got = O.clip_grad_norm_(gs, 0.7)
    assert got == pytest.approx(float(want), rel=1e-14)
    for tt, g in zip(ts, gs):
        np.testing.assert_allclose(g, tt.grad.numpy(), rtol=1e-14)


@pytest.mark.parametrize("name,kw", [
    ("StepLR", dict(step_size=3, gamma=0.5)), ("MultiStepLR", dict(milestones=[2, 5], gamma=0.1)),
    ("ExponentialLR", dict(gamma=0.9)), ("CosineAnnealingLR", dict(T_max=6, eta_min=0.01)),
    ("LinearLR", dict(start_factor=0.25, total_iters=4)), ("LambdaLR", dict(lr_lambda=lambda e: 1 / (1 + e))),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=0.001)),
    ("CosineAnnealingWarmRestarts", dict(T_0=4)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=2, step_size_down=3, cycle_momentum=False)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=2, mode="triangular2", cycle_momentum=False)),
])
def test_lr_schedules_match_torch(name, kw):
    torch = pytest.importorskip("torch")
    opt = O.SGD([np.ones(2)], lr=0.1)
    sched = getattr(O, name)(opt, **{k: v for k, v in kw.items() if k != "cycle_momentum"})
    topt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    for _ in range(9):
        assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12, abs=1e-15)
        topt.step()
        sched.step()
        tsched.step()
    assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)


def test_inverse_time_schedule():
    opt = O.Adam([np.ones(2)], lr=0.1)
    sched = O.InverseTimeLR(opt, k=0.5)
    for e in range(1, 4):
        sched.step()
        assert opt.lr == pytest.approx(0.1 / (1 + 0.5 * e))


# ---------------------------------------------------------------- the notes' notations
@pytest.mark.parametrize("notes", NOTATIONS, ids=[n.name for n in NOTATIONS])
def test_notes_notation_equals_torch_form_by_unrolling(notes):
    rows = equivalence(notes, steps=3)
    if notes.notation.differs:   # shown different (tests/test_optimizer_notes.py says how)
        # the rows stop at the first step where the forms part
        assert [diff != 0 for *_, diff in rows] == [False] * (len(rows) - 1) + [True]
        return
    assert len(rows) == 4
    for k, lhs, rhs, diff in rows:
        assert diff == 0, f"{notes.name}: step {k}: torch's θ - the notes' = {diff}"
    # the unrolled trajectory really depends on the gradients (nothing vacuous)
    assert rows[-1][1].has(sp.Symbol("g_3", real=True))


def test_eps_inside_the_root_differs_from_torch_for_nonzero_eps():
    from symdl.specs.optimizers import nu
    notes = get("rmsprop_seed002")
    torch_rule = get("rmsprop")
    h = unroll(notes, steps=1, hyper={nu: sp.Rational(1, 10)}, grads=[sp.Integer(1)])
    mine = h[1][theta].xreplace({sp.Symbol("epsilon", real=True): 1, sp.Symbol("beta", real=True): 0})
    alpha, lr, eps = (torch_rule.hyper_symbols[k] for k in ("alpha", "lr", "eps"))
    th = unroll(torch_rule, {}, steps=1, hyper={alpha: 0, lr: 1, eps: sp.Rational(1, 10),
                                                 torch_rule.hyper_symbols["weight_decay"]: 0},
                grads=[sp.Integer(1)])[1][theta]
    assert sp.simplify(mine - th) != 0


def test_adam_bias_correction_is_derived():
    d = bias_correction(get("adam"), m)
    assert sp.simplify(d["closed"] - (1 - beta1**t) * d["E"]) == 0
    assert len(d["unrolled"]) == 4
    out = subprocess.run([sys.executable, "-m", "symdl", "latex", "adam", "--steps"],
                         capture_output=True, text=True, check=True).stdout
    assert r"\hat{m}_t = \frac{m_t}{1 - \beta_{1}^{t}}" in out
    assert r"\mathbb{E}[m_t]" in out and r"\leftarrow" in out


def test_every_optimizer_spec_is_registered_and_listed():
    for r in OPTIMIZER_SPECS + NOTATIONS:
        assert symdl.spec(r.name) is r
    with pytest.raises(symdl.UnknownNameError, match="adam"):
        symdl.spec("adma")
    out = subprocess.run([sys.executable, "-m", "symdl", "list", "--family", "optimizer"],
                         capture_output=True, text=True, check=True).stdout
    assert "nadam" in out and "momentum_seed001" in out and "torch: optim.RAdam" in out


def test_generated_module_matches_the_specs():
    from symdl.codegen.optimizers import render_optimizers
    from symdl.codegen.generate import generated_dir

    from symdl.codegen.targets import module_of

    for r in ("adam", "sgd"):   # one module per rule
        rule = next(s for s in OPTIMIZER_SPECS if s.name == r)
        text = render_optimizers([rule], module=module_of("optimizer", r))
        assert (generated_dir() / "optimizers" / f"{r}.py").read_text() == text


@pytest.mark.parametrize("name", [r.name for r in OPTIMIZER_SPECS + NOTATIONS])
def test_latex_renders_every_rule(name):
    from symdl.derive.optimizers import optimizer_latex

    out = optimizer_latex(get(name), steps=True)
    assert r"\leftarrow" in out
    if get(name).notation is not None:
        assert r"\text{difference } 0" in out


def test_kernels_run_as_plain_python_with_the_jit_disabled():
    code = """
import numpy as np, symdl.optim as O
out = []
for cls, kw in [("Adam", dict(lr=0.1, amsgrad=True)), ("Rprop", {}), ("RAdam", {}),
                ("RMSprop", dict(momentum=0.5, centered=True)), ("SGD", dict(momentum=0.9, nesterov=True))]:
    for dt in (np.float32, np.float64):
        p = np.linspace(-1, 1, 5).astype(dt)
        o = getattr(O, cls)([p], **kw)
        for k in range(7):
            o.step([np.cos(np.arange(5.0) + k).astype(dt)])
        out.append(p.astype(np.float64))
print(repr(np.concatenate(out).tolist()))
"""
    import os

    res = []
    for disable in ("1", "0"):
        env = dict(os.environ, NUMBA_DISABLE_JIT=disable)
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr[-2000:]
        res.append(np.array(eval(r.stdout)))
    np.testing.assert_allclose(res[0], res[1], rtol=1e-6, atol=1e-7)
