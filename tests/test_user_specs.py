"""Your own specs, end to end (``symdl generate --spec-file FILE --out DIR``):
an activation with a learnable parameter, an elementwise loss and an
optimizer rule, from examples/researcher/my_specs.py -- generated, checked
against mpmath, printed in LaTeX, verified, trained with, saved and loaded;
in fresh processes with different hash seeds; and a contributor's new spec
run through the catalog's table-driven tests without editing any test."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symdl
import symdl.nn as nn
import symdl.specs
import symdl.testing
from symdl.cli import main
from symdl.codegen.user_specs import SpecError, ensure_generated, load_spec_file

from reduction_truth import compare, exact, mp_eval

ROOT = Path(__file__).resolve().parents[1]
SPEC_FILE = ROOT / "examples" / "researcher" / "my_specs.py"
EXAMPLE = ROOT / "examples" / "researcher" / "train_digits.py"
SPECS = {s.name: s for s in load_spec_file(SPEC_FILE)}


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    """The example's kernels, generated once for this module (each spec its own module)."""
    out = tmp_path_factory.mktemp("researcher") / "kernels"
    ensure_generated(SPEC_FILE, out, quiet=True)
    return out


@pytest.fixture
def lib(kernels):
    lib = symdl.load_kernels(kernels)
    yield lib
    for name in lib.names():     # symdl.names() is the catalog's again for the next tests
        loaded = symdl.registry.user_library(name)
        if loaded is not None:
            loaded.unload()


def _run(code_or_args, seed, cwd, timeout=300):
    env = dict(os.environ, PYTHONHASHSEED=str(seed))
    args = code_or_args if isinstance(code_or_args, list) else ["-c", code_or_args]
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env,
                       timeout=timeout)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


# ----------------------------------------------------------------------------- two fresh processes
def test_load_kernels_in_two_fresh_processes_with_different_hash_seeds(kernels, tmp_path):
    """The module names are stable: the second process loads what Numba cached
    in the first (hash() named them differently per process before) and the
    model the first saved, from the kernel library it recorded."""
    code = textwrap.dedent(f"""
        import sys, numpy as np, symdl, symdl.nn as nn
        lib = symdl.load_kernels({str(kernels)!r})
        x = np.linspace(-3, 3, 24).reshape(4, 6)
        y = lib.kernel("smelu", beta=np.full(6, 0.7)).forward_backward(x, np.ones_like(x))
        l = symdl.kernel("log_cosh_loss").forward_backward(x, np.zeros_like(x))
        p = np.ones(5); opt = symdl.optim.from_rule("centered_adam", [p], lr=0.1)
        opt.step([np.arange(5.0)]); opt.step([np.arange(5.0) - 2])
        out = [y[0], y[1], y[2], np.array(l[0]), l[1], p]
        mods = sorted(m for m in sys.modules if m.startswith("symdl_user_"))
        if sys.argv[1] == "first":
            np.savez({str(tmp_path / "first.npz")!r}, *out)
            nn.manual_seed(0)
            m = nn.Sequential(nn.Linear(6, 6), nn.Activation("smelu", num_parameters=6))
            m.save({str(tmp_path / "model.npz")!r}); np.save({str(tmp_path / "pred.npy")!r}, m.forward(x))
        else:
            ref = np.load({str(tmp_path / "first.npz")!r})
            assert all(np.array_equal(a, ref[f"arr_{{i}}"]) for i, a in enumerate(out))
            lib.unload()     # nn.load finds the library from the saved record
            m = nn.load({str(tmp_path / "model.npz")!r})
            assert np.array_equal(m.forward(x), np.load({str(tmp_path / "pred.npy")!r}))
        print(" ".join(mods))
    """)
    (tmp_path / "run.py").write_text(code)
    first = _run([str(tmp_path / "run.py"), "first"], 1, tmp_path)
    second = _run([str(tmp_path / "run.py"), "second"], 2, tmp_path)
    assert first == second and first.count("symdl_user_") == 3


