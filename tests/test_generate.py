"""symdl generate: staleness check, diffs, atomic writes, user specs."""
import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symdl
import symdl.specs as S
from symdl.codegen import generate as G
from symdl.codegen.header import read_header

GEN = G.generated_dir()


def _check_in_a_fresh_interpreter(*flags):
    """``symdl generate --check`` as CI and users run it: in a new process.
    (In a long-lived test process, SymPy's global caches filled by earlier
    tests can make the derivative specs of activations_d2 come out in a
    different, equivalent form: a different spec hash.)"""
    return subprocess.run([sys.executable, "-m", "symdl", "generate", "--check", *flags],
                          capture_output=True, text=True, timeout=600)


def test_check_passes_on_a_clean_checkout():
    r = _check_in_a_fresh_interpreter()
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "STALE" not in r.stdout


#: one spec per template (activations, reductions, optimizers, normalization,
#: cells, regularizers): rendering them in full exercises every renderer
ONE_PER_TEMPLATE = ("gelu", "huber_loss", "softmax", "adam", "batch_norm", "lstm_cell", "l2")


def test_full_render_of_one_spec_per_template_matches_the_committed_files():
    """The renderers themselves (not only the spec and generator hashes)
    reproduce the committed text, one spec per template; the whole catalog
    (a minute of CPU) is the slow test below and CI's ``generate --check``."""
    r = _check_in_a_fresh_interpreter("--full", *ONE_PER_TEMPLATE)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    rendered = [ln for ln in r.stdout.splitlines() if ln.startswith("ok ")]
    assert len(rendered) >= len(ONE_PER_TEMPLATE), r.stdout


@pytest.mark.slow
def test_full_check_renders_exactly_the_committed_files():
    r = _check_in_a_fresh_interpreter("--full")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]


def test_header_names_generator_specs_and_sympy():
    text = (GEN / "activations" / "gelu.py").read_text()
    assert "DO NOT EDIT" in text.splitlines()[0]
    meta = read_header(text)
    assert meta["sympy"] == sp.__version__
    assert meta["specs"]["gelu"] == S.get("gelu").content_hash()
    assert len(meta["specs"]) == 1                   # one module per spec


def _copy(tmp_path):
    out = tmp_path / "gen"
    (out / "activations").mkdir(parents=True)
    shutil.copy(GEN / ELU, out / ELU)
    return out


ELU = "activations/elu.py"


def _elu_target(specs):
    from symdl.codegen.render import activation_targets

    return [t for t in activation_targets(specs) if t.filename == ELU]


def test_editing_a_spec_makes_the_check_fail(tmp_path, capsys):
    out = _copy(tmp_path)
    specs = list(S.all_specs("activation"))
    i = [s.name for s in specs].index("elu")
    x = S.x
    alpha = specs[i].param("alpha").symbol
    specs[i] = dataclasses.replace(specs[i], expr=sp.Piecewise((x, x > 0), (2 * alpha * (sp.exp(x) - 1), True)))
    rc = G.run(check=True, out_dir=out, targets=_elu_target(specs))
    text = capsys.readouterr().out
    assert rc == 1
    assert "STALE" in text and "symdl generate" in text
    assert text.count("\n-") > 0 and "elu" in text  # a unified diff of the change
    assert (out / ELU).read_text() == (GEN / ELU).read_text()  # check writes nothing


def test_a_hand_edit_is_detected(tmp_path, capsys):
    out = _copy(tmp_path)
    f = out / ELU
    f.write_text(f.read_text().replace("out[i] = y_", "out[i] = -y_", 1))
    rc = G.run(check=True, out_dir=out, targets=_elu_target(S.all_specs("activation")))
    assert rc == 1
    assert "-y_" in capsys.readouterr().out


def test_changing_the_elementary_code_makes_its_users_stale(tmp_path, monkeypatch):
    """Kernels inline the elementary functions: new elementary code must
    re-render (and so re-stamp, for Numba's cache) the modules that use it."""
    out = _copy(tmp_path)
    (target,) = _elu_target(S.all_specs("activation"))
    assert G.up_to_date(out / ELU, target)
    from symdl.codegen import targets as T

    src = G.elementary_source()
    monkeypatch.setitem(T._memo, "src", src.replace("always_inline()", "always_inline()  # changed", 1))
    monkeypatch.delitem(T._memo, "avail", raising=False)
    assert not G.up_to_date(out / ELU, target)


def test_atomic_write_leaves_the_old_file_on_failure(tmp_path, monkeypatch):
    f = tmp_path / "a.py"
    f.write_text("old\n")

    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        G.atomic_write(f, "new\n" * 1000)
    assert f.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.py"]


