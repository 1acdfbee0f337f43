"""Learning-rate schedules (issue 19): the SymPy closed forms against the
runtime schedulers, the runtime schedulers against torch's trajectories
(1e-10), fit's scheduler factory and the CLI's --schedule/--warmup."""
import warnings

import numpy as np
import pytest
import sympy as sp

from symdl import optim
from symdl.specs import schedules as SS

EPOCHS = 40
LR = 0.1


def _opt(lr=LR):
    return optim.SGD([np.zeros(3)], lr=lr, momentum=0.9)


def _traj(sched, n=EPOCHS, metrics=None):
    out = [sched.optimizer.param_groups[0]["lr"]]
    for i in range(n):
        sched.step(metrics[i]) if metrics is not None else sched.step()
        out.append(sched.optimizer.param_groups[0]["lr"])
    return np.array(out)


# spec name -> (hyperparameters, runtime scheduler from an optimizer, epochs)
CASES = {
    "constant": ({"factor": 0.25, "total_iters": 7}, lambda o: optim.ConstantLR(o, 0.25, 7)),
    "step": ({"step_size": 6, "gamma": 0.5}, lambda o: optim.StepLR(o, 6, 0.5)),
    "exponential": ({"gamma": 0.9}, lambda o: optim.ExponentialLR(o, 0.9)),
    "inverse_time": ({"k": 0.3}, lambda o: optim.InverseTimeLR(o, 0.3)),
    "cosine_annealing": ({"T_max": 13, "eta_min": 0.01}, lambda o: optim.CosineAnnealingLR(o, 13, 0.01)),
    "warm_restarts": ({"T_0": 7, "eta_min": 0.001},
                      lambda o: optim.CosineAnnealingWarmRestarts(o, 7, 1, 0.001)),
    "cyclic_triangular": ({"base_lr": 0.01, "max_lr": 0.2, "step_size_up": 5},
                          lambda o: optim.CyclicLR(o, 0.01, 0.2, 5)),
    "cyclic_exp_range": ({"base_lr": 0.01, "max_lr": 0.2, "step_size_up": 5, "gamma": 0.97},
                         lambda o: optim.CyclicLR(o, 0.01, 0.2, 5, mode="exp_range", gamma=0.97)),
    "linear_warmup": ({"start_factor": 0.1, "end_factor": 1.0, "total_iters": 8},
                      lambda o: optim.LinearLR(o, 0.1, 1.0, 8)),
    "polynomial": ({"total_iters": 11, "power": 2.0}, lambda o: optim.PolynomialLR(o, 11, 2.0)),
    "one_cycle": ({"max_lr": 0.5, "total_steps": EPOCHS, "pct_start": 0.3, "div_factor": 25.0,
                   "final_div_factor": 1e4},
                  lambda o: optim.OneCycleLR(o, 0.5, total_steps=EPOCHS, cycle_momentum=False)),
}