def test_researcher_example_in_two_fresh_processes(kernels, tmp_path):
    """examples/researcher: generated, checked, printed in LaTeX and trained on
    digits with the user's activation, loss and rule; the same in a second
    process with another hash seed (Numba's cache from the first)."""
    args = [str(EXAMPLE), "--kernels", str(kernels), "--epochs", "3", "--hidden", "32", "--quiet-latex"]
    outs = [_run(args, seed, tmp_path) for seed in (3, 4)]
    for out in outs:
        for name in SPECS:
            assert f"symdl {'optimizer rule' if name == 'centered_adam' else 'derivation of'} {name}" in out
        assert out.count(r"\text{definition:}") == 2 and r"\text{update (in order):}" in out
        assert re.search(r"smelu: \d+ kernel checks against mpmath passed", out)
        assert "saved and loaded back: same predictions" in out
        acc = float(re.search(r"test accuracy ([0-9.]+)", out).group(1))
        assert acc >= 0.9, out
    line = [re.search(r"trained .*", o).group(0) for o in outs]
    assert line[0] == line[1]     # the same training run in both processes


# ----------------------------------------------------------------------------- against mpmath
def test_activation_kernels_against_mpmath(lib):
    spec = SPECS["smelu"]
    for params in ({}, {"beta": 0.3}):
        reports = symdl.testing.check_activation(spec, lib.kernel("smelu", **params), None, params)
        assert len(reports) > 4
        reports.assert_ok()


def test_learnable_gradient_against_finite_differences(lib):
    rng = np.random.default_rng(0)
    x, g, h = rng.normal(0, 2, (64, 3)), rng.normal(size=(64, 3)), 1e-6
    beta = np.array([0.4, 1.0, 2.5])
    _, dbeta = lib.kernel("smelu", beta=beta).backward(x, g)
    fd = [np.sum(g * (lib.kernel("smelu", beta=beta + h * e).forward(x)
                      - lib.kernel("smelu", beta=beta - h * e).forward(x))) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(dbeta, fd, rtol=1e-7)
    assert nn.gradcheck(nn.Activation("smelu", num_parameters=3, dtype=np.float64), x).ok


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loss_against_mpmath(lib, reduction, dtype):
    """Value and gradient of the user loss against its *definition*
    log(cosh(x - y)) at 60 digits (the kernels use the declared stable form)."""
    from symdl.specs import x as X, y as Y

    term = SPECS["log_cosh_loss"].term
    vals = np.array([-800.0, -3.0, -1.0, -0.999, -1e-5, -1e-8, 0.0, 1e-3, 0.7, 1.0, 2.5, 30.0, 711.0])
    x = np.concatenate([vals, np.random.default_rng(1).normal(0, 4, 11)]).astype(dtype).reshape(4, 6)
    y = np.random.default_rng(2).normal(0, 0.5, (4, 6)).astype(dtype)
    y[0, :3] = 0
    truth_t, truth_d = [], []
    for xi, yi in zip(x.ravel(), y.ravel()):
        t, d = mp_eval([term, sp.diff(term, X)], {X: exact(xi), Y: exact(yi)})
        truth_t.append(t)
        truth_d.append(d)
    n = x.size
    val, grad = lib.kernel("log_cosh_loss", reduction=reduction).forward_backward(x, y)
    if reduction == "none":
        want, dwant = truth_t, truth_d
    else:
        total = sum(truth_t)
        want = [total / n if reduction == "mean" else total]
        dwant = [d / n if reduction == "mean" else d for d in truth_d]
    fails = compare(val, want, dtype, "value")[0] + compare(grad, dwant, dtype, "grad")[0]
    assert not fails, fails[:5]


@pytest.mark.parametrize("options", [{}, {"weight_decay": 0.1, "maximize": True}])
def test_rule_follows_its_equations(lib, options):
    """from_rule runs the rule's fused kernel: the same trajectory as its
    SymPy equations evaluated on exact inputs (60 digits after each step)."""
    from symdl.derive.optimizers import unroll
    from symdl.specs import theta

    rule = SPECS["centered_adam"]
    rng = np.random.default_rng(5)
    p0 = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(5)]
    p = p0.copy()
    opt = symdl.optim.from_rule(rule, [p], lr=0.01, **options)   # by its spec
    got = []
    for gr in grads:
        opt.step([gr.copy()])
        got.append(p.copy())
    variant = {"has_weight_decay": bool(options), "maximize": bool(options)}
    hyper = {hp.symbol: sp.Rational(float(opt.param_groups[0][hp.name])) for hp in rule.hyper}
    truth = np.empty((5, 3, 4))
    for idx in np.ndindex(3, 4):
        hist = unroll(rule, variant, steps=5, hyper=hyper, init={theta: sp.Rational(float(p0[idx]))},
                      grads=[sp.Rational(float(gr[idx])) for gr in grads], digits=60)
        for k in range(5):
            truth[(k,) + idx] = float(hist[k + 1][theta])
    rel = np.max(np.abs(np.array(got) - truth) / np.maximum(np.abs(truth), np.abs(p0)))
    assert rel <= 1e-14, rel


