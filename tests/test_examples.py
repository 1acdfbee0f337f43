"""The worked examples in examples/ reproduce the notes' numbers."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_perceptron_rule_3_point_problem(capsys):
    res = load("perceptron").main()
    assert res["w"].tolist() == [-1.0, -3.0]          # the notes' final weight vector
    assert res["class"] == 1                          # (-2, 0): w.x = 2 >= 0
    out = capsys.readouterr().out
    # the notes' solution table, row by row
    assert "w = (1, -2)" in out and "w = (-1, -3)" in out and out.count("no update") == 4


def test_sigmoid_neuron_one_step(capsys):
    res = load("sigmoid_neuron").main()
    assert res["y_hat"] == pytest.approx(0.731, abs=5e-4)
    assert res["db"] == pytest.approx(res["notes_db"], rel=1e-12)
    assert res["dw"] == 0.0 and res["w"] == 2.0          # x = 0: w does not move
    assert res["loss"] == pytest.approx(0.0158, abs=1e-4)
    assert 0.012 <= res["loss"] <= 0.020               # the notes' accepted range


def test_seed004_mlp_backprop_matches_the_notes_equations(capsys):
    res = load("mlp_backprop").main()
    assert res["dev_loss"] < 1e-12 and res["dev_w"] < 1e-12
    assert res["pred"] == res["true"]
    assert res["loss_last"] < 0.01 * res["loss_first"]


@pytest.mark.parametrize("name", ["perceptron"])
def test_examples_run_as_scripts(name):
    r = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py")], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "class 1" in r.stdout


def test_wgan_gp_generator_walks_to_the_data(capsys):
    """The tiny WGAN-GP (double backward through the critic every critic
    step): the generated mean ends within 0.2 of the data's, from 2.2 away;
    the critic loss stays finite."""
    res = load("wgan_gp").main(verbose=False)
    assert res["gap_first"] > 2.0
    assert res["gap_last"] < 0.2
    assert all(np.isfinite(loss) for loss, _ in res["history"])
