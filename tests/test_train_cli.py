"""`symdl train` and `fit` as a careless user meets them: every silently wrong
result of the audit (issue 18) is a correct result or a clear error now."""
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import symdl.nn as nn
from symdl.cli import main
from symdl.train import DivergenceWarning, History


def _run(*args):
    env = dict(os.environ, COLUMNS="0", LINES="0")
    return subprocess.run([sys.executable, "-m", "symdl", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_version_and_help_defaults():
    r = _run("--version")
    assert r.returncode == 0 and r.stdout.startswith("symdl ")
    h = _run("train", "--help").stdout
    for default in ("(default: 128,64)", "(default: gelu)", "(default: adam)", "(default: 0.2)",
                    "(default: 32)", "(default: float32)", "(default: digits)"):
        assert default in " ".join(h.split()), default


def test_list_into_a_closed_pipe_has_no_traceback():
    p = subprocess.Popen([sys.executable, "-m", "symdl", "list", "--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdout.read(5)
    p.stdout.close()
    err = p.stderr.read().decode()
    p.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err


@pytest.mark.parametrize("argv, msg", [
    (["--resume"], "--resume needs --checkpoint"),
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--optimizer", "Adamm"], "did you mean 'adam'"),
    (["--csv", "/nonexistent/x.csv", "--optimizer", "nope"], "unknown optimizer 'nope'"),
])
def test_bad_flags_fail_before_loading_data(argv, msg, capsys):
    assert main(["train", "--quiet", "--no-save", *argv]) == 2
    assert msg in capsys.readouterr().err


def test_one_class_is_an_error(tmp_path, capsys):
    p = tmp_path / "one.csv"
    p.write_text("a,b,y\n" + "".join(f"{i},{i * 2},7\n" for i in range(20)))
    assert main(["train", "--csv", str(p), "--quiet", "--no-save"]) == 2
    assert "one class only" in capsys.readouterr().err
    X = np.random.default_rng(0).normal(size=(20, 2))
    model = nn.Sequential(nn.Linear(2, 2))
    with pytest.warns(UserWarning, match="one class only"):
        model.fit(X, np.zeros(20, np.int64), epochs=1, verbose=0)


def test_two_rows_two_classes_never_report_an_empty_test(tmp_path, capsys):
    p = tmp_path / "tiny.csv"
    p.write_text("a,y\n1,0\n2,1\n")
    assert main(["train", "--csv", str(p), "--quiet", "--no-save", "--epochs", "1",
                 "--hidden", "2"]) == 0
    out = capsys.readouterr().out
    assert "(1 test rows" in out and "(0 test rows" not in out


def test_adam_with_a_huge_learning_rate_warns_of_divergence():
    from symdl.datasets import load_iris, standardize
    X, y = load_iris()
    X, = standardize(X)
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Activation("relu"), nn.Linear(16, 3))
    with pytest.warns(DivergenceWarning, match="training diverged"):
        h = model.fit(X, y, optimizer="adam", lr=1e6, epochs=3, verbose=0, seed=0)
    assert h.diverged
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Activation("relu"), nn.Linear(16, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        h = model.fit(X, y, optimizer="adam", lr=1e-2, epochs=3, verbose=0, seed=0)
    assert not h.diverged


def test_plot_and_history_files(tmp_path):
    pytest.importorskip("matplotlib")
    png, js = tmp_path / "run.png", tmp_path / "run.json"
    r = _run("train", "--dataset", "iris", "--epochs", "4", "--hidden", "8", "--no-save",
             "--plot", str(png), "--history", str(js), "--val-split", "0.2")
    assert r.returncode == 0, r.stderr
    assert "\n\n\n" not in r.stderr             # a zero-size terminal prints no blank bar lines
    data = json.loads(js.read_text())
    assert data["epoch"] == [1, 2, 3, 4] and len(data["history"]["val_loss"]) == 4
    raw = png.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image as mpimg
    img = mpimg.imread(png)
    assert img.shape[0] > 200 and img.shape[1] > 600         # curves and the confusion matrix
    assert img[..., :3].std() > 0.05                          # not a blank picture


def test_history_plot_api(tmp_path):
    pytest.importorskip("matplotlib")
    h = History()
    for e in range(1, 4):
        h.append(e, {"loss": 1.0 / e, "accuracy": 0.5 + 0.1 * e, "val_loss": 1.2 / e})
    fig = h.plot(tmp_path / "h.svg", confusion=[[3, 1], [0, 4]], class_names=["a", "b"])
    assert len(fig.axes) >= 3 and (tmp_path / "h.svg").read_text().startswith("<?xml")


def test_saved_model_predicts_raw_rows_and_symdl_predict(tmp_path):
    from symdl.datasets import load_iris
    d = load_iris()
    header = ",".join(["id", *d.feature_names, "species"])
    rows = [",".join([str(i), *map(str, x.tolist()), d.target_names[c]]) for i, (x, c) in
            enumerate(zip(d.X, d.y))]
    csv_path = tmp_path / "flowers.csv"
    csv_path.write_text(header + "\n" + "\n".join(rows) + "\n")
    model_path = tmp_path / "m.npz"
    r = _run("train", "--csv", str(csv_path), "--target", "species", "--epochs", "60", "--hidden",
             "16", "--out", str(model_path), "-q")
    assert r.returncode == 0, r.stderr
    m = nn.load(model_path)
    assert m.classes == ["setosa", "versicolor", "virginica"]
    assert m.feature_names == ["id", *d.feature_names]            # every non-target column
    assert type(m[0]).__name__ == "Standardize"
    new = tmp_path / "new.csv"                                    # columns in another order
    new.write_text(",".join([*reversed(d.feature_names), "id"]) + "\n" + "\n".join(
        ",".join([*map(str, reversed(x.tolist())), str(i)]) for i, x in enumerate(d.X[:20])) + "\n")
    out = tmp_path / "pred.csv"
    r = _run("predict", str(model_path), "--csv", str(new), "--out", str(out))
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "row,prediction,probability" and len(lines) == 21
    direct = m.predict_labels(np.c_[np.arange(20.0), d.X[:20]])
    assert [ln.split(",")[1] for ln in lines[1:]] == list(direct)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    r = _run("predict", str(model_path), "--csv", str(bad))
    assert r.returncode == 2 and "not in the file" in r.stderr


def test_first_run_says_it_compiles(tmp_path):
    """A cold Numba cache: fit says "compiling kernels (first run only ...)"
    (and how long it took); a warm one says nothing of it."""
    import shutil
    spec = tmp_path / "s.py"
    spec.write_text("import sympy as sp\nfrom symdl.specs import Activation, x\n"
                    "SPECS = [Activation('cube_root_act', x / (1 + x**2) ** sp.Rational(1, 3))]\n")
    from symdl.codegen.user_specs import ensure_generated
    out = ensure_generated(spec, tmp_path / "k", quiet=True)
    code = ("import numpy as np, symdl, symdl.nn as nn\n"
            f"symdl.load_kernels({str(out)!r})\n"
            "X = np.random.default_rng(0).normal(size=(64, 3)); y = (X[:, 0] > 0).astype(int)\n"
            "m = nn.Sequential(nn.Linear(3, 4), nn.Activation('cube_root_act'), nn.Linear(4, 2))\n"
            "m.fit(X, y, epochs=1, verbose=2, optimizer='sgd')\n")
    env = dict(os.environ)
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                           timeout=300) for _ in range(2)]
    assert runs[0].returncode == 0, runs[0].stderr
    assert "compiling kernels (first run only" in runs[0].stderr and "kernels compiled in" in runs[0].stderr
    assert "cube_root_act" in runs[0].stderr
    assert runs[1].returncode == 0 and "cube_root_act" not in runs[1].stderr   # cached now
    shutil.rmtree(tmp_path / "k")