def test_from_rule_errors(lib):
    p = np.zeros(3)
    with pytest.raises(symdl.ParameterError, match="betas.*beta1"):
        symdl.optim.from_rule("centered_adam", [p], betas=(0.9, 0.99))
    with pytest.raises(symdl.UnknownNameError, match="centered_adam"):
        symdl.optim.from_rule("centred_adam", [p])
    with pytest.raises(symdl.ParameterError, match="not an optimizer rule"):
        symdl.optim.from_rule("smelu", [p])
    with pytest.raises(symdl.ParameterError, match="from_rule"):
        lib.kernel("centered_adam")
    # a catalog rule by the same route, with its spec names
    q = np.ones(3)
    symdl.optim.from_rule("adam", [q], lr=0.1, beta1=0.5).step([np.ones(3)])
    np.testing.assert_allclose(q, 0.9)


# ----------------------------------------------------------------------------- layers, save, fit
def test_activation_layer_by_bundle_name_and_directory(lib, kernels, tmp_path):
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    by_bundle = nn.Activation(lib.kernel("smelu", beta=np.full(4, 0.5)))
    by_name = nn.Activation("smelu", num_parameters=4, beta=0.5)
    np.testing.assert_array_equal(by_bundle.forward(x), by_name.forward(x))
    assert list(by_bundle.params["beta"]) == [0.5] * 4
    lib.unload()
    with pytest.raises(symdl.UnknownNameError, match="smelu"):
        nn.Activation("smelu")
    layer = nn.Activation("smelu", kernels=kernels)
    model = nn.Sequential(nn.Linear(4, 4), layer)
    model.save(tmp_path / "m.npz")
    assert model.config()["layers"][1]["config"]["kernels"] == {
        "path": str(Path(kernels).resolve()), "spec_file": str(SPEC_FILE)}
    assert np.array_equal(nn.load(tmp_path / "m.npz").forward(x), model.forward(x))


def test_saved_model_says_where_its_missing_kernels_come_from(kernels, tmp_path):
    import shutil

    out = tmp_path / "k"
    shutil.copytree(kernels, out)
    lib = symdl.load_kernels(out)
    nn.Sequential(nn.Linear(3, 3), nn.Activation("smelu")).save(tmp_path / "m.npz")
    lib.unload()
    shutil.rmtree(out)
    with pytest.raises(FileNotFoundError) as e:
        nn.load(tmp_path / "m.npz")
    msg = str(e.value)
    assert "'smelu'" in msg and str(out) in msg and f"symdl generate --spec-file {SPEC_FILE} --out {out}" in msg