def test_every_schedule_spec_has_a_case():
    assert sorted(CASES) == sorted(s.name for s in SS.SCHEDULE_SPECS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_runtime_follows_the_closed_form(name):
    """η(t) of the spec, evaluated exactly (rationals; cos/π at 40 digits),
    is what the runtime scheduler sets, epoch by epoch."""
    from symdl import specs as S

    spec = S.get(name)
    hyper, make = CASES[name]
    sub = {SS.eta_0: sp.Rational(LR)}
    sub.update({sym: sp.Rational(hyper[n]) for n, sym in spec.symbols().items()})
    expr = spec.expr.xreplace(sub)
    want = [float(expr.xreplace({SS.t: i}).evalf(40)) for i in range(EPOCHS)]
    got = _traj(make(_opt()), EPOCHS - 1)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_latex_prints_a_schedule(capsys):
    from symdl.cli import main

    assert main(["latex", "cosine_annealing"]) == 0
    assert r"\cos{\left(\frac{\pi t}{T_{max}}" in capsys.readouterr().out


# ----------------------------------------------------------------------------- torch
def _torch_traj(torch, make, n=EPOCHS, metrics=None, momentum=False):
    p = torch.zeros(3, requires_grad=True)
    opt = torch.optim.SGD([p], lr=LR, momentum=0.9)
    sched = make(torch.optim.lr_scheduler, opt)
    out, moms = [opt.param_groups[0]["lr"]], [opt.param_groups[0]["momentum"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(n):
            opt.step()
            sched.step(metrics[i]) if metrics is not None else sched.step()
            out.append(opt.param_groups[0]["lr"])
            moms.append(opt.param_groups[0]["momentum"])
    return (np.array(out), np.array(moms)) if momentum else np.array(out)


TORCH = {
    "ConstantLR": (lambda L, o: L.ConstantLR(o, factor=0.3, total_iters=6),
                   lambda o: optim.ConstantLR(o, factor=0.3, total_iters=6)),
    "PolynomialLR": (lambda L, o: L.PolynomialLR(o, total_iters=15, power=1.7),
                     lambda o: optim.PolynomialLR(o, total_iters=15, power=1.7)),
    "SequentialLR": (lambda L, o: L.SequentialLR(o, [L.LinearLR(o, 0.1, 1.0, 5), L.CosineAnnealingLR(o, 20)],
                                                 milestones=[5]),
                     lambda o: optim.SequentialLR(o, [optim.LinearLR(o, 0.1, 1.0, 5),
                                                      optim.CosineAnnealingLR(o, 20)], milestones=[5])),
    "SequentialLR3": (lambda L, o: L.SequentialLR(o, [L.ConstantLR(o, 0.5, 4), L.ExponentialLR(o, 0.9),
                                                      L.StepLR(o, 3, 0.5)], milestones=[4, 15]),
                      lambda o: optim.SequentialLR(o, [optim.ConstantLR(o, 0.5, 4), optim.ExponentialLR(o, 0.9),
                                                       optim.StepLR(o, 3, 0.5)], milestones=[4, 15])),
    "CyclicLR_exp_range": (lambda L, o: L.CyclicLR(o, 0.01, 0.2, 4, mode="exp_range", gamma=0.95,
                                                   cycle_momentum=False),
                           lambda o: optim.CyclicLR(o, 0.01, 0.2, 4, mode="exp_range", gamma=0.95)),
    "OneCycleLR_linear_3phase": (lambda L, o: L.OneCycleLR(o, 0.4, total_steps=EPOCHS, anneal_strategy="linear",
                                                           three_phase=True, cycle_momentum=False),
                                 lambda o: optim.OneCycleLR(o, 0.4, total_steps=EPOCHS, anneal_strategy="linear",
                                                            three_phase=True, cycle_momentum=False)),
}


@pytest.mark.parametrize("case", sorted(TORCH))
def test_torch_trajectories(case):
    torch = pytest.importorskip("torch")
    tmake, make = TORCH[case]
    np.testing.assert_allclose(_traj(make(_opt())), _torch_traj(torch, tmake), rtol=1e-10, atol=1e-14)


def test_one_cycle_cycles_momentum_like_torch():
    torch = pytest.importorskip("torch")
    want_lr, want_m = _torch_traj(torch, lambda L, o: L.OneCycleLR(o, 0.3, epochs=4, steps_per_epoch=10),
                                  momentum=True)
    s = optim.OneCycleLR(_opt(), 0.3, epochs=4, steps_per_epoch=10)
    lrs, ms = [s.optimizer.param_groups[0]["lr"]], [s.optimizer.param_groups[0]["momentum"]]
    for _ in range(EPOCHS):
        s.step()
        lrs.append(s.optimizer.param_groups[0]["lr"])
        ms.append(s.optimizer.param_groups[0]["momentum"])
    np.testing.assert_allclose(lrs, want_lr, rtol=1e-10)
    np.testing.assert_allclose(ms, want_m, rtol=1e-10)
    with pytest.raises(Exception, match="total_steps"):
        s.step()


@pytest.mark.parametrize("kw", [{}, {"mode": "max", "threshold_mode": "abs", "threshold": 0.05,
                                     "cooldown": 2, "min_lr": 0.004, "patience": 1, "factor": 0.5}])
def test_reduce_on_plateau_like_torch(kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    metrics = list(np.round(np.cumsum(rng.normal(size=EPOCHS)) * 4) / 4)
    kw = dict(kw, patience=kw.get("patience", 3))
    want = _torch_traj(torch, lambda L, o: L.ReduceLROnPlateau(o, **kw), metrics=metrics)
    np.testing.assert_allclose(_traj(optim.ReduceLROnPlateau(_opt(), **kw), metrics=metrics), want,
                               rtol=1e-10)


# ----------------------------------------------------------------------------- fit and the CLI
def test_fit_takes_a_scheduler_factory_and_the_cli_builds_warmup_cosine():
    from symdl import nn
    from symdl.cli import build_parser
    from symdl.train import schedule_factory

    args = build_parser().parse_args(["train", "--schedule", "cosine", "--warmup", "5"])
    assert (args.schedule, args.warmup) == ("cosine", 5)
    build = schedule_factory("cosine", 5, 20)
    s = build(_opt())
    lrs = _traj(s, 19)
    np.testing.assert_allclose(lrs[:6], LR * np.array([0.1, 0.28, 0.46, 0.64, 0.82, 1.0]), rtol=1e-12)
    assert lrs[-1] < lrs[6] < lrs[5]
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 2)), rng.normal(size=(16, 1))
    nn.manual_seed(0)
    m = nn.Sequential(nn.Linear(2, 1, dtype=np.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = m.fit(X, y, loss="mse_loss", optimizer="sgd", lr=LR, epochs=3, metrics=(), verbose=0,
                  scheduler=schedule_factory("plateau", 0, 3))
    assert isinstance(h.optimizer, optim.SGD)
    with pytest.raises(Exception, match="warmup"):
        schedule_factory("cosine", 20, 20)