def test_atomic_write_keeps_a_readable_mode(tmp_path):
    """mkstemp creates 0o600 files; generated modules must stay readable
    (the old file's mode, or 0o666 minus the umask for a new one)."""
    new = tmp_path / "new.py"
    G.atomic_write(new, "x = 1\n")
    umask = os.umask(0)
    os.umask(umask)
    assert new.stat().st_mode & 0o777 == 0o666 & ~umask
    old = tmp_path / "old.py"
    old.write_text("x = 0\n")
    old.chmod(0o640)
    G.atomic_write(old, "x = 2\n")
    assert old.stat().st_mode & 0o777 == 0o640 and old.read_text() == "x = 2\n"


USER_SPECS = '''
import sympy as sp
from symdl.specs import Activation, Param, x
from symdl.specs.functions import sigmoid

k = sp.Symbol("k", positive=True)
SPECS = [
    Activation("scaled_silu", x / (1 + sp.exp(-k * x)), stable=x * sigmoid(k * x),
               params=(Param("k", 2.0, positive=True),), doc="x·σ(kx)"),
    Activation("cube_tanh", sp.tanh(x) ** 3, doc="tanh(x)^3"),
]
'''


def _symdl(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "symdl", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_user_spec_file_renders_importable_checked_kernels(tmp_path):
    spec_file = tmp_path / "my_specs.py"
    spec_file.write_text(USER_SPECS)
    out = tmp_path / "kernels"
    r = _symdl("generate", "--spec-file", str(spec_file), "--out", str(out))
    assert r.returncode == 0, r.stderr
    r = _symdl("generate", "--check", "--spec-file", str(spec_file), "--out", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    lib = symdl.load_kernels(out)
    assert sorted(lib.names()) == ["cube_tanh", "scaled_silu"]
    from symdl.codegen.generate import load_spec_file
    from symdl.testing import check_activation
    for spec in load_spec_file(spec_file):
        for params in ({}, {"k": 0.5} if spec.params else {}):
            reports = check_activation(spec, lib.kernel(spec.name, **params), params=params)
            assert not [r for r in reports if r.failures], [str(r) for r in reports]
    with pytest.raises(symdl.UnknownNameError, match="cube_tanh"):
        lib.kernel("cube_tahn")
    assert (out / "scaled_silu.py").exists() and (out / "cube_tanh.py").exists()   # one module each
    lib.unload()


def test_bad_spec_file_gives_a_clear_error(tmp_path):
    f = tmp_path / "empty.py"
    f.write_text("x = 1\n")
    r = _symdl("generate", "--spec-file", str(f), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "defines no spec" in r.stderr and "symdl.specs.Activation" in r.stderr
    r = _symdl("generate", "--spec-file", str(tmp_path / "missing.py"), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = _symdl("generate", "--spec-file", str(f))
    assert r.returncode == 2 and "--out" in r.stderr


def test_generate_rejects_unknown_names():
    r = _symdl("generate", "--check", "gelux")
    assert r.returncode == 2 and "gelu" in r.stderr


def test_kernels_run_without_jit_for_coverage():
    """Every generated kernel (serial, float64) once as plain Python, against
    the compiled result."""
    code = r'''
import importlib, json, numpy as np
from symdl.generated.registry import KERNELS
x = np.array([-800., -3., -1.5, -0.25, -1e-9, 0., 1e-9, 0.3, 1., 2.5, 6., 30., np.inf, -np.inf, np.nan])
g = np.linspace(0.5, 1.5, x.size)
res = {}
for name, (family, module) in KERNELS.items():
    if family != "activation":
        continue
    A = importlib.import_module(module)
    meta = A.SPECS[name]
    for variant, key in meta["variants"]:
        scal = [p["default"] for p in meta["params"] if p["kind"] == "real" and not p["learnable"]]
        learn = [np.array([p["default"]]) for p in meta["params"] if p["learnable"]]
        noise = [np.full(x.size, 0.2)] if meta["noise"] else []
        fwd = getattr(A, key + "_forward_f64")
        bwd = getattr(A, key + "_forward_backward_f64")
        y, dx = np.empty_like(x), np.empty_like(x)
        if learn:
            fwd(x, *noise, *scal, *learn, 4, y)
            y2 = np.empty_like(x); part = np.zeros((len(learn), x.size))
            bwd(x, *noise, g, *scal, *learn, 4, y2, dx, part)
        else:
            fwd(x, *noise, *scal, y)
            y2 = np.empty_like(x)
            bwd(x, *noise, g, *scal, y2, dx)
        res[key] = [y.tolist(), dx.tolist()]
print(json.dumps(res))
'''
    import json
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    nojit = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert nojit.returncode == 0, nojit.stderr[-3000:]
    jit = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert jit.returncode == 0, jit.stderr[-3000:]
    a, b = json.loads(nojit.stdout), json.loads(jit.stdout)
    assert a.keys() == b.keys() and len(a) >= 40
    for key in a:
        np.testing.assert_allclose(np.array(a[key], float), np.array(b[key], float), rtol=1e-13, atol=1e-300,
                                   err_msg=key)