def test_fusion_follows_the_spec():
    from symdl.codegen.render import piecewise_polynomial
    from symdl.registry import metadata

    for spec in symdl.specs.all_specs("activation"):
        assert metadata(spec.name)[0]["piecewise_polynomial"] == piecewise_polynomial(spec)
    assert not nn.Activation("relu")._fuse and not nn.Activation("hardswish")._fuse
    assert nn.Activation("gelu")._fuse and nn.Activation("softsign")._fuse


def test_fit_and_symdl_train_with_user_specs(lib, kernels, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5)).astype(np.float32)
    Y = np.tanh(X @ rng.normal(size=(5, 2))).astype(np.float32)
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Activation("smelu", num_parameters=8), nn.Linear(8, 2))
    hist = model.fit(X, Y, loss=SPECS["log_cosh_loss"], optimizer=SPECS["centered_adam"], lr=0.01,
                     epochs=3, batch_size=16, verbose=0)
    assert hist["loss"][-1] < hist["loss"][0]
    assert main(["train", "--spec-file", str(SPEC_FILE), "--kernels", str(kernels), "--activation", "smelu",
                 "--optimizer", "centered_adam", "--loss", "log_cosh_loss", "--epochs", "1",
                 "--hidden", "16", "--no-save", "-q"]) == 0
    assert "test accuracy" in capsys.readouterr().out


# ----------------------------------------------------------------------------- LaTeX, verify, errors
def test_latex_of_each_family(capsys):
    for name, marker in (("smelu", r"\text{learnable:}"), ("log_cosh_loss", r"\text{gradient"),
                         ("centered_adam", r"\text{update (in order):}")):
        assert main(["latex", name, "--spec-file", str(SPEC_FILE)]) == 0
        assert marker in capsys.readouterr().out


def test_verify_user_spec_reports_only_true_kinks(tmp_path, capsys):
    f = tmp_path / "s.py"
    f.write_text(textwrap.dedent("""
        import sympy as sp
        from symdl.specs import Activation, x
        SPECS = [Activation("sparse_plus", sp.Piecewise((0, x <= -1), ((x + 1)**2 / 4, x < 1), (x, True))),
                 Activation("my_relu", sp.Piecewise((x, x > 0), (0, True)), kinks=(0,),
                            kink_derivative={0: 0})]
    """))
    # (cases must not overlap with different values: -1 < x < 1, not x < 1 after x <= -1)
    d = r"\begin{cases} 0 & x \le -1 \\ (x+1)/2 & -1 < x < 1 \\ 1 & x \ge 1\end{cases}"
    assert main(["verify", "--spec", "sparse_plus", "--spec-file", str(f), "--derivative", d]) == 0
    out = capsys.readouterr().out
    assert "holds" in out and "non-differentiable" not in out     # C1 joins at +-1: no kink
    d = r"\begin{cases} 0 & x < 0 \\ 1 & \text{otherwise}\end{cases}"
    assert main(["verify", "--spec", "my_relu", "--spec-file", str(f), "--derivative", d]) == 0
    assert "x = 0 (non-differentiable point)" in capsys.readouterr().out
    # a user's loss and rule too (tests/verify/test_families.py has the claim table)
    assert main(["verify", "--spec", "log_cosh_loss", "--spec-file", str(SPEC_FILE), "--derivative", "x"]) == 1
    assert "refuted" in capsys.readouterr().out
    assert main(["verify", "--spec", "log_cosh_loss", "--spec-file", str(SPEC_FILE), "--derivative",
                 r"\tanh(x - y)"]) == 0


@pytest.mark.parametrize("body,match", [
    ('Activation("my_act", x * gamma)', r"spec 'my_act': the formula uses 'gamma', which is not x nor a parameter"),
    ('Activation("my_act", sp.Max(x, 0))', r"spec 'my_act': Max\(...\) \(Max\(0, x\)\).*write it as a Piecewise"),
    ('Activation("relu", x)', r"spec 'relu': 'relu' is the name of a catalog spec"),
    ('Activation("my_act", x * sp.Symbol("k"), params=(Param("k", 1.0, positive=True),))',
     r"spec 'my_act': the symbol 'k' is declared but used with other assumptions"),
    ('elementwise_loss("my_loss", (x - y) ** 2 * w)', r"spec 'my_loss': the formula uses 'w'"),
    ('OptimizerRule("my_rule", hyper=(hyper("lr", 0.1),), equations=lambda v: [(theta, theta - lr2 * g)])',
     r"spec 'my_rule': the formula uses 'lr2'"),
])
def test_spec_mistakes_are_one_line_errors_at_generate_time(tmp_path, capsys, body, match):
    f = tmp_path / "bad.py"
    f.write_text("import sympy as sp\nfrom symdl.specs import *\nfrom symdl.specs import Param, x, y\n"
                 "gamma, w, lr2 = sp.symbols('gamma w lr2', real=True)\n"
                 f"SPECS = [{body}]\n")
    with pytest.raises(SpecError, match=match):
        load_spec_file(f)
    assert main(["generate", "--spec-file", str(f), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and re.search(match, err) and not (tmp_path / "out").exists()


def test_module_names_are_stable(tmp_path):
    from symdl.registry import module_name

    a = module_name(tmp_path / "k" / "smelu.py")
    assert a == module_name(tmp_path / "k" / ".." / "k" / "smelu.py") and a.endswith("_smelu")
    assert a != module_name(tmp_path / "other" / "smelu.py")


# ----------------------------------------------------------------------------- a contributor's spec
NEW_SPEC = '''
import sympy as sp
from symdl.specs import Activation, Param, x
W = Param("width", 1.0, learnable=True, positive=True)
SPECS = [Activation("smooth_relu_contrib",
                    sp.Piecewise((0, x <= -W.symbol), ((x + W.symbol) ** 2 / (4 * W.symbol), x < W.symbol),
                                 (x, True)), params=(W,), test_params=({"width": 0.25},))]
'''


def test_contributor_adds_a_spec_and_the_table_driven_tests_cover_it(tmp_path):
    """A new spec on a copy of the catalog (tests/catalog_overlay.py adds it
    to this process's spec lists and kernel tables): the table-driven tests
    run it -- mpmath checks, learnable gradients, gradcheck, names, counts --
    with no test edited."""
    f = tmp_path / "new_spec.py"
    f.write_text(NEW_SPEC)
    out = ensure_generated(f, tmp_path / "kernels", quiet=True)
    env = dict(os.environ, SYMDL_OVERLAY_SPEC_FILE=str(f), SYMDL_OVERLAY_KERNELS=str(out),
               PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]))
    sel = ("smooth_relu_contrib or test_names_lists_every_activation or test_list_json_and_family")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
                        "-p", "catalog_overlay", "tests/test_activations.py", "tests/test_runtime.py",
                        "tests/test_nn.py", "tests/test_cli.py", "-k", sel, "-rA"],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    passed = [ln for ln in r.stdout.splitlines() if ln.startswith("PASSED")]
    ran = "\n".join(passed)
    for test in ("test_activations.py::test_against_mpmath[smooth_relu_contrib]",
                 "test_activations.py::test_against_mpmath[smooth_relu_contrib[width=0.25]]",
                 "test_learnable_gradient_against_finite_differences[smooth_relu_contrib-width=1.0]",
                 "test_layer_backward_matches_gradcheck[smooth_relu_contrib]",
                 "test_names_lists_every_activation"):
        assert test in ran, ran


def test_public_checks_on_the_users_loss_and_rule(lib):
    """The researcher's checks through symdl.testing's public API (issue 14
    item 4): check_loss on every reduction and kernel kind of the user loss,
    check_optimizer on every variant of the user rule, each assert_ok()."""
    res = symdl.testing.check_loss(SPECS["log_cosh_loss"], lib.kernel("log_cosh_loss"))
    assert len(res) > 0
    res.assert_ok()
    res = symdl.testing.check_optimizer(SPECS["centered_adam"], module=lib.module("centered_adam"))
    assert len(res) > 0
    res.assert_ok()
